"""Decoding: token BIO probabilities → entity spans on the raw text; event probabilities → labels.

Token predictions from all windows of a document are gathered into one
sequence in text order (overlapping chunks of an over-long sentence keep the
tokens each chunk *owns*), so a span running across a window or chunk border
is decoded as one span. Rules, in order:

1. BIO: ``B-X`` starts a span, ``I-X`` continues a span of ``X`` in the same
   sentence and otherwise starts one (I- without B-); a ``B-X`` right after a
   ``X`` span at a chunk border continues it. Spans never cross sentences.
2. Adjacent fragments of one label separated by nothing (a subword boundary)
   are merged; the score of a span is the mean of its tokens' max probability.
3. Each span is snapped to whole words (never starting or ending inside a
   word), then the proclitic prefix of its first word is trimmed with
   :func:`rasd.text.proclitic_length` (the guidelines' rule: «والقوات» →
   «القوات», «للقوات» → «لقوات»), then surrounding punctuation, quotes and
   invisible marks are stripped.

>>> text = "قال إن «والقوات» انسحبت"
>>> snap_span(text, 7, 14)          # «والقوات → القوات
(9, 15)
>>> text[9:15]
'القوات'
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from rasd.inference.types import ArticleEvent, Entity, EventScore
from rasd.text import proclitic_length


@dataclass(frozen=True)
class TokenPrediction:
    """One token of a document: raw-text offsets, sentence, predicted tag and its probability."""

    start: int
    end: int
    sentence: int
    tag: str
    score: float
    window: int = 0
    word: int = -1


@dataclass
class _Span:
    start: int
    end: int
    label: str
    scores: list[float] = field(default_factory=list)

    @property
    def score(self) -> float:
        return float(np.mean(self.scores)) if self.scores else 0.0


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax."""
    z = logits - logits.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits))


def window_tokens(
    offsets: Sequence[tuple[int, int]],
    sentence_index: Sequence[int],
    logits: np.ndarray,
    id2label: dict[int, str],
    owned: Sequence[bool] | None = None,
    window: int = 0,
    word_ids: Sequence[int] | None = None,
) -> list[TokenPrediction]:
    """Token predictions of one window: special, padding, empty and un-owned tokens are dropped.

    ``logits`` is ``[T, L]`` for the window's tokens (padding beyond ``len(offsets)`` ignored).
    """
    n = len(offsets)
    probs = softmax(np.asarray(logits[:n], dtype=np.float64))
    best = probs.argmax(-1)
    out = []
    for i, ((s, e), sent) in enumerate(zip(offsets, sentence_index, strict=True)):
        if sent < 0 or e <= s or (owned is not None and not owned[i]):
            continue
        word = int(word_ids[i]) if word_ids is not None and i < len(word_ids) else -1
        out.append(
            TokenPrediction(
                int(s), int(e), int(sent), id2label[int(best[i])], float(probs[i, best[i]]), window, word
            )
        )
    return out


def first_subword_tags(tokens: Iterable[TokenPrediction]) -> list[TokenPrediction]:
    """For models trained on first sub-words only: a later sub-word of a word follows the sub-word
    before it (``B-X`` → ``I-X``, same score), unless it is predicted ``B-X`` itself — training
    labels a continuation sub-word exactly when a span begins on it
    (:func:`rasd.training.alignment.tags_to_ids`), so the decoder keeps that rule too."""
    out: list[TokenPrediction] = []
    for tok in sorted(tokens, key=lambda t: (t.start, t.end)):
        prev = out[-1] if out else None
        if prev is not None and tok.word >= 0 and tok.word == prev.word and not tok.tag.startswith("B-"):
            tag = "I-" + prev.tag[2:] if prev.tag[:2] in ("B-", "I-") else prev.tag
            out.append(TokenPrediction(tok.start, tok.end, tok.sentence, tag, prev.score, tok.window, tok.word))
        else:
            out.append(tok)
    return out


def bio_spans(tokens: Iterable[TokenPrediction]) -> list[_Span]:
    """Group tokens (in text order) into labelled spans following the BIO rules above."""
    spans: list[_Span] = []
    cur: _Span | None = None
    prev: TokenPrediction | None = None
    for tok in sorted(tokens, key=lambda t: (t.start, t.end)):
        if prev is not None and (tok.start, tok.end) == (prev.start, prev.end):
            continue  # the same token twice (overlapping chunks without ownership)
        # A token that only overlaps the one before is a different piece: sentencepiece's lone
        # «▁» word marker is given the offsets of the word's first letter, (s, s+1), and the
        # word's first real piece (s, e) must not be dropped for it.
        prefix, _, label = tok.tag.partition("-")
        if prefix not in ("B", "I") or not label:
            cur = None
        else:
            same_run = (
                cur is not None and cur.label == label and prev is not None and prev.sentence == tok.sentence
            )
            glued = same_run and prev is not None and tok.start == prev.end  # subword boundary
            border = same_run and prev is not None and tok.window != prev.window
            if same_run and (prefix == "I" or glued or border):
                assert cur is not None
                cur.end = tok.end
                cur.scores.append(tok.score)
            else:
                cur = _Span(tok.start, tok.end, label, [tok.score])
                spans.append(cur)
        prev = tok
    return spans


# --- word boundaries, proclitics, punctuation ---------------------------------------------

_INVISIBLE_CATEGORIES = {"Cf"}


def _is_word_char(ch: str) -> bool:
    """Letters, marks, digits and format characters (ZWJ/ZWNJ, bidi marks) are inside words."""
    cat = unicodedata.category(ch)
    return cat[0] in "LMN" or cat in _INVISIBLE_CATEGORIES


def _is_edge_char(ch: str) -> bool:
    """Characters a span may start or end with: letters and digits (marks only at the end)."""
    return unicodedata.category(ch)[0] in "LN"


def _proclitic_cut(text: str, start: int, end: int) -> int:
    """Raw offset where the first word of ``text[start:end]`` starts once its proclitic is removed.

    Marks and format characters are skipped; tatweel is kept, since «لـأنصار» writes the clitic
    apart with it (:func:`rasd.text.proclitic_length` counts it with the clitic).
    """
    letters: list[str] = []
    index: list[int] = []
    i = start
    while i < end and _is_word_char(text[i]):
        if unicodedata.category(text[i]) not in ("Mn", "Cf"):
            letters.append(text[i])
            index.append(i)
        i += 1
    n = proclitic_length("".join(letters))
    if n and n == len(index):  # the word is the clitic alone («لـ «كتائب…»): the span starts after it
        return i
    return index[n] if 0 < n < len(index) else start


def snap_span(text: str, start: int, end: int) -> tuple[int, int] | None:
    """Snap ``[start, end)`` to whole words, trim a proclitic and surrounding punctuation.

    Returns ``None`` when nothing but punctuation or space is left.

    >>> t = "أعلنت «كتائب حزب الله»، وللقوات الأمريكية"
    >>> s, e = snap_span(t, 6, 23); t[s:e]
    'كتائب حزب الله'
    >>> s, e = snap_span(t, 27, 30); t[s:e]          # inside «وللقوات»
    'لقوات'
    """
    start, end = max(0, start), min(len(text), end)
    while start > 0 and start < len(text) and _is_word_char(text[start - 1]) and _is_word_char(text[start]):
        start -= 1
    while 0 < end < len(text) and _is_word_char(text[end - 1]) and _is_word_char(text[end]):
        end += 1
    while start < end and not _is_edge_char(text[start]):
        start += 1
    start = _proclitic_cut(text, start, end)
    while start < end and not _is_edge_char(text[start]):
        start += 1
    while end > start and not (_is_edge_char(text[end - 1]) or unicodedata.category(text[end - 1]) == "Mn"):
        end -= 1
    return (start, end) if start < end else None


def decode_entities(text: str, tokens: Iterable[TokenPrediction]) -> list[Entity]:
    """Entity spans on ``text`` from a document's token predictions (see the module rules).

    Overlaps created by snapping are resolved: one label → merged, two labels → the higher score wins.
    """
    snapped: list[_Span] = []
    for span in bio_spans(tokens):
        bounds = snap_span(text, span.start, span.end)
        if bounds is not None:
            snapped.append(_Span(bounds[0], bounds[1], span.label, span.scores))
    snapped.sort(key=lambda s: (s.start, s.end))
    kept: list[_Span] = []
    for span in snapped:
        last = kept[-1] if kept else None
        if last is not None and span.start < last.end:
            if span.label == last.label:
                last.end = max(last.end, span.end)
                last.scores = last.scores + span.scores
            elif span.score > last.score:
                kept[-1] = span
            continue
        if last is not None and span.label == last.label and span.start == last.end:
            last.end, last.scores = span.end, last.scores + span.scores  # glued fragments
            continue
        kept.append(span)
    return [Entity(s.start, s.end, s.label, text[s.start : s.end], s.score) for s in kept]


# --- events --------------------------------------------------------------------------------


def sentence_events(
    probs: np.ndarray | None, event_types: Sequence[str], thresholds: dict[str, float]
) -> list[EventScore]:
    """Event types whose probability reaches the type's threshold (0.5 when not saved), schema order."""
    if probs is None:
        return []
    return [
        EventScore(label, float(p))
        for label, p in zip(event_types, probs, strict=True)
        if p >= thresholds.get(label, 0.5)
    ]


def article_events(
    sentence_events_list: Sequence[Sequence[EventScore]], event_types: Sequence[str]
) -> list[ArticleEvent]:
    """Article-level events: union over sentences, max score, indices of the sentences carrying each."""
    found: dict[str, ArticleEvent] = {}
    for i, events in enumerate(sentence_events_list):
        for ev in events:
            art = found.setdefault(ev.label, ArticleEvent(ev.label, ev.score, []))
            art.score = max(art.score, ev.score)
            art.sentences.append(i)
    order = {t: k for k, t in enumerate(event_types)}
    return sorted(found.values(), key=lambda a: order.get(a.label, len(order)))
