"""Tokenise a document once and pack it into sentence-aligned model windows.

:func:`encode_document` is shared by training and inference so both see the
same tokens: the raw text is normalised (offset map kept), tokenised once with
offsets, and whole consecutive sentences are packed into windows of at most
``max_length`` tokens including special tokens. A sentence longer than a window
is cut into token chunks overlapping by ``stride`` tokens; each token is
*owned* by exactly one window (the chunk where it sits furthest from a cut), so
merging predictions needs no voting.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rasd.text import NormalizationOptions, normalize, sentence_bounds

logger = logging.getLogger(__name__)

SPECIAL_OFFSET = (0, 0)


@dataclass
class DocumentTokens:
    """A whole document's tokens (no special tokens), offsets in the raw text."""

    input_ids: list[int]
    offsets: list[tuple[int, int]]
    word_ids: list[int]
    sentence_index: list[int]  # document sentence index per token (-1: outside every sentence)


@dataclass
class Window:
    """One model input: special tokens around whole sentences (or a chunk of one long sentence).

    ``positions`` gives each token's index in :class:`DocumentTokens` (-1 for specials);
    ``owned`` marks the tokens whose predictions this window is responsible for (a token in
    the overlap of two chunks is owned by one of them; specials are never owned).
    ``chunk`` is ``(k, n)`` when the window holds chunk ``k`` of ``n`` of one long sentence,
    ``None`` when it holds whole sentences.
    """

    input_ids: list[int]
    offsets: list[tuple[int, int]]
    sentence_index: list[int]
    sentences: list[int]
    owned: list[bool]
    positions: list[int]
    chunk: tuple[int, int] | None = None
    word_ids: list[int] = field(default_factory=list)  # pre-tokeniser word per token, -1 for specials

    def __len__(self) -> int:
        return len(self.input_ids)


def special_template(tokenizer: Any) -> tuple[list[int], list[int]]:
    """The ids a tokenizer puts before and after a single sequence (e.g. ``[CLS]`` / ``[SEP]``).

    Found by probing, because transformers 5 dropped ``build_inputs_with_special_tokens``
    from fast tokenizers and models differ (BERT: CLS/SEP, RoBERTa: <s>/</s>).
    """
    probe = "a"
    plain = tokenizer(probe, add_special_tokens=False)["input_ids"]
    full = tokenizer(probe, add_special_tokens=True)["input_ids"]
    for i in range(len(full) - len(plain) + 1):
        if full[i : i + len(plain)] == plain:
            return list(full[:i]), list(full[i + len(plain) :])
    raise ValueError("cannot locate the special-token template of this tokenizer")


def tokenize_document(
    tokenizer: Any,
    text: str,
    sentences: Sequence[Any],
    normalization: NormalizationOptions | None = None,
) -> DocumentTokens:
    """Tokenise the normalised view of ``text`` once; offsets map back to ``text``."""
    if not getattr(tokenizer, "is_fast", False):
        raise TypeError("rasd needs a fast tokenizer (offset mapping); got " + type(tokenizer).__name__)
    norm = normalize(text, normalization)
    if not norm.text:
        return DocumentTokens([], [], [], [])
    enc = tokenizer(norm.text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    ids: list[int] = list(enc["input_ids"])
    word_ids = [-1 if w is None else w for w in enc.word_ids()]
    offsets: list[tuple[int, int]] = []
    for s, e in enc["offset_mapping"]:
        if e > s:
            offsets.append((norm.offsets[s], norm.offsets[e - 1] + 1))
        else:  # zero-width token (e.g. a lone sentencepiece marker): anchor it where it sits
            pos = norm.offsets[s] if s < len(norm.offsets) else norm.original_length
            offsets.append((pos, pos))
    pairs = sentence_bounds(text, sentences)
    order = sorted(range(len(pairs)), key=lambda i: pairs[i])
    starts = [pairs[i][0] for i in order]
    sent_of: list[int] = []
    for s, e in offsets:
        k = bisect.bisect_right(starts, s) - 1
        if k >= 0 and s < pairs[order[k]][1]:
            sent_of.append(order[k])
        elif k + 1 < len(order) and e > starts[k + 1]:  # token starts in a gap but reaches the next sentence
            sent_of.append(order[k + 1])
        else:
            sent_of.append(-1)
    return DocumentTokens(ids, offsets, word_ids, sent_of)


def encode_document(
    tokenizer: Any,
    text: str,
    sentences: Sequence[Any] | None,
    max_length: int,
    normalization: NormalizationOptions | None = None,
    stride: int = 32,
) -> list[Window]:
    """Split a document into sentence-aligned windows (see the module docstring).

    ``sentences`` are ``(start, end)`` pairs or objects with ``start``/``end``
    (:class:`rasd.corpus.Sentence`); ``None`` uses :func:`rasd.text.split_sentences`.
    Tokens outside every sentence (only possible with foreign sentence spans) are left
    out; sentences without tokens get no window.
    """
    return pack_windows(tokenizer, tokenize_document(tokenizer, text, sentences, normalization), max_length, stride)


def pack_windows(tokenizer: Any, doc: DocumentTokens, max_length: int, stride: int = 32) -> list[Window]:
    """Pack a tokenised document into windows (the second half of :func:`encode_document`)."""
    prefix, suffix = special_template(tokenizer)
    capacity = max_length - len(prefix) - len(suffix)
    if capacity < 2:
        raise ValueError(f"max_length={max_length} leaves no room for tokens")
    stride = max(0, min(stride, capacity // 2))

    # Contiguous token ranges per sentence, in text order.
    ranges: list[tuple[int, int, int]] = []  # (sentence, first token, end token)
    dropped = 0
    for pos, sent in enumerate(doc.sentence_index):
        if sent < 0:
            dropped += 1
        elif ranges and ranges[-1][0] == sent and ranges[-1][2] == pos:
            ranges[-1] = (sent, ranges[-1][1], pos + 1)
        else:
            ranges.append((sent, pos, pos + 1))
    if dropped:
        logger.debug("%d tokens fall outside every sentence and are not encoded", dropped)

    windows: list[Window] = []

    def emit(pieces: list[tuple[int, int]], owned: list[bool] | None = None, chunk=None) -> None:
        positions = [p for a, b in pieces for p in range(a, b)]
        n_pre, n_suf = len(prefix), len(suffix)
        own = owned if owned is not None else [True] * len(positions)
        sents: list[int] = []
        for p in positions:
            s = doc.sentence_index[p]
            if not sents or sents[-1] != s:
                sents.append(s)
        windows.append(
            Window(
                input_ids=prefix + [doc.input_ids[p] for p in positions] + suffix,
                offsets=[SPECIAL_OFFSET] * n_pre + [doc.offsets[p] for p in positions] + [SPECIAL_OFFSET] * n_suf,
                sentence_index=[-1] * n_pre + [doc.sentence_index[p] for p in positions] + [-1] * n_suf,
                sentences=sents,
                owned=[False] * n_pre + own + [False] * n_suf,
                positions=[-1] * n_pre + positions + [-1] * n_suf,
                chunk=chunk,
                word_ids=[-1] * n_pre + [doc.word_ids[p] for p in positions] + [-1] * n_suf,
            )
        )

    pending: list[tuple[int, int]] = []
    used = 0
    for _sent, a, b in ranges:
        n = b - a
        if n > capacity:
            if pending:
                emit(pending)
                pending, used = [], 0
            _emit_chunks(emit, a, b, capacity, stride)
            continue
        if used + n > capacity:
            emit(pending)
            pending, used = [], 0
        pending.append((a, b))
        used += n
    if pending:
        emit(pending)
    return windows


def _emit_chunks(emit, a: int, b: int, capacity: int, stride: int) -> None:
    """Cut tokens ``[a, b)`` of one long sentence into chunks overlapping by ``stride``."""
    step = capacity - stride
    # The last start is the first one whose chunk reaches ``b`` (stride < capacity, so step > 0).
    bounds = [(s, min(s + capacity, b)) for s in range(a, b - stride, step)]
    n = len(bounds)
    for k, (s, e) in enumerate(bounds):
        # Each overlap is split at its midpoint: tokens nearer this chunk's centre are owned here.
        lo = s if k == 0 else (s + bounds[k - 1][1]) // 2
        hi = e if k == n - 1 else (bounds[k + 1][0] + e) // 2
        owned = [lo <= p < hi for p in range(s, e)]
        emit([(s, e)], owned, (k, n))
