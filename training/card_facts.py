"""The model card's facts: what a saved model folder says about its training, in one typed place.

:func:`facts_from_model_dir` reads ``rasd.json`` (required), ``metrics.json`` and
``training_config.yaml`` (optional) into a :class:`ModelCardFacts`; rendering it as
Markdown with Hub metadata is :mod:`rasd.training.card`'s job.

>>> split_metrics("dev", {"entity_micro_f1": 0.5}, ["ACTOR"], ["ATTACK"]).entity_micro
Score(precision=None, recall=None, f1=0.5, support=None)
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rasd import schema

LICENSE = "apache-2.0"
GUIDELINES_PATH = "annotations/GUIDELINES.md"
VERSION_PACKAGES = (
    "torch", "transformers", "datasets", "accelerate", "tokenizers", "seqeval", "huggingface_hub", "rasd",
)

INTENDED_USE = [
    "Turning Arabic news reports about armed conflict into structured data: who (actors, named "
    "people), with what (weapons), where (sites, locations), when (time expressions) and which "
    "kinds of event each sentence reports.",
    "Pre-annotation for human coders of event datasets (ACLED-style records), research on "
    "conflict reporting, search and aggregation over news archives.",
    "Outputs are suggestions to be reviewed by a person; every span carries exact character "
    "offsets into the input so that it can be checked against the source.",
]
OUT_OF_SCOPE = [
    "Targeting or locating individuals, or any use that feeds military or security targeting.",
    "Automated decisions about people (eligibility, sanctions, asylum, policing, employment) "
    "based on names or roles the model extracts.",
    "Surveillance or profiling of people, communities or journalists from their writing.",
    "Establishing facts: the model reports what a text says, not whether it is true, and "
    "cannot attribute responsibility for an event.",
    "Text that is not Modern Standard Arabic news prose (dialects, social media, OCR noise) "
    "without a new evaluation.",
]
CITATION = """@software{{rasd,
  title = {{rasd: structured data from Arabic conflict news}},
  author = {{rasd contributors}},
  year = {{{year}}},
  note = {{Model {model_id}, base model {base_model}}}
}}"""


@dataclass
class LabelInfo:
    """One entity label or event type and its definition (from :mod:`rasd.schema`)."""

    name: str
    definition: str


@dataclass
class Score:
    """Precision/recall/F1 (and support when known) of one label, event type or average."""

    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    support: int | None = None


@dataclass
class SplitMetrics:
    """Evaluation of one split (``dev`` or ``test``)."""

    split: str
    entity_micro: Score = field(default_factory=Score)  # exact character-span match
    entity_macro: Score = field(default_factory=Score)
    entity_seqeval: Score = field(default_factory=Score)  # token-level IOB2 (seqeval) micro
    event_micro: Score = field(default_factory=Score)
    event_macro: Score = field(default_factory=Score)
    per_label: dict[str, Score] = field(default_factory=dict)
    per_event: dict[str, Score] = field(default_factory=dict)


@dataclass
class DataFacts:
    """The training data, as counted by training."""

    files: list[str] = field(default_factory=list)
    documents: int | None = None
    sentences: int | None = None
    tokens: int | None = None
    label_counts: dict[str, int] = field(default_factory=dict)
    event_counts: dict[str, int] = field(default_factory=dict)
    synthetic_share: float | None = None
    languages: list[str] = field(default_factory=lambda: ["ar"])
    sources: list[str] = field(default_factory=list)
    period: str | None = None
    splits: dict[str, int] = field(default_factory=dict)  # documents per split


@dataclass
class ModelCardFacts:
    """Everything the model card states, gathered in one typed place."""

    model_id: str
    base_model: str | None = None
    model_name: str | None = None
    rasd_version: str | None = None
    license: str = LICENSE
    language: str = "ar"
    datasets: list[str] = field(default_factory=list)
    repository_url: str | None = None
    guidelines: str = GUIDELINES_PATH
    entity_labels: list[LabelInfo] = field(default_factory=list)
    event_types: list[LabelInfo] = field(default_factory=list)
    data: DataFacts = field(default_factory=DataFacts)
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    metrics: list[SplitMetrics] = field(default_factory=list)
    event_thresholds: dict[str, float] = field(default_factory=dict)
    max_length: int | None = None
    normalization: dict[str, Any] = field(default_factory=dict)
    hardware: str | None = None
    training_time_seconds: float | None = None
    versions: dict[str, str] = field(default_factory=dict)
    intended_use: list[str] = field(default_factory=lambda: list(INTENDED_USE))
    out_of_scope: list[str] = field(default_factory=lambda: list(OUT_OF_SCOPE))
    limitations: list[str] = field(default_factory=list)
    citation: str = ""

    @property
    def guidelines_url(self) -> str | None:
        """Link to the annotation guidelines when the repository URL is known."""
        if not self.repository_url:
            return None
        return f"{self.repository_url.rstrip('/')}/blob/main/{self.guidelines}"

    def split(self, name: str) -> SplitMetrics | None:
        """The metrics of split ``name``, if evaluated."""
        return next((m for m in self.metrics if m.split == name), None)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data view (used as template context)."""
        return asdict(self)


# --------------------------------------------------------------------------- reading


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def _get(data: Any, *paths: str, default: Any = None) -> Any:
    """First value found under any dotted ``paths`` of nested dicts."""
    for path in paths:
        node = data
        for key in path.split("."):
            if not isinstance(node, dict) or key not in node:
                break
            node = node[key]
        else:
            if node is not None:
                return node
    return default


def _float(value: Any) -> float | None:
    try:
        return None if value is None or isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        return None


def _score(value: Any) -> Score:
    """A :class:`Score` from ``{"precision", "recall", "f1", "support"}`` (or a bare F1 number)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Score(f1=float(value))
    if not isinstance(value, dict):
        return Score()
    support = _get(value, "support", "number", "count")
    return Score(
        precision=_float(_get(value, "precision", "p")),
        recall=_float(_get(value, "recall", "r")),
        f1=_float(_get(value, "f1", "f1-score", "f")),
        support=int(support) if isinstance(support, int | float) else None,
    )


def _score_of(block: dict[str, Any], *names: str) -> Score:
    """Score stored either as a nested dict (``micro: {...}``) or flat keys (``micro_f1`` ...)."""
    for name in names:
        nested = _get(block, name)
        if isinstance(nested, dict) and isinstance(nested.get("micro"), dict):
            nested = nested["micro"]  # e.g. seqeval: {"micro": {...}, "macro": {...}, "per_label": {...}}
        if isinstance(nested, dict | int | float) and not isinstance(nested, bool):
            return _score(nested)
        flat = {k: block.get(f"{name}_{k}") for k in ("precision", "recall", "f1", "support")}
        if any(v is not None for v in flat.values()):
            return _score(flat)
    return Score()


def _per_name(block: Any, names: list[str]) -> dict[str, Score]:
    if not isinstance(block, dict):
        return {}
    return {name: _score(block[name]) for name in names if name in block}


def split_metrics(split: str, data: dict[str, Any], labels: list[str], events: list[str]) -> SplitMetrics:
    """Normalise one split's metrics dict (as written by ``training.metrics``) into :class:`SplitMetrics`."""
    ents = _get(data, "entities", "entity", "ner", default={})
    evs = _get(data, "events", "event", default={})
    per_label = _per_name(_get(ents, "per_label", "labels", "per_type", default=ents), labels)
    per_event = _per_name(_get(evs, "per_type", "per_event", "types", "labels", default=evs), events)
    return SplitMetrics(
        split=split,
        entity_micro=_score_of(ents, "micro", "exact", "span_micro") if ents else _score_of(data, "entity_micro"),
        entity_macro=_score_of(ents, "macro", "span_macro") if ents else _score_of(data, "entity_macro"),
        entity_seqeval=_score_of(ents, "seqeval", "seqeval_micro") if ents else _score_of(data, "seqeval"),
        event_micro=_score_of(evs, "micro") if evs else _score_of(data, "event_micro"),
        event_macro=_score_of(evs, "macro") if evs else _score_of(data, "event_macro"),
        per_label=per_label,
        per_event=per_event,
    )


def _splits(metrics: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{split: metrics}`` from metrics.json, which holds ``dev`` (and ``test``) or one flat dict."""
    found = {s: metrics[s] for s in ("dev", "test") if isinstance(metrics.get(s), dict)}
    if not found and metrics:
        found = {"dev": metrics}
    return found


def installed_versions(packages: tuple[str, ...] = VERSION_PACKAGES) -> dict[str, str]:
    """Installed versions of the libraries that matter to reproduce a model, plus Python."""
    versions = {"python": platform.python_version()}
    for name in packages:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def repository_url() -> str | None:
    """The project's source repository URL from the installed package metadata, if declared."""
    try:
        urls = importlib.metadata.metadata("rasd").get_all("Project-URL") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for entry in urls:
        label, _, url = entry.partition(",")
        if label.strip().lower() in {"repository", "source", "homepage", "code"} and url.strip():
            return url.strip()
    return None


def _limitations(data: DataFacts, base_model: str | None) -> list[str]:
    sources = ", ".join(data.sources) if data.sources else "a small number of news sources"
    period = f" from {data.period}" if data.period else ""
    notes = [
        f"Training data comes from {sources}{period}, mostly about attacks on US forces and "
        "armed groups in Iraq and Syria; other regions, conflicts, actors and writing styles are "
        "under-represented and will be tagged less reliably.",
        "The annotated corpus is small, so per-label scores have wide uncertainty; labels and "
        "event types with few examples (see the counts under Training data) are the least reliable.",
        "Names of actors and places follow the sources' framing (e.g. which groups are called "
        "militias or terrorists); the model reproduces that framing and its biases.",
        "Event types are sentence-level: the model says a sentence reports an attack, not who "
        "attacked whom; records built from a sentence's entities can pair the wrong actor and target.",
    ]
    if data.synthetic_share:
        notes.append(
            f"{data.synthetic_share:.0%} of the training documents are synthetic (generated) text; "
            "its vocabulary and sentence patterns are narrower than real reporting."
        )
    if base_model == "tiny":
        notes.append(
            "This model starts from rasd's tiny randomly initialised encoder (a test and demo build, "
            "not a pretrained language model): its predictions and scores are not meaningful."
        )
    elif base_model:
        notes.append(f"Any biases of the base model {base_model} carry over.")
    return notes


def _data_facts(training: dict[str, Any], config: dict[str, Any]) -> DataFacts:
    data = _get(training, "data", default=training)
    files = _get(data, "files", "train_files") or _get(config, "data.train", "data.train_files", "train_files")
    if isinstance(files, str):
        files = [files]
    share = _float(_get(data, "synthetic_share", "synthetic_fraction"))
    languages = _get(data, "languages", default=["ar"])
    sources = _get(data, "sources", default=[])
    return DataFacts(
        files=[str(f) for f in files or []],
        documents=_get(data, "documents", "num_documents", "n_documents"),
        sentences=_get(data, "sentences", "num_sentences", "n_sentences"),
        tokens=_get(data, "tokens", "num_tokens", "n_tokens"),
        label_counts=dict(_get(data, "label_counts", "entity_counts", default={})),
        event_counts=dict(_get(data, "event_counts", "event_type_counts", default={})),
        synthetic_share=share,
        languages=[languages] if isinstance(languages, str) else list(languages),
        sources=[sources] if isinstance(sources, str) else list(sources),
        period=_get(data, "period"),
        splits=dict(_get(data, "splits", "split_documents", default={})),
    )


HYPERPARAMETER_KEYS = (
    "model.event_hidden_size",
    "model.event_dropout",
    "model.freeze_embeddings",
    "model.label_all_subwords",
    "data.max_length",
    "data.stride",
    "data.dev_fraction",
)
NOT_HYPERPARAMETERS = {"output_dir", "log_level", "logging_dir", "report_to"}


def _hyperparameters(training: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """Flat ``{name: value}`` of the training hyper-parameters (scalars only)."""
    source = _get(training, "hyperparameters", default=None) or _get(config, "training", default=None) or {}
    params = {
        k: v for k, v in source.items() if isinstance(v, str | int | float | bool) and k not in NOT_HYPERPARAMETERS
    }
    for key in HYPERPARAMETER_KEYS:
        value = _get(config, key)
        if isinstance(value, str | int | float | bool):
            params.setdefault(key.split(".")[-1], value)
    return params


def facts_from_model_dir(model_dir: str | Path, model_id: str | None = None) -> ModelCardFacts:
    """Gather the card's facts from a saved model folder (rasd.json, metrics.json, training_config.yaml).

    Only ``rasd.json`` is needed; everything else is optional and left blank when absent.
    """
    model_dir = Path(model_dir)
    meta = _read_json(model_dir / "rasd.json")
    if not meta:
        raise FileNotFoundError(f"{model_dir} has no rasd.json: not a rasd model folder")
    metrics = _read_json(model_dir / "metrics.json")
    config = _read_yaml(model_dir / "training_config.yaml")
    training = meta.get("training") or {}

    labels = list(meta.get("entity_labels") or schema.ENTITY_LABELS)
    events = list(meta.get("event_types") or schema.EVENT_TYPES)
    base_model = meta.get("base_model") or _get(config, "model.base_model", "base_model", "model.name")
    data = _data_facts(training, config)
    seconds = _float(_get(training, "training_time_s", "training_time_seconds", "time.seconds", "seconds"))
    hardware = _get(training, "hardware", "device")
    if isinstance(hardware, dict):
        hardware = ", ".join(f"{k}: {v}" for k, v in hardware.items() if v not in (None, ""))
    versions = dict(_get(training, "versions", "environment", default=None) or installed_versions())
    if meta.get("rasd_version"):
        versions.setdefault("rasd", meta["rasd_version"])
    # Without a hub id the card refers to the folder as given (its usage code then runs locally).
    model_id = model_id or meta.get("model_id") or model_dir.as_posix()
    metrics_list = [split_metrics(s, d, labels, events) for s, d in _splits(metrics).items()]
    year = str(training.get("date", ""))[:4] or str(datetime.date.today().year)
    return ModelCardFacts(
        model_id=model_id,
        model_name=meta.get("model_name") or model_id.rstrip("/").split("/")[-1] or model_dir.resolve().name,
        base_model=base_model,
        rasd_version=meta.get("rasd_version"),
        datasets=list(_get(training, "datasets", default=[])),
        repository_url=repository_url(),
        entity_labels=[LabelInfo(n, schema.ENTITY_DEFINITIONS.get(n, "")) for n in labels],
        event_types=[LabelInfo(n, schema.EVENT_DEFINITIONS.get(n, "")) for n in events],
        data=data,
        hyperparameters=_hyperparameters(training, config),
        metrics=metrics_list,
        event_thresholds={k: float(v) for k, v in (meta.get("event_thresholds") or {}).items()},
        max_length=meta.get("max_length"),
        normalization=dict(meta.get("normalization") or {}),
        hardware=str(hardware) if hardware else None,
        training_time_seconds=seconds,
        versions={str(k): str(v) for k, v in versions.items()},
        limitations=_limitations(data, base_model),
        citation=CITATION.format(year=year, model_id=model_id, base_model=base_model or "unknown"),
    )
