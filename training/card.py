"""The model card: :class:`~rasd.training.card_facts.ModelCardFacts` rendered with a Jinja template.

The facts (what a saved model folder says about its training) are gathered by
:mod:`rasd.training.card_facts`; this module turns them into Markdown. The names of both
are importable from here, the model card's one entry point.

The template is ``model_card.md`` at the repository root, the one copy: the package's
``training/templates/model_card.md`` is a symbolic link to it, so a built wheel carries its
content as package data and :func:`template_path` finds it the same way in a checkout and in
an install.

The YAML front matter is built with :class:`huggingface_hub.ModelCardData`
(``model-index`` from :class:`huggingface_hub.EvalResult`), so the metadata is
valid for the Hub by construction.
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path
from typing import Any

from rasd.training.card_facts import (
    ModelCardFacts,
    facts_from_model_dir,
)

logger = logging.getLogger(__name__)

TEMPLATE_NAME = "model_card.md"
TAGS = ["token-classification", "ner", "arabic", "event-extraction", "conflict", "rasd"]
# Evaluation data: the project's annotated corpus (not a Hub dataset).
EVAL_DATASET_TYPE = "rasd-annotations"
EVAL_DATASET_NAME = "rasd annotated Arabic conflict news"


def eval_results(facts: ModelCardFacts) -> list[Any]:
    """The ``model-index`` entries: entity micro-F1 (exact span, seqeval) and event micro-F1 per split."""
    from huggingface_hub import EvalResult

    results = []
    for m in facts.metrics:
        rows = [
            ("token-classification", "Named entity recognition", "f1", "Entity micro-F1 (exact span)", m.entity_micro.f1),
            ("token-classification", "Named entity recognition", "f1", "Entity micro-F1 (seqeval)", m.entity_seqeval.f1),
            ("text-classification", "Sentence event types", "f1", "Event micro-F1", m.event_micro.f1),
        ]
        for task_type, task_name, metric_type, metric_name, value in rows:
            if value is None:
                continue
            results.append(
                EvalResult(
                    task_type=task_type,
                    task_name=task_name,
                    dataset_type=EVAL_DATASET_TYPE,
                    dataset_name=EVAL_DATASET_NAME,
                    dataset_split=m.split,
                    metric_type=metric_type,
                    metric_name=metric_name,
                    metric_value=round(value, 4),
                )
            )
    return results


def hub_model_id(name: str | None) -> str | None:
    """``name`` when it is a valid ``ORG/NAME`` Hub repo id (not a local path or ``tiny``), else ``None``."""
    if not name or name.count("/") != 1 or Path(name).exists() or name.startswith((".", "/", "~")):
        return None
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(name)
    except HFValidationError:
        return None
    return name


def card_data(facts: ModelCardFacts) -> Any:
    """The card's YAML metadata as :class:`huggingface_hub.ModelCardData`.

    ``library_name`` is ``transformers``: the folder's token part loads with
    ``AutoModelForTokenClassification``/``pipeline()``, which gives the Hub's widget and
    code snippet; the ``rasd`` tag marks the full two-head model.
    """
    from huggingface_hub import ModelCardData

    results = eval_results(facts)
    return ModelCardData(
        language=facts.language,
        license=facts.license,
        library_name="transformers",
        pipeline_tag="token-classification",
        tags=list(TAGS),
        base_model=hub_model_id(facts.base_model),
        datasets=facts.datasets or None,
        metrics=["f1", "precision", "recall"],
        model_name=facts.model_id if results else None,
        eval_results=results or None,
    )


def template_path() -> Path:
    """The template shipped in the package (``rasd/training/templates/model_card.md``)."""
    packaged = resources.files("rasd.training") / "templates" / TEMPLATE_NAME
    with resources.as_file(packaged) as path:
        if path.is_file():
            return Path(path)
    raise FileNotFoundError(f"model card template {TEMPLATE_NAME} not found in rasd.training")


def _fmt(value: Any, digits: int = 3) -> str:
    """Table cell: numbers rounded, missing values as an en dash."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "not recorded"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def render_model_card(facts: ModelCardFacts, template: str | Path | None = None) -> str:
    """Render the card (YAML front matter + Markdown) from ``facts`` with the Jinja template."""
    import jinja2

    path = Path(template) if template else template_path()
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(path.parent)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["fmt"] = _fmt
    env.filters["duration"] = _duration
    text = env.get_template(path.name).render(
        facts=facts,
        card_data=card_data(facts).to_yaml(),
        hub_base_model=hub_model_id(facts.base_model),
        dev=facts.split("dev"),
        test=facts.split("test"),
    )
    return text.rstrip() + "\n"


def write_model_card(model_dir: str | Path, model_id: str | None = None) -> Path:
    """Render the card for ``model_dir`` and write it to ``model_dir/README.md``."""
    model_dir = Path(model_dir)
    text = render_model_card(facts_from_model_dir(model_dir, model_id=model_id))
    out = model_dir / "README.md"
    out.write_text(text, encoding="utf-8")
    logger.info("wrote model card %s", out)
    return out
