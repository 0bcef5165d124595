"""The :class:`Tagger`: a saved rasd model folder (or hub id) → tagged articles.

>>> from rasd import Tagger                                     # doctest: +SKIP
>>> tagger = Tagger.from_pretrained("runs/arabert")                # doctest: +SKIP
>>> doc = tagger("سقطت صواريخ على قاعدة عين الأسد.")               # doctest: +SKIP
>>> [(e.start, e.end, e.label, e.text) for e in doc.entities]      # doctest: +SKIP
[(5, 11, 'WEAPON', 'صواريخ'), (16, 31, 'SITE', 'قاعدة عين الأسد')]
>>> [(s.start, s.end, s.labels) for s in doc.sentences]            # doctest: +SKIP
[(0, 32, ['ATTACK'])]

Long articles are never truncated: each article is cut into sentence-aligned
windows (:func:`rasd.windows.encode_document`), windows of all articles in a
call are sorted by length and batched, and predictions are decoded back onto
the caller's original string (:mod:`rasd.inference.decode`, the one decoder: ``rasd evaluate``,
training's dev scores and cross-validation score what this class returns).
Model loading and precision choices live in :mod:`rasd.inference.loading`.

Fast paths (see benchmarks/README.md for measured gains):

* ``token_budget=N``: batches hold at most ``N`` padded tokens (length-sorted), instead of
  ``batch_size`` windows — short windows travel in bigger batches.
* ``quantize="int8"``: dynamic int8 quantisation (per-channel) of the encoder's linear layers
  except the feed-forward output projections (torch backend: ``torch.ao.quantization.quantize_dynamic``, CPU only; onnx backend:
  the ``model.int8.onnx`` graph written by ``rasd export onnx --quantize int8``).
* ``dtype="bf16"``: bfloat16 weights and activations (torch backend). Pays on GPUs and on CPUs
  with native bf16 dot products (AVX512-BF16, AMX); elsewhere it is emulated and slower.
* ``prepack`` (on by default on CPU): encoder weights laid out once in oneDNN's blocked format
  and the feed-forward GELU fused into its matmul (:mod:`rasd.inference.prepack`).
* ``backend="onnx"``: onnxruntime on a folder written by ``rasd export onnx`` (:mod:`rasd.inference.onnx`).
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
from torch.nn.utils.rnn import pad_sequence
from tqdm.auto import tqdm

from rasd.inference.decode import (
    TokenPrediction,
    article_events,
    decode_entities,
    first_subword_tags,
    sentence_events,
    sigmoid,
    window_tokens,
)
from rasd.inference.loading import (
    LoadOptions,
    default_device,
    load_for_tagging,
    pick_backend,
    resolve_model_dir,
)
from rasd.inference.records import derive_records
from rasd.inference.types import TaggedDocument, TaggedSentence
from rasd.modeling import RasdMeta, RasdModel
from rasd.text import given_sentence_bounds, is_arabic, sentence_bounds
from rasd.windows import Window, encode_document

logger = logging.getLogger(__name__)


@dataclass
class _Doc:
    """Work state of one article during a call."""

    id: str
    text: str
    extra: dict[str, Any]
    given_sentences: list[tuple[int, int]] | None = None
    sentences: list[tuple[int, int]] = field(default_factory=list)
    tokens: list[TokenPrediction] = field(default_factory=list)
    event_probs: dict[int, np.ndarray] = field(default_factory=dict)


def _coerce(item: Any, index: int) -> _Doc:
    """One input (a string, or a mapping with ``text`` and optional ``id`` and ``sentences``) as work state.

    A non-empty ``sentences`` (``[start, end]`` pairs or mappings with ``start``/``end``, e.g. a
    corpus record's) replaces the splitter; other fields are carried to the output unchanged.
    """
    if isinstance(item, str):
        return _Doc(str(index), item, {})
    if not isinstance(item, dict):
        raise TypeError(f"input {index}: expected a string or a dict with 'text', got {type(item).__name__}")
    text = item.get("text")
    if not isinstance(text, str):
        raise TypeError(f"input {index}: 'text' must be a string, got {type(text).__name__}")
    doc_id = item.get("id")
    extra = {k: v for k, v in item.items() if k not in ("id", "text", "sentences")}
    doc = _Doc(str(index) if doc_id is None else str(doc_id), text, extra)
    try:
        doc.given_sentences = given_sentence_bounds(text, item.get("sentences"))
    except ValueError as exc:
        raise ValueError(f"input {index}: {exc}") from None
    return doc


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
        thresholds: dict[str, float] | None = None,
    ):
        """Wrap a loaded model (``from_pretrained`` loads one from a folder or hub id).

        ``thresholds``: per event type decision thresholds replacing the saved ones (types not
        given keep theirs); evaluation passes 0 to see every type's probability.
        """
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
        self.thresholds = dict(zip(self.event_types, meta.thresholds(), strict=True)) | dict(thresholds or {})

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
        model_dir = resolve_model_dir(path_or_hub_id, revision=revision, token=token)
        options = LoadOptions(
            device=str(device or default_device()),
            backend=pick_backend(model_dir, backend),
            quantize=quantize,
            dtype=dtype,
            prepack=prepack,
            num_threads=num_threads,
        )
        model, tokenizer, meta, run_on = load_for_tagging(model_dir, options)
        return cls(model, tokenizer, meta, run_on, token_budget, num_threads)

    def __call__(
        self, inputs: Any, batch_size: int = 32, show_progress_bar: bool = True
    ) -> TaggedDocument | list[TaggedDocument]:
        """Tag one string (→ :class:`TaggedDocument`) or many (list of strings, of dicts with
        ``text`` and optional ``id`` and ``sentences``, or a ``datasets.Dataset``) (→ list, in input order).

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
        if isinstance(items, (str, bytes, bytearray, dict)):  # would tag each character (or key) as a document
            raise TypeError(
                f"Tagger.tag takes a sequence of documents, got one {type(items).__name__}: "
                "use tagger(text) for one article, or tagger.tag([item])"
            )
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        docs = [_coerce(item, i) for i, item in enumerate(items)]
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
            doc.sentences = sentence_bounds(doc.text, doc.given_sentences)
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
