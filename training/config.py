"""Typed training configuration: YAML sections ``model``, ``data``, ``training`` plus ``key=value`` overrides.

::

    config = load_config("configs/tiny.yaml", ["training.epochs=3", "data.max_length=128"])

Overrides use dotted keys into the nested dataclasses; values are parsed as YAML
scalars and coerced to the field's type (``a.jsonl,b.jsonl`` for a list). Unknown
keys are an error naming the closest valid key.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rasd.text import NormalizationOptions
from rasd.training.augment import AugmentConfig

TINY = "tiny"


class ConfigError(ValueError):
    """A bad configuration file or override."""


@dataclass
class TinyArguments:
    """Size of the in-process tiny model (``base_model: tiny``), for tests and offline demos."""

    vocab_size: int = field(default=2000, metadata={"help": "WordPiece vocabulary trained on the corpus texts"})
    hidden_size: int = field(default=64, metadata={"help": "hidden size"})
    num_layers: int = field(default=2, metadata={"help": "transformer layers"})
    num_heads: int = field(default=2, metadata={"help": "attention heads"})


@dataclass
class ModelArguments:
    """Which encoder to start from and how the heads look."""

    base_model: str = field(default=TINY, metadata={"help": "hub id or local folder of the encoder; 'tiny' builds one in-process"})
    tiny: TinyArguments = field(default_factory=TinyArguments)
    entity_labels: list[str] = field(default_factory=list, metadata={"help": "entity labels; empty = rasd.schema"})
    event_hidden_size: int = field(default=0, metadata={"help": "event head hidden size; 0 = encoder hidden size"})
    event_dropout: float = field(default=0.1, metadata={"help": "event head dropout"})
    event_pooling: str = field(
        default="mean_max", metadata={"help": "sentence pooling for the event head: mean | mean_max"}
    )
    freeze_embeddings: bool = field(default=False, metadata={"help": "freeze input embeddings (faster on CPU)"})
    label_all_subwords: bool = field(
        default=True, metadata={"help": "tag every sub-word (True) or only a word's first one (False)"}
    )

    def __post_init__(self) -> None:
        if self.event_pooling not in ("mean", "mean_max"):
            raise ConfigError(f"model.event_pooling must be mean or mean_max, got {self.event_pooling!r}")


@dataclass
class DataArguments:
    """Where the annotated documents come from and how they become windows."""

    train_files: list[str] = field(default_factory=list, metadata={"help": "corpus JSONL files or directories"})
    dev_files: list[str] = field(default_factory=list, metadata={"help": "dev corpus; empty = split off train"})
    test_files: list[str] = field(default_factory=list, metadata={"help": "evaluated once after training"})
    dev_fraction: float = field(default=0.15, metadata={"help": "share of train documents held out as dev"})
    real_oversample: int = field(
        default=1,
        metadata={"help": "times each real (non-synthetic) training document is seen per epoch; >1 weights real text"},
    )
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    normalization: NormalizationOptions = field(default_factory=NormalizationOptions)
    max_length: int = field(default=256, metadata={"help": "window length in tokens incl. special tokens"})
    stride: int = field(default=32, metadata={"help": "token overlap between chunks of an over-long sentence"})

    def __post_init__(self) -> None:
        if self.real_oversample < 1:
            raise ConfigError(f"data.real_oversample must be at least 1, got {self.real_oversample}")
        # The ranges the saved rasd.json is checked against at load (rasd.modeling.MAX_LENGTH_RANGE).
        if not 8 <= self.max_length <= 8192:
            raise ConfigError(f"data.max_length must be from 8 to 8192, got {self.max_length}")
        if not 0 <= self.stride < self.max_length:
            raise ConfigError(f"data.stride must be from 0 to data.max_length - 1, got {self.stride}")


@dataclass
class TrainingArguments:
    """Optimisation, evaluation and output."""

    output_dir: str = field(default="runs/model", metadata={"help": "model folder to write"})
    epochs: float = field(default=10, metadata={"help": "passes over the training windows"})
    max_steps: int = field(default=0, metadata={"help": "stop after this many optimiser steps (0 = no limit)"})
    batch_size: int = field(default=16, metadata={"help": "windows per batch (per device)"})
    eval_batch_size: int = field(default=32, metadata={"help": "windows per evaluation batch"})
    gradient_accumulation_steps: int = field(default=1, metadata={"help": "batches per optimiser step"})
    encoder_lr: float = field(default=5e-5, metadata={"help": "learning rate of the encoder"})
    head_lr: float = field(default=1e-3, metadata={"help": "learning rate of the two heads"})
    warmup_ratio: float = field(default=0.1, metadata={"help": "share of steps with linear warm-up"})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay (not on biases/LayerNorm)"})
    max_grad_norm: float = field(default=1.0, metadata={"help": "gradient clipping"})
    token_loss_weight: float = field(default=1.0, metadata={"help": "weight of the token (entity) loss"})
    event_loss_weight: float = field(default=1.0, metadata={"help": "weight of the event loss; 0 = entities only"})
    seed: int = field(default=42, metadata={"help": "seed for everything"})
    mixed_precision: str = field(default="no", metadata={"help": "no | fp16 | bf16"})
    early_stopping_patience: int = field(default=3, metadata={"help": "epochs without dev F1 gain; 0 = off"})
    tune_event_thresholds: bool = field(default=True, metadata={"help": "tune a threshold per event type on dev"})
    log_level: str = field(default="info", metadata={"help": "logging level"})

    def __post_init__(self) -> None:
        if self.mixed_precision not in {"no", "fp16", "bf16"}:
            raise ConfigError(f"training.mixed_precision must be no, fp16 or bf16, got {self.mixed_precision!r}")
        if self.batch_size < 1 or self.gradient_accumulation_steps < 1:
            raise ConfigError("training.batch_size and training.gradient_accumulation_steps must be at least 1")


@dataclass
class TrainingConfig:
    """The whole resolved configuration (saved as training_config.yaml)."""

    model: ModelArguments = field(default_factory=ModelArguments)
    data: DataArguments = field(default_factory=DataArguments)
    training: TrainingArguments = field(default_factory=TrainingArguments)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)


# --- building dataclasses from plain data, with coercion ----------------------------------


def _coerce(value: Any, tp: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _coerce(value, args[0], key)
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return from_dict(tp, value, prefix=f"{key}.")
    if origin is list:
        (item,) = typing.get_args(tp) or (str,)
        if value is None:
            return []
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list | tuple):
            value = [value]
        return [_coerce(v, item, key) for v in value]
    try:
        if tp is bool:
            if isinstance(value, str):
                low = value.strip().lower()
                if low in {"true", "yes", "1", "on"}:
                    return True
                if low in {"false", "no", "0", "off"}:
                    return False
                raise ValueError(value)
            return bool(value)
        if tp is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if tp is float:
            return float(value)
        if tp is str:
            return "" if value is None else str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key}: cannot read {value!r} as {getattr(tp, '__name__', tp)}") from None
    return value


def _unknown(key: str, valid: list[str], prefix: str) -> ConfigError:
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f" (did you mean {prefix}{close[0]}?)" if close else f" (valid: {', '.join(valid)})"
    return ConfigError(f"unknown config key {prefix}{key}{hint}")


def from_dict(cls: type, data: dict[str, Any], prefix: str = "") -> Any:
    """Build dataclass ``cls`` from a nested dict, coercing types; unknown keys raise :class:`ConfigError`."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in (data or {}).items():
        if key not in names:
            raise _unknown(key, names, prefix)
        kwargs[key] = _coerce(value, hints[key], prefix + key)
    return cls(**kwargs)


def apply_override(data: dict[str, Any], assignment: str) -> None:
    """Apply one ``dotted.key=value`` override to the nested dict ``data`` (validated later)."""
    if "=" not in assignment:
        raise ConfigError(f"override {assignment!r} is not key=value")
    key, raw = assignment.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"override {assignment!r} has an empty key")
    # YAML scalar parsing: 3 → int, 1e-5 → float, true → bool, [a, b] → list; strings stay strings.
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    # Validate the path now so the error names the full key.
    cls: Any = TrainingConfig
    parts = key.split(".")
    node = data
    for depth, part in enumerate(parts):
        names = [f.name for f in dataclasses.fields(cls)]
        if part not in names:
            raise _unknown(part, names, ".".join(parts[:depth]) + ("." if depth else ""))
        tp = typing.get_type_hints(cls)[part]
        if depth == len(parts) - 1:
            if dataclasses.is_dataclass(tp) and not isinstance(value, dict):
                raise ConfigError(f"{key} is a section; set one of its keys, e.g. {key}.{dataclasses.fields(tp)[0].name}=...")
            if tp is str and value is not None and not isinstance(value, str):
                value = raw.strip()  # keep strings verbatim (e.g. a version-like "1.0")
            node[part] = value
        else:
            if not dataclasses.is_dataclass(tp):
                raise ConfigError(f"{'.'.join(parts[: depth + 1])} is not a section")
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
            cls = tp


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> TrainingConfig:
    """Read a YAML config (or defaults when ``path`` is None) and apply ``key=value`` overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level")
    for assignment in overrides or []:
        apply_override(data, assignment)
    return from_dict(TrainingConfig, data)
