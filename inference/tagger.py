"""The :class:`Tagger`: a saved rasd model folder (or hub id) → tagged articles.

>>> from rasd.inference import Tagger                                  # doctest: +SKIP
>>> tagger = Tagger.from_pretrained("runs/arabert")                # doctest: +SKIP
>>> doc = tagger("سقطت صواريخ على قاعدة عين الأسد.")               # doctest: +SKIP
>>> [(e.start, e.end, e.label, e.text) for e in doc.entities]      # doctest: +SKIP
[(5, 11, 'WEAPON', 'صواريخ'), (16, 31, 'SITE', 'قاعدة عين الأسد')]
>>> [(s.start, s.end, s.labels) for s in doc.sentences]            # doctest: +SKIP
[(0, 32, ['ATTACK'])]

Long articles are never truncated: each article is cut into sentence-aligned
windows (:func:`rasd.windows.encode_document`), windows of all articles in a
call are sorted by length and batched, and predictions are decoded back onto
the caller's original string (:mod:`inference.decode`).

Fast paths (see benchmarks/README.md for measured gains):

* ``token_budget=N``: batches hold at most ``N`` padded tokens (length-sorted), instead of
  ``batch_size`` windows — short windows travel in bigger batches.
* ``quantize="int8"``: dynamic int8 quantisation (per-channel) of the encoder's linear layers
  except the feed-forward output projections (torch backend: ``torch.ao.quantization.quantize_dynamic``, CPU only; onnx backend:
  the ``model.int8.onnx`` graph written by ``rasd export onnx --quantize int8``).
* ``dtype="bf16"``: bfloat16 weights and activations (torch backend). Pays on GPUs and on CPUs
  with native bf16 dot products (AVX512-BF16, AMX); elsewhere it is emulated and slower.
* ``prepack`` (on by default on CPU): encoder weights laid out once in oneDNN's blocked format
  and the feed-forward GELU fused into its matmul (:mod:`inference.prepack`).
* ``backend="onnx"``: onnxruntime on a folder written by ``rasd export onnx`` (:mod:`inference.onnx`).
* ``num_threads=N``: intra-op threads (``torch.set_num_threads``, process wide; onnxruntime session).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rasd.inference.decode import (
    TokenPrediction,
    article_events,
    decode_entities,
    first_subword_tags,
    sentence_events,
    sigmoid,
    window_tokens,
)
from rasd.inference.prepack import cpu_has_native_bf16, prepack_available, prepack_linears
from rasd.inference.records import derive_records
from rasd.inference.types import TaggedDocument, TaggedSentence
from torch.nn.utils.rnn import pad_sequence
from tqdm.auto import tqdm

from rasd.modeling import RasdMeta, RasdModel
from rasd.text import is_arabic, split_sentences
from rasd.windows import Window, encode_document

logger = logging.getLogger(__name__)


def default_device() -> str:
    """``cuda`` when a GPU is visible, else ``cpu``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_model_dir(
    path_or_hub_id: str | Path, revision: str | None = None, token: str | bool | None = None
) -> Path:
    """A local folder as is; otherwise a Hugging Face hub id downloaded (or found in the cache) by
    :func:`huggingface_hub.snapshot_download` — which works offline from the cache with ``HF_HUB_OFFLINE=1``."""
    path = Path(path_or_hub_id).expanduser()
    if path.is_dir():
        return path
    name = str(path_or_hub_id)
    if path.exists() or name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise FileNotFoundError(f"no model folder at {name!r}")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id=name, revision=revision, token=token))
    except Exception as exc:  # noqa: BLE001 - re-raised with the path the user typed
        raise FileNotFoundError(
            f"{name!r} is neither a model folder nor a reachable hub model: {exc}"
        ) from exc


@dataclass
class _Doc:
    """Work state of one article during a call."""

    id: str
    text: str
    extra: dict[str, Any]
    sentences: list[tuple[int, int]] = field(default_factory=list)
    tokens: list[TokenPrediction] = field(default_factory=list)
    event_probs: dict[int, np.ndarray] = field(default_factory=dict)


def _coerce(item: Any, index: int) -> tuple[str | None, str, dict[str, Any]]:
    """``(id or None, text, extra fields)`` of one input (a string or a mapping with ``text``)."""
    if isinstance(item, str):
        return None, item, {}
    if isinstance(item, dict):
        text = item.get("text")
        if not isinstance(text, str):
            raise TypeError(f"input {index}: 'text' must be a string, got {type(text).__name__}")
        doc_id = item.get("id")
        extra = {k: v for k, v in item.items() if k not in ("id", "text")}
        return (None if doc_id is None else str(doc_id)), text, extra
    raise TypeError(f"input {index}: expected a string or a dict with 'text', got {type(item).__name__}")


def quantize_int8(model: RasdModel) -> RasdModel:
    """Dynamic int8 quantisation (CPU, per-channel weights) of the encoder's ``nn.Linear`` layers.

    The feed-forward output projections (``layer.N.output.dense``, whose GELU inputs have large
    outliers) and both heads stay fp32: on runs/e5 this lifts span agreement with fp32 from
    63 to ~90 F1 at little speed cost (benchmarks/README.md).
    """
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    base = model.token_model.base_model
    spec = {
        name: per_channel_dynamic_qconfig
        for name, module in base.named_modules()
        if isinstance(module, torch.nn.Linear) and not _is_ffn_output(name)
    }
    quantize_dynamic(base, spec, dtype=torch.qint8, inplace=True)
    return model


def _is_ffn_output(name: str) -> bool:
    """BERT/RoBERTa naming: ``encoder.layer.N.output.dense`` (not ``attention.output.dense``)."""
    return name.endswith("output.dense") and "attention" not in name


DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def batch_bounds(
    lengths: Sequence[int], batch_size: int, token_budget: int | None = None
) -> list[tuple[int, int]]:
    """``[lo, hi)`` batches over windows sorted by decreasing length: ``batch_size`` windows each, or,
    with ``token_budget``, as many as fit ``rows × longest ≤ token_budget`` (at least one)."""
    if token_budget is None:
        return [(lo, min(lo + batch_size, len(lengths))) for lo in range(0, len(lengths), batch_size)]
    bounds, lo = [], 0
    while lo < len(lengths):
        rows = max(1, token_budget // max(1, lengths[lo]))
        bounds.append((lo, min(lo + rows, len(lengths))))
        lo = bounds[-1][1]
    return bounds


class Tagger:
    """Entities, sentence events, article events and event records for Arabic news articles."""

    group_size: int = 512  # articles whose windows are sorted and batched together

    def __init__(
        self,
        model: RasdModel,
        tokenizer: Any,
        meta: RasdMeta,
        device: str | torch.device | None = None,
        token_budget: int | None = None,
        num_threads: int | None = None,
    ):
        if token_budget is not None and token_budget < meta.max_length:
            raise ValueError(
                f"token_budget must be at least max_length ({meta.max_length}), got {token_budget}"
            )
        if num_threads:
            torch.set_num_threads(num_threads)
        self.device = torch.device(device or default_device())
        self.model = model.to(self.device).eval()
        self.token_budget = token_budget
        self.tokenizer = tokenizer
        self.meta = meta
        self.normalization = meta.normalization_options()
        self.id2label = {int(k): v for k, v in model.config.id2label.items()}
        self.event_types = list(meta.event_types)
        self.thresholds = dict(zip(self.event_types, meta.thresholds(), strict=True))

    @classmethod
    def from_pretrained(
        cls,
        path_or_hub_id: str | Path,
        device: str | torch.device | None = None,
        revision: str | None = None,
        token: str | bool | None = None,
        *,
        backend: str = "torch",
        quantize: str | None = None,
        num_threads: int | None = None,
        token_budget: int | None = None,
        dtype: str | None = None,
        prepack: bool | None = None,
    ) -> Tagger:
        """Load a saved model folder or hub id (``device`` defaults to cuda when available, else cpu).

        ``backend``: ``"torch"`` (a saved folder) or ``"onnx"`` (a folder from ``rasd export onnx``;
        chosen automatically for a folder with ``model.onnx`` and no ``model.safetensors``).
        ``quantize``: ``None`` or ``"int8"``; ``dtype``: ``None``/``"fp32"``, ``"bf16"`` or ``"fp16"``
        (torch backend; fp16 on GPU only); ``prepack``: oneDNN prepacked linear layers with fused GELU
        (:mod:`inference.prepack`; ``None``: on for the torch backend on CPU without ``quantize`` when the
        PyTorch build supports it; ``True``: required); ``num_threads``, ``token_budget``: see the module docstring.
        """
        if backend not in ("torch", "onnx"):
            raise ValueError(f"backend must be 'torch' or 'onnx', got {backend!r}")
        if quantize not in (None, "int8"):
            raise ValueError(f"quantize must be None or 'int8', got {quantize!r}")
        if dtype not in (None, *DTYPES):
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
        model_dir = resolve_model_dir(path_or_hub_id, revision=revision, token=token)
        if (
            backend == "torch"
            and (model_dir / "model.onnx").is_file()
            and not (model_dir / "model.safetensors").is_file()
        ):
            backend = "onnx"
        if dtype not in (None, "fp32") and (quantize or backend == "onnx"):
            raise ValueError(f"dtype={dtype!r} applies to the torch backend without quantize")
        device = device or default_device()
        on_cpu = backend == "torch" and torch.device(device).type == "cpu" and not quantize
        if prepack and not on_cpu:
            raise ValueError("prepack=True applies to the torch backend on CPU without quantize")
        if backend == "onnx":
            from rasd.inference.onnx import OnnxRasdModel
            from transformers import AutoTokenizer

            onnx_model = OnnxRasdModel(model_dir, quantize=quantize, num_threads=num_threads)
            tokenizer = AutoTokenizer.from_pretrained(model_dir)
            meta = RasdMeta.load(model_dir / "rasd.json")
            logger.info("loaded rasd onnx model from %s (%s)", model_dir, quantize or "fp32")
            return cls(onnx_model, tokenizer, meta, "cpu", token_budget, num_threads)  # type: ignore[arg-type]
        model, tokenizer, meta = RasdModel.from_pretrained(model_dir, device="cpu")
        if quantize == "int8":
            if torch.device(device).type != "cpu":
                raise ValueError("quantize='int8' runs on CPU only (use bf16 on GPU)")
            model = quantize_int8(model)
        if dtype == "fp16" and torch.device(device).type == "cpu":
            raise ValueError("dtype='fp16' needs a GPU (use bf16 on CPU)")
        if dtype == "bf16" and torch.device(device).type == "cpu" and not cpu_has_native_bf16():
            logger.warning("this CPU has no native bf16 (AVX512-BF16/AMX): bf16 is emulated and likely slower than fp32")
        model.to(device, dtype=DTYPES[dtype or "fp32"])
        if on_cpu and prepack is not False:
            if prepack_available(DTYPES[dtype or "fp32"]):
                prepack_linears(model.token_model.base_model, getattr(model.token_model.config, "hidden_act", None))
            elif prepack:
                raise ValueError(f"this PyTorch build cannot prepack {dtype or 'fp32'} linear layers (oneDNN)")
        logger.info("loaded rasd model from %s on %s (%s)", model_dir, device, quantize or dtype or "fp32")
        return cls(model, tokenizer, meta, device, token_budget, num_threads)

    def __call__(
        self, inputs: Any, batch_size: int = 32, show_progress_bar: bool = True
    ) -> TaggedDocument | list[TaggedDocument]:
        """Tag one string (→ :class:`TaggedDocument`) or many (list of strings, of dicts with
        ``text`` and optional ``id``, or a ``datasets.Dataset``) (→ list, in input order).

        Empty, whitespace-only and non-Arabic texts give empty results; non-strings raise ``TypeError``.
        """
        if isinstance(inputs, str):
            return self.tag([inputs], batch_size=batch_size, show_progress_bar=False)[0]
        if (
            inputs is None
            or isinstance(inputs, (bytes, bytearray, int, float, dict))
            or not isinstance(inputs, Iterable)
        ):
            raise TypeError(
                "Tagger expects a string, a list of strings, a list of dicts with 'text', or a datasets.Dataset; "
                f"got {type(inputs).__name__}"
            )
        return self.tag(list(inputs), batch_size=batch_size, show_progress_bar=show_progress_bar)

    predict = __call__

    def tag(
        self, items: Sequence[Any], batch_size: int = 32, show_progress_bar: bool = False
    ) -> list[TaggedDocument]:
        """Tag a sequence of strings or dicts (see :meth:`__call__`).

        Articles are processed in groups of :attr:`group_size` (windows sorted by length
        within a group), so memory stays bounded however many articles are passed.
        """
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        docs: list[_Doc] = []
        for i, item in enumerate(items):
            doc_id, text, extra = _coerce(item, i)
            docs.append(_Doc(doc_id if doc_id is not None else str(i), text, extra))
        results: list[TaggedDocument] = []
        with tqdm(total=0, unit=" windows", desc="tagging", disable=not show_progress_bar) as bar:
            for lo in range(0, len(docs), self.group_size):
                group = docs[lo : lo + self.group_size]
                self._tag_group(group, batch_size, bar)
                results += [self._finish(doc) for doc in group]
        return results

    def _tag_group(self, docs: list[_Doc], batch_size: int, bar: Any) -> None:
        windows: list[tuple[int, Window]] = []
        for d, doc in enumerate(docs):
            if not doc.text.strip() or not is_arabic(doc.text):
                continue
            doc.sentences = split_sentences(doc.text)
            encoded = encode_document(
                self.tokenizer,
                doc.text,
                doc.sentences,
                self.meta.max_length,
                self.normalization,
                self.meta.stride,
            )
            windows += [(d, w) for w in encoded]
        windows.sort(key=lambda dw: len(dw[1]), reverse=True)
        bar.total += len(windows)
        bar.refresh()
        for lo, hi in batch_bounds([len(w) for _, w in windows], batch_size, self.token_budget):
            batch = windows[lo:hi]
            self._run_batch(docs, batch, lo)
            bar.update(len(batch))

    @torch.inference_mode()
    def _run_batch(self, docs: list[_Doc], batch: list[tuple[int, Window]], first: int) -> None:
        """One forward pass over windows of possibly different articles; results go to each article."""
        enc = self.tokenizer.pad({"input_ids": [w.input_ids for _, w in batch]}, return_tensors="pt")
        # Sentence ids are per window, as in training: a sentence cut into chunks is pooled per chunk.
        keys: dict[tuple[int, int], int] = {}  # (batch row, sentence) → batch-global sentence id
        rows = []
        for k, (_, w) in enumerate(batch):
            rows.append(
                torch.tensor([-1 if s < 0 else keys.setdefault((k, s), len(keys)) for s in w.sentence_index])
            )
        side = getattr(self.tokenizer, "padding_side", "right")
        sentence_ids = pad_sequence(rows, batch_first=True, padding_value=-1, padding_side=side)
        out = self.model(
            input_ids=enc["input_ids"].to(self.device),
            attention_mask=enc["attention_mask"].to(self.device),
            sentence_ids=sentence_ids.to(self.device),
        )
        token_logits = out.token_logits.float().cpu().numpy()
        event_probs = sigmoid(out.event_logits.float().cpu().numpy().astype(np.float64))
        width = token_logits.shape[1]
        for k, (d, w) in enumerate(batch):
            logits = token_logits[k, width - len(w) :] if side == "left" else token_logits[k, : len(w)]
            docs[d].tokens += window_tokens(
                w.offsets, w.sentence_index, logits, self.id2label, w.owned, first + k, w.word_ids
            )
        for (k, s), row in keys.items():
            # A sentence split into chunks is seen by several windows: keep each type's highest probability.
            d = batch[k][0]
            prev = docs[d].event_probs.get(s)
            docs[d].event_probs[s] = event_probs[row] if prev is None else np.maximum(prev, event_probs[row])

    def _finish(self, doc: _Doc) -> TaggedDocument:
        tokens = doc.tokens if self.meta.label_all_subwords else first_subword_tags(doc.tokens)
        entities = decode_entities(doc.text, tokens)
        sentences = [
            TaggedSentence(s, e, sentence_events(doc.event_probs.get(i), self.event_types, self.thresholds))
            for i, (s, e) in enumerate(doc.sentences)
        ]
        events = article_events([s.events for s in sentences], self.event_types)
        records = derive_records(doc.id, doc.text, entities, sentences)
        return TaggedDocument(doc.id, doc.text, entities, sentences, events, records, doc.extra)
