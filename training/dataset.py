"""Documents → windows → model features, and the collator that batches them.

A feature is one window: ``input_ids``, ``labels`` (tag id per token, -100 for
special tokens and ignored sub-words), ``sentence_ids`` (window-local sentence
number per token, -1 for specials) and ``event_labels`` (one multi-hot row per
window sentence). :class:`RasdCollator` pads with ``tokenizer.pad`` and renumbers
sentence ids so they index the batch's stacked ``event_labels`` rows.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.nn.utils.rnn import pad_sequence

from rasd.corpus import Document, Sentence
from rasd.text import NormalizationOptions, sentence_bounds
from rasd.training.alignment import IGNORE, AlignmentIssue, align_spans, log_issues, tags_to_ids
from rasd.windows import DocumentTokens, Window, pack_windows, tokenize_document

logger = logging.getLogger(__name__)


@dataclass
class EncodedDocument:
    """A document with its tokens, gold tags per token and windows."""

    doc: Document
    tokens: DocumentTokens
    windows: list[Window]
    tags: list[str]  # gold IOB2 tag per document token
    label_ids: list[int]  # training target per document token (-100 = ignored)
    issues: list[AlignmentIssue] = field(default_factory=list)

    @property
    def sentences(self) -> list[tuple[int, int]]:
        return sentence_bounds(self.doc.text, self.doc.sentences or None)


def encode_documents(
    docs: Sequence[Document],
    tokenizer: Any,
    label2id: dict[str, int],
    max_length: int,
    stride: int = 32,
    normalization: NormalizationOptions | None = None,
    label_all_subwords: bool = True,
) -> list[EncodedDocument]:
    """Tokenise, align and window every document; alignment problems are logged once for the corpus."""
    encoded: list[EncodedDocument] = []
    all_issues: list[AlignmentIssue] = []
    for doc in docs:
        sentences = doc.sentences or [Sentence(a, b, []) for a, b in sentence_bounds(doc.text)]
        tokens = tokenize_document(tokenizer, doc.text, sentences, normalization)
        known = [s for s in doc.entities if f"B-{s.label}" in label2id]
        if len(known) < len(doc.entities):
            logger.debug("%s: %d spans with labels the model does not have", doc.id, len(doc.entities) - len(known))
        tags, issues = align_spans(tokens.offsets, known, doc.text, doc.id)
        label_ids = tags_to_ids(tags, label2id, tokens.word_ids, label_all_subwords)
        windows = pack_windows(tokenizer, tokens, max_length, stride)
        if not doc.sentences:
            doc = Document(doc.id, doc.text, doc.source, doc.synthetic, doc.entities, sentences, doc.extra)
        encoded.append(EncodedDocument(doc, tokens, windows, tags, label_ids, issues))
        all_issues.extend(issues)
    log_issues(all_issues)
    return encoded


def window_features(enc: EncodedDocument, window: Window, event_types: Sequence[str]) -> dict[str, Any]:
    """Model inputs and targets of one window."""
    local = {s: i for i, s in enumerate(window.sentences)}
    index = {t: i for i, t in enumerate(event_types)}
    events = [[0.0] * len(event_types) for _ in window.sentences]
    for s, row in zip(window.sentences, events, strict=True):
        for ev in enc.doc.sentences[s].events:
            if ev in index:
                row[index[ev]] = 1.0
    return {
        "input_ids": window.input_ids,
        "labels": [enc.label_ids[p] if p >= 0 else IGNORE for p in window.positions],
        "sentence_ids": [local[s] if s >= 0 else -1 for s in window.sentence_index],
        "event_labels": events,
    }


class WindowDataset(torch.utils.data.Dataset):
    """All windows of a corpus as features (a plain list: corpora here are small)."""

    def __init__(self, encoded: Sequence[EncodedDocument], event_types: Sequence[str]):
        self.features = [window_features(e, w, event_types) for e in encoded for w in e.windows]

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.features[i]


@dataclass
class RasdCollator:
    """Pads a list of window features into a batch; ``labels``/``event_labels`` optional."""

    tokenizer: Any
    n_events: int
    pad_to_multiple_of: int | None = None

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        batch = self.tokenizer.pad(
            {"input_ids": [f["input_ids"] for f in features]},
            padding=True,
            pad_to_multiple_of=self.pad_to_multiple_of,
            return_tensors="pt",
            return_attention_mask=True,
        )
        length = batch["input_ids"].size(1)
        right = self.tokenizer.padding_side == "right"

        def pad(rows: list[list[int]], value: int) -> torch.Tensor:
            tensors = [torch.tensor(r, dtype=torch.long) for r in rows]
            if not right:
                tensors = [t.flip(0) for t in tensors]
            out = pad_sequence(tensors, batch_first=True, padding_value=value)
            out = torch.nn.functional.pad(out, (0, length - out.size(1)), value=value)
            return out if right else out.flip(1)

        # Window-local sentence numbers → batch-global rows of the stacked event_labels.
        counts = torch.tensor([len(f["event_labels"]) for f in features])
        shift = torch.cumsum(counts, 0) - counts
        local = pad([f["sentence_ids"] for f in features], -1)
        batch["sentence_ids"] = torch.where(local >= 0, local + shift.unsqueeze(1), local)
        if "labels" in features[0]:
            batch["labels"] = pad([f["labels"] for f in features], IGNORE)
        rows = [torch.tensor(f["event_labels"], dtype=torch.float).reshape(-1, self.n_events) for f in features]
        batch["event_labels"] = torch.cat(rows) if rows else torch.zeros(0, self.n_events)
        return dict(batch)
