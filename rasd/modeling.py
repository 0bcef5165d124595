"""The two-head model (one encoder pass → token tags + sentence event types) and its folder format.

The token side is a plain :class:`~transformers.AutoModelForTokenClassification`, saved
so that ``AutoModelForTokenClassification.from_pretrained(MODEL_DIR)`` and
``pipeline("token-classification", MODEL_DIR)`` work without rasd. The event head
lives beside it in ``event_head.safetensors``; ``rasd.json`` holds what the tagger
needs to rebuild the input view (labels, thresholds, normalisation, window size).

Loading for inference::

    loaded = RasdModel.from_pretrained("runs/arabert")   # LoadedModel(model, tokenizer, meta)
    model, tokenizer, meta = loaded                       # it unpacks, too
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import AutoModelForTokenClassification, AutoTokenizer, PretrainedConfig

import rasd
from rasd.corpus import integer_digits
from rasd.errors import ModelFolderError  # raised for a bad rasd.json; importable from here too
from rasd.schema import ENTITY_LABELS, EVENT_TYPES, bio_labels
from rasd.text import NormalizationOptions

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
EVENT_HEAD_FILE = "event_head.safetensors"
META_FILE = "rasd.json"
MAX_LENGTH_RANGE = (8, 8192)  # window length in tokens that rasd.json may ask for
MAX_HIDDEN_SIZE = 65536  # event head width: anything larger is a typo, not a model (checked before allocating)


@dataclass
class RasdMeta:
    """Contents of ``rasd.json`` (see docs/ARCHITECTURE.md)."""

    entity_labels: list[str] = field(default_factory=lambda: list(ENTITY_LABELS))
    event_types: list[str] = field(default_factory=lambda: list(EVENT_TYPES))
    event_thresholds: dict[str, float] = field(default_factory=dict)
    normalization: dict[str, bool] = field(default_factory=lambda: asdict(NormalizationOptions()))
    max_length: int = 256
    stride: int = 32
    label_all_subwords: bool = True  # False: only a word's first sub-word prediction counts
    event_head: dict[str, Any] = field(
        default_factory=lambda: {"hidden_size": None, "dropout": 0.1, "pooling": "mean_max"}
    )
    base_model: str = ""
    training: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    rasd_version: str = rasd.__version__

    def normalization_options(self) -> NormalizationOptions:
        known = NormalizationOptions.__dataclass_fields__
        return NormalizationOptions(**{k: bool(v) for k, v in self.normalization.items() if k in known})

    def thresholds(self) -> list[float]:
        """Per event type decision threshold, in ``event_types`` order (0.5 when not tuned)."""
        return [float(self.event_thresholds.get(t, 0.5)) for t in self.event_types]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        order = ["format_version", "rasd_version", "entity_labels", "event_types", "event_thresholds"]
        return {k: d[k] for k in order} | {k: v for k, v in d.items() if k not in order}

    @classmethod
    def from_dict(cls, data: Any, source: str | Path = META_FILE) -> RasdMeta:
        """Build from parsed ``rasd.json`` content, checking every value the tagger relies on.

        A bad value raises :class:`ModelFolderError` (a ``ValueError``), one line naming ``source``
        and the field. Unknown top-level keys are ignored (a newer rasd may add some).

        >>> RasdMeta.from_dict({"max_length": 0}, "m/rasd.json")
        Traceback (most recent call last):
        rasd.errors.ModelFolderError: m/rasd.json: max_length must be an integer from 8 to 8192, got 0
        """
        if not isinstance(data, dict):
            raise ModelFolderError(f"{source}: expected a JSON object, got {type(data).__name__}")
        _check_meta(data, str(source))
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> RasdMeta:
        """Read and check ``rasd.json``: :class:`ModelFolderError` for invalid JSON or a bad value,
        ``OSError`` (e.g. ``FileNotFoundError``) when it cannot be read."""
        raw = Path(path).read_bytes()
        try:
            data = json.loads(raw.decode("utf-8-sig"))
        except UnicodeDecodeError as exc:
            raise ModelFolderError(f"{path}: invalid UTF-8 at byte {exc.start}") from None
        except json.JSONDecodeError as exc:
            raise ModelFolderError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg} (column {exc.colno})") from None
        except (RecursionError, ValueError) as exc:  # nested too deep, a 5000-digit integer
            reason = "nested too deep" if isinstance(exc, RecursionError) else " ".join(str(exc).split())
            raise ModelFolderError(f"{path}: invalid JSON: {reason}") from None
        return cls.from_dict(data, path)


def _short(value: Any) -> str:
    if isinstance(value, int) and abs(value) >= 10**30:
        return f"an integer of {integer_digits(value)} digits"
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, (str, bool)) or value is None else repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_meta(data: dict[str, Any], source: str) -> None:
    """Raise :class:`ModelFolderError` for the first bad value of a parsed ``rasd.json``."""

    def bad(key: str, expected: str, value: Any) -> ModelFolderError:
        return ModelFolderError(f"{source}: {key} must be {expected}, got {_short(value)}")

    version = data.get("format_version", FORMAT_VERSION)
    if not _is_int(version) or version < 1:
        raise bad("format_version", "a positive integer", version)
    if version > FORMAT_VERSION:
        raise ModelFolderError(
            f"{source}: format_version {version} is newer than this rasd supports ({FORMAT_VERSION}); upgrade rasd"
        )
    for key in ("entity_labels", "event_types"):
        if key not in data:
            continue
        names = data[key]
        if not isinstance(names, list) or not all(isinstance(x, str) and x for x in names):
            raise bad(key, "a list of non-empty strings", names)
        if len(set(names)) != len(names):
            raise bad(key, "a list without duplicates", names)
    if "entity_labels" in data and not data["entity_labels"]:
        raise bad("entity_labels", "a non-empty list of strings", data["entity_labels"])
    event_types = data.get("event_types", list(EVENT_TYPES))
    thresholds = data.get("event_thresholds", {})
    if not isinstance(thresholds, dict):
        raise bad("event_thresholds", "an object mapping event types to numbers", thresholds)
    for name, value in thresholds.items():
        if name not in event_types:
            raise ModelFolderError(
                f"{source}: event_thresholds: unknown event type {_short(name)} (event_types: {', '.join(event_types)})"
            )
        if not _is_number(value) or not 0 <= value <= 1:
            raise bad(f"event_thresholds.{name}", "a number from 0 to 1", value)
    normalization = data.get("normalization", {})
    if not isinstance(normalization, dict):
        raise bad("normalization", "an object of true/false flags", normalization)
    for name, value in normalization.items():
        if name in NormalizationOptions.__dataclass_fields__ and not isinstance(value, bool):
            raise bad(f"normalization.{name}", "true or false", value)
    lo, hi = MAX_LENGTH_RANGE
    max_length = data.get("max_length", 256)
    if not _is_int(max_length) or not lo <= max_length <= hi:
        raise bad("max_length", f"an integer from {lo} to {hi}", max_length)
    stride = data.get("stride", 32)
    if not _is_int(stride) or not 0 <= stride < max_length:
        raise bad("stride", f"an integer from 0 to max_length - 1 ({max_length - 1})", stride)
    if "label_all_subwords" in data and not isinstance(data["label_all_subwords"], bool):
        raise bad("label_all_subwords", "true or false", data["label_all_subwords"])
    head = data.get("event_head", {})
    if head is None:
        head = {}
    if not isinstance(head, dict):
        raise bad("event_head", "an object", head)
    hidden = head.get("hidden_size")
    if hidden is not None and (not _is_int(hidden) or not 1 <= hidden <= MAX_HIDDEN_SIZE):
        raise bad("event_head.hidden_size", f"null or an integer from 1 to {MAX_HIDDEN_SIZE}", hidden)
    dropout = head.get("dropout", 0.1)
    if not _is_number(dropout) or not 0 <= dropout <= 1:
        raise bad("event_head.dropout", "a number from 0 to 1", dropout)
    if head.get("pooling", "mean") not in POOLINGS:
        raise bad("event_head.pooling", " or ".join(map(repr, POOLINGS)), head.get("pooling"))
    for key in ("base_model", "rasd_version"):
        if key in data and not isinstance(data[key], str):
            raise bad(key, "a string", data[key])
    if "training" in data and not isinstance(data["training"], dict):
        raise bad("training", "an object", data["training"])


@dataclass
class RasdOutput:
    loss: torch.Tensor | None
    token_logits: torch.Tensor  # [B, T, n_tags]
    event_logits: torch.Tensor  # [S, n_events], S = sentences in the batch


POOLINGS = ("mean", "mean_max")


class EventHead(nn.Module):
    """Pool each sentence's token states, then dropout → dense → GELU → dropout → linear.

    ``pooling="mean_max"`` concatenates the mean and the element-wise max of the sentence's
    token states: an event is often signalled by one word (قصف, اعترض), which a mean over a
    long sentence dilutes and a max keeps. ``"mean"`` is the format-1 head of older folders.
    """

    def __init__(
        self,
        input_size: int,
        n_events: int,
        hidden_size: int | None = None,
        dropout: float = 0.1,
        pooling: str = "mean",
    ):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"event pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
        hidden_size = hidden_size or input_size
        self.hidden_size, self.dropout_p, self.pooling = hidden_size, dropout, pooling
        self.dropout = nn.Dropout(dropout)
        self.dense = nn.Linear(input_size * (2 if pooling == "mean_max" else 1), hidden_size)
        self.activation = nn.GELU()
        self.out = nn.Linear(hidden_size, n_events)

    def forward(
        self, hidden: torch.Tensor, sentence_ids: torch.Tensor, n_sentences: int | None = None
    ) -> torch.Tensor:
        """``hidden [B,T,H]``, ``sentence_ids [B,T]`` (-1 ignored) → event logits ``[S, n_events]``."""
        pooled = pool_sentences(hidden, sentence_ids, n_sentences, self.pooling)
        return self.out(self.dropout(self.activation(self.dense(self.dropout(pooled)))))

    def config(self) -> dict[str, Any]:
        """What rasd.json records to rebuild this head."""
        return {"hidden_size": self.hidden_size, "dropout": self.dropout_p, "pooling": self.pooling}

    @classmethod
    def from_config(cls, input_size: int, n_events: int, config: dict[str, Any] | None) -> EventHead:
        config = config or {}
        return cls(
            input_size,
            n_events,
            config.get("hidden_size"),
            float(config.get("dropout", 0.1)),
            config.get("pooling", "mean"),  # folders written before pooling was recorded
        )


def pool_sentences(
    hidden: torch.Tensor, sentence_ids: torch.Tensor, n_sentences: int | None = None, pooling: str = "mean"
) -> torch.Tensor:
    """Per sentence, the mean (``[S,H]``) or mean ‖ max (``[S,2H]``) of its token states.

    ``hidden [B,T,H]``, ``sentence_ids [B,T]`` with -1 for tokens outside any sentence.
    """
    flat_ids = sentence_ids.reshape(-1)
    flat = hidden.reshape(-1, hidden.size(-1))
    keep = flat_ids >= 0
    ids, states = flat_ids[keep], flat[keep]
    n = n_sentences if n_sentences is not None else (int(ids.max()) + 1 if ids.numel() else 0)
    sums = hidden.new_zeros(n, hidden.size(-1)).index_add_(0, ids, states)
    counts = hidden.new_zeros(n).index_add_(0, ids, torch.ones_like(ids, dtype=hidden.dtype))
    mean = sums / counts.clamp(min=1).unsqueeze(-1)
    if pooling == "mean":
        return mean
    index = ids.unsqueeze(-1).expand(-1, hidden.size(-1))
    # include_self=False: a sentence's max is over its tokens only; one without tokens stays 0.
    maxed = hidden.new_zeros(n, hidden.size(-1)).scatter_reduce_(0, index, states, "amax", include_self=False)
    return torch.cat([mean, maxed], dim=-1)


class RasdModel(nn.Module):
    """One encoder, two heads: ``token_model`` (IOB2 tags) and ``event_head`` (sentence event types)."""

    def __init__(
        self,
        token_model: nn.Module,
        event_types: list[str] | tuple[str, ...] = EVENT_TYPES,
        event_hidden_size: int | None = None,
        event_dropout: float = 0.1,
        token_loss_weight: float = 1.0,
        event_loss_weight: float = 1.0,
        event_pooling: str = "mean_max",
        event_head: EventHead | None = None,
    ):
        super().__init__()
        self.token_model = token_model
        self.event_types = list(event_types)
        hidden = token_model.config.hidden_size
        # A given head (a saved folder's) wins over the event_* arguments.
        self.event_head = event_head or EventHead(
            hidden, len(self.event_types), event_hidden_size, event_dropout, event_pooling
        )
        self.token_loss_weight = token_loss_weight
        self.event_loss_weight = event_loss_weight

    @property
    def config(self) -> PretrainedConfig:
        return self.token_model.config

    @staticmethod
    def _label_kwargs(entity_labels: list[str] | tuple[str, ...]) -> dict[str, Any]:
        tags = bio_labels(tuple(entity_labels))
        return {
            "num_labels": len(tags),
            "id2label": dict(enumerate(tags)),
            "label2id": {t: i for i, t in enumerate(tags)},
        }

    @classmethod
    def from_base(
        cls, name_or_path: str, entity_labels: list[str] | tuple[str, ...] = ENTITY_LABELS, **kwargs: Any
    ) -> RasdModel:
        """A fresh model on a pretrained encoder (hub id or local folder); heads randomly initialised."""
        token_model = AutoModelForTokenClassification.from_pretrained(
            name_or_path, **cls._label_kwargs(entity_labels), ignore_mismatched_sizes=True
        )
        return cls(token_model, **kwargs)

    @classmethod
    def from_config(
        cls, config: PretrainedConfig, entity_labels: list[str] | tuple[str, ...] = ENTITY_LABELS, **kwargs: Any
    ) -> RasdModel:
        """A randomly initialised model from a transformers config (used for the tiny test model)."""
        for key, value in cls._label_kwargs(entity_labels).items():
            setattr(config, key, value)
        return cls(AutoModelForTokenClassification.from_config(config), **kwargs)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        sentence_ids: torch.Tensor,
        labels: torch.Tensor | None = None,
        event_labels: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
    ) -> RasdOutput:
        extra = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
        out = self.token_model(
            input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True, return_dict=True, **extra
        )
        n_sentences = event_labels.size(0) if event_labels is not None else None
        event_logits = self.event_head(out.hidden_states[-1], sentence_ids, n_sentences)
        loss = None
        if labels is not None and self.token_loss_weight:
            ce = nn.functional.cross_entropy(
                out.logits.reshape(-1, out.logits.size(-1)).float(), labels.reshape(-1), ignore_index=-100
            )
            # All -100 (e.g. an event-only batch) gives NaN: count it as no token loss.
            loss = self.token_loss_weight * torch.nan_to_num(ce)
        if event_labels is not None and self.event_loss_weight and event_logits.numel():
            bce = nn.functional.binary_cross_entropy_with_logits(event_logits.float(), event_labels.float())
            loss = self.event_loss_weight * bce if loss is None else loss + self.event_loss_weight * bce
        return RasdOutput(loss=loss, token_logits=out.logits, event_logits=event_logits)

    def freeze_embeddings(self) -> int:
        """Freeze the input embeddings (faster CPU steps, less forgetting); return frozen parameter count."""
        emb = self.token_model.get_input_embeddings()
        base = getattr(self.token_model, self.token_model.base_model_prefix, self.token_model)
        modules = [getattr(base, "embeddings", None) or emb]
        n = 0
        for module in modules:
            for p in module.parameters():
                p.requires_grad_(False)
                n += p.numel()
        return n

    def save_pretrained(self, save_directory: str | Path, tokenizer: Any = None, meta: RasdMeta | None = None) -> Path:
        """Write the model folder of docs/ARCHITECTURE.md (token model, tokenizer, event head, rasd.json)."""
        out = Path(save_directory)
        out.mkdir(parents=True, exist_ok=True)
        self.token_model.save_pretrained(out)
        if tokenizer is not None:
            tokenizer.save_pretrained(out)
        state = {k: v.detach().contiguous().cpu() for k, v in self.event_head.state_dict().items()}
        save_file(state, str(out / EVENT_HEAD_FILE))
        meta = meta or RasdMeta()
        meta.entity_labels = [t[2:] for t in self.config.id2label.values() if t.startswith("B-")]
        meta.event_types = list(self.event_types)
        meta.event_head = self.event_head.config()
        meta.save(out / META_FILE)
        return out

    @classmethod
    def from_pretrained(cls, model_dir: str | Path, device: str | torch.device | None = None) -> LoadedModel:
        """Load a saved folder → :class:`LoadedModel` (model in eval mode on ``device``, tokenizer, meta)."""
        model_dir = Path(model_dir)
        meta = RasdMeta.load(model_dir / META_FILE)  # a bad value: ModelFolderError, before any allocation
        token_model = AutoModelForTokenClassification.from_pretrained(model_dir, dtype=torch.float32)
        head = EventHead.from_config(token_model.config.hidden_size, len(meta.event_types), meta.event_head)
        model = cls(token_model, event_types=meta.event_types, event_head=head)
        model.event_head.load_state_dict(load_file(str(model_dir / EVENT_HEAD_FILE)))
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        model.eval()
        if device is not None:
            model.to(device)
        return LoadedModel(model, tokenizer, meta)


@dataclass
class LoadedModel:
    """What :meth:`RasdModel.from_pretrained` returns; unpacks as ``model, tokenizer, meta``."""

    model: RasdModel
    tokenizer: Any
    meta: RasdMeta

    def __iter__(self):
        return iter((self.model, self.tokenizer, self.meta))


def is_model_dir(path: str | Path) -> bool:
    """Whether ``path`` is a saved rasd model folder."""
    return (Path(path) / META_FILE).is_file() and (Path(path) / "config.json").is_file()

