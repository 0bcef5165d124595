"""The model card: facts read from a trained model folder, the rendered Markdown and its Hub metadata."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from huggingface_hub import ModelCard

from rasd import schema
from rasd.training import card, card_facts

ROOT = Path(__file__).resolve().parent.parent
REPO = "rasd-org/rasd-tiny"
SECTIONS = [
    "## Labels",
    "### Entity labels",
    "### Event types",
    "## How to use",
    "## Training data",
    "## Training procedure",
    "## Evaluation",
    "## Event thresholds",
    "## Hardware and training time",
    "## Environment",
    "## Intended use",
    "## Out-of-scope use",
    "## Limitations and biases",
    "## Licence",
    "## Citation",
]


@pytest.fixture(scope="module")
def model_dir(trained_model_dir: Path) -> Path:
    """A tiny model trained for a few steps by the real trainer, with dev and test metrics (conftest)."""
    return trained_model_dir


def _splits(metrics: dict) -> dict[str, dict]:
    return {s: metrics[s] for s in ("dev", "test") if s in metrics} or {"dev": metrics}


def _row(text: str, heading: str, name: str) -> list[str]:
    """Cells of the table row for ``name`` in the section under ``heading``."""
    section = text.split(heading, 1)[1].split("\n#", 1)[0]
    line = next(ln for ln in section.splitlines() if ln.startswith(f"| `{name}` |") or ln.startswith(f"| {name} |"))
    return [c.strip() for c in line.strip("|").split("|")][1:]


def test_the_template_has_one_copy() -> None:
    """The packaged template links to the top-level model_card.md (no second copy to drift)."""
    packaged = ROOT / "training" / "templates" / card.TEMPLATE_NAME
    assert packaged.is_symlink()
    assert packaged.resolve() == (ROOT / card.TEMPLATE_NAME).resolve()
    assert card.template_path().resolve() == (ROOT / card.TEMPLATE_NAME).resolve()


def test_trainer_writes_the_card(model_dir: Path) -> None:
    readme = (model_dir / "README.md").read_text(encoding="utf-8")
    assert readme == card.render_model_card(card_facts.facts_from_model_dir(model_dir))


def test_card_sections_labels_and_usage(model_dir: Path) -> None:
    text = card.render_model_card(card_facts.facts_from_model_dir(model_dir, model_id=REPO))
    positions = [text.index(s) for s in SECTIONS]
    assert positions == sorted(positions)
    for label in schema.ENTITY_LABELS:
        assert f"| `{label}` | {schema.ENTITY_DEFINITIONS[label]} |" in text
    for event in schema.EVENT_TYPES:
        assert f"| `{event}` | {schema.EVENT_DEFINITIONS[event]} |" in text
    assert f'Tagger.from_pretrained("{REPO}")' in text and f"rasd tag --model {REPO}" in text
    assert "GUIDELINES.md" in text
    for phrase in ("Targeting", "Automated decisions about people", "Surveillance", "synthetic"):
        assert phrase in text
    meta = json.loads((model_dir / "rasd.json").read_text(encoding="utf-8"))
    for name, threshold in meta["event_thresholds"].items():
        assert _row(text, "## Event thresholds", name) == [f"{threshold:.2f}"]
    import torch
    import transformers

    assert f"| torch | {torch.__version__} |" in text and f"| transformers | {transformers.__version__} |" in text


def test_card_metrics_equal_metrics_json(model_dir: Path) -> None:
    metrics = json.loads((model_dir / "metrics.json").read_text(encoding="utf-8"))
    splits = _splits(metrics)
    assert "test" in splits, "training was given test files"
    text = card.render_model_card(card_facts.facts_from_model_dir(model_dir, model_id=REPO))
    for split, m in splits.items():
        for label in schema.ENTITY_LABELS:
            s = m["entities"]["per_label"][label]
            expected = [f"{s['precision']:.3f}", f"{s['recall']:.3f}", f"{s['f1']:.3f}", str(s["support"])]
            assert _row(text, f"### Per entity label ({split})", label) == expected
        for event in schema.EVENT_TYPES:
            s = m["events"]["per_type"][event]
            expected = [f"{s['precision']:.3f}", f"{s['recall']:.3f}", f"{s['f1']:.3f}", str(s["support"])]
            assert _row(text, f"### Per event type ({split})", event) == expected
        line = next(ln for ln in text.splitlines() if ln.startswith(f"| {split} | "))
        cells = [c.strip() for c in line.strip("|").split("|")][1:]
        ents, evs = m["entities"], m["events"]
        assert cells == [
            f"{ents['micro']['f1']:.3f}",
            f"{ents['macro']['f1']:.3f}",
            f"{ents['seqeval']['micro']['f1']:.3f}",
            f"{evs['micro']['f1']:.3f}",
            f"{evs['macro']['f1']:.3f}",
        ]


def test_card_metadata_parses_with_huggingface_hub(model_dir: Path) -> None:
    metrics = _splits(json.loads((model_dir / "metrics.json").read_text(encoding="utf-8")))
    parsed = ModelCard(card.render_model_card(card_facts.facts_from_model_dir(model_dir, model_id=REPO)))
    data = parsed.data
    assert data.language == "ar" and data.license == card_facts.LICENSE
    assert data.library_name == "transformers" and data.pipeline_tag == "token-classification"
    assert set(card.TAGS) <= set(data.tags)
    assert data.base_model is None  # the tiny base model is not a Hub model
    found = {(r.dataset_split, r.metric_name): r.metric_value for r in data.eval_results}
    for split, m in metrics.items():
        assert found[(split, "Entity micro-F1 (exact span)")] == round(m["entities"]["micro"]["f1"], 4)
        assert found[(split, "Entity micro-F1 (seqeval)")] == round(m["entities"]["seqeval"]["micro"]["f1"], 4)
        assert found[(split, "Event micro-F1")] == round(m["events"]["micro"]["f1"], 4)
    assert data.model_name == REPO


def test_hub_base_model_is_linked(model_dir: Path) -> None:
    facts = card_facts.facts_from_model_dir(model_dir, model_id=REPO)
    facts.base_model = "aubmindlab/bert-base-arabertv02"
    text = card.render_model_card(facts)
    assert ModelCard(text).data.base_model == "aubmindlab/bert-base-arabertv02"
    assert "(https://huggingface.co/aubmindlab/bert-base-arabertv02)" in text


def test_minimal_folder_renders_without_optional_files(tmp_path: Path) -> None:
    (tmp_path / "rasd.json").write_text(json.dumps({"format_version": 1, "base_model": "org/encoder"}))
    facts = card_facts.facts_from_model_dir(tmp_path)
    assert [lab.name for lab in facts.entity_labels] == list(schema.ENTITY_LABELS)
    text = card.render_model_card(facts)
    assert "No evaluation results were recorded" in text and "Hyper-parameters were not recorded" in text
    data = ModelCard(text).data
    assert data.eval_results is None and data.base_model == "org/encoder"
    out = card.write_model_card(tmp_path, model_id=REPO)
    assert out == tmp_path / "README.md" and REPO in out.read_text(encoding="utf-8")


def test_folder_without_rasd_json_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="rasd.json"):
        card_facts.facts_from_model_dir(tmp_path)


def test_scores_are_read_from_flat_or_nested_shapes() -> None:
    nested = card_facts.split_metrics(
        "dev",
        {"entities": {"micro": {"precision": 0.5, "recall": 1.0, "f1": 0.667, "support": 2}}},
        ["ACTOR"],
        ["ATTACK"],
    )
    assert nested.entity_micro == card_facts.Score(0.5, 1.0, 0.667, 2)
    flat = card_facts.split_metrics("test", {"entity_micro_f1": 0.4, "event_micro_f1": 0.3}, ["ACTOR"], ["ATTACK"])
    assert flat.entity_micro.f1 == 0.4 and flat.event_micro.f1 == 0.3


def test_hub_model_id() -> None:
    assert card.hub_model_id("aubmindlab/bert-base-arabertv02") == "aubmindlab/bert-base-arabertv02"
    assert card.hub_model_id("tiny") is None
    assert card.hub_model_id("/models/encoder") is None
    assert card.hub_model_id(None) is None
    assert re.fullmatch(r"\d+ min \d\d s", card._duration(75.0))


def test_usage_snippet_in_the_card_runs(model_dir: Path, capsys) -> None:
    """The card's Python example is real code: run it against the local folder."""
    text = card.render_model_card(card_facts.facts_from_model_dir(model_dir, model_id=str(model_dir)))
    snippet = text.split("```python\n", 1)[1].split("```", 1)[0]
    assert "Tagger.from_pretrained" in snippet
    exec(compile(snippet, "model_card_snippet", "exec"), {})
    assert capsys.readouterr().out.strip()
