"""Character spans → IOB2 token tags through the fast tokenizer's offset mapping.

Alignment works on the document's real tokens (:class:`rasd.windows.DocumentTokens`),
never on a whitespace word list, so a span that begins after a proclitic inside a
word is learned on the token that contains its start (tokenizer token «والق»
covering و+ال+ق gets ``B-ACTOR`` for «القوات»; the tagger trims the proclitic back).

Default: every sub-word token of a span is tagged (``label_all_subwords=True``).
Spans in this project start and end inside words (proclitics, «لقوات» from «للقوات»),
and the output is character spans, so every token needs its own decision; with
first-sub-word-only tags a span starting on a word's second token could not be
learned at all. With ``label_all_subwords=False`` the HF convention applies
(continuation tokens get ``-100``) except on the token where a span begins.

Spans that no token overlaps are never dropped silently: they come back as
:class:`AlignmentIssue` (and a warning is logged by the caller's summary).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from rasd.corpus import Span

logger = logging.getLogger(__name__)

IGNORE = -100


@dataclass(frozen=True)
class AlignmentIssue:
    """A span whose character boundaries do not coincide with token boundaries."""

    start: int
    end: int
    label: str
    text: str
    reason: str  # "no_token" (not learned), "inside_token" (learned on the enclosing tokens), "overlap"
    doc_id: str = ""

    def __str__(self) -> str:
        return f"[{self.doc_id}] {self.label} {self.start}:{self.end} «{self.text}»: {self.reason}"


def align_spans(
    offsets: Sequence[tuple[int, int]],
    spans: Sequence[Span],
    text: str = "",
    doc_id: str = "",
) -> tuple[list[str], list[AlignmentIssue]]:
    """IOB2 tag per token: ``B-X`` on the first token overlapping span X, ``I-X`` on later ones.

    ``offsets`` are raw-text ``(start, end)`` per token, in text order. Zero-width tokens
    stay ``O``. Returns the tags and the spans that did not align exactly.
    """
    tags = ["O"] * len(offsets)
    issues: list[AlignmentIssue] = []
    starts = [s for s, _ in offsets]
    import bisect

    for span in sorted(spans):
        # First token that may overlap: the last one starting at or before span.start.
        i = max(0, bisect.bisect_right(starts, span.start) - 1)
        hit: list[int] = []
        while i < len(offsets) and offsets[i][0] < span.end:
            s, e = offsets[i]
            if e > s and e > span.start:
                hit.append(i)
            i += 1
        mention = text[span.start : span.end]
        if not hit:
            issues.append(AlignmentIssue(span.start, span.end, span.label, mention, "no_token", doc_id))
            continue
        if any(tags[j] != "O" for j in hit):
            # Flat spans never share a token; when a tokenizer merges two spans into one token
            # the first span keeps it.
            issues.append(AlignmentIssue(span.start, span.end, span.label, mention, "overlap", doc_id))
            hit = [j for j in hit if tags[j] == "O"]
            if not hit:
                continue
        if offsets[hit[0]][0] != span.start or offsets[hit[-1]][1] != span.end:
            issues.append(AlignmentIssue(span.start, span.end, span.label, mention, "inside_token", doc_id))
        tags[hit[0]] = f"B-{span.label}"
        for j in hit[1:]:
            tags[j] = f"I-{span.label}"
    return tags, issues


def tags_to_ids(
    tags: Sequence[str],
    label2id: dict[str, int],
    word_ids: Sequence[int] | None = None,
    label_all_subwords: bool = True,
) -> list[int]:
    """Tag ids per token; with ``label_all_subwords=False`` word-continuation tokens get ``-100``

    (unless a span begins on them, the only way to learn a span that starts mid-word).
    """
    ids = [label2id[t] for t in tags]
    if label_all_subwords or word_ids is None:
        return ids
    out = []
    for i, tag_id in enumerate(ids):
        continuation = i > 0 and word_ids[i] >= 0 and word_ids[i] == word_ids[i - 1]
        out.append(IGNORE if continuation and not tags[i].startswith("B-") else tag_id)
    return out


def log_issues(issues: Sequence[AlignmentIssue], limit: int = 10) -> None:
    """Warn about spans not learned; summarise inexact ones."""
    lost = [i for i in issues if i.reason != "inside_token"]
    inexact = len(issues) - len(lost)
    if inexact:
        logger.info("%d spans start or end inside a token (learned on the enclosing tokens)", inexact)
    if lost:
        logger.warning("%d spans could not be aligned to tokens, e.g.: %s", len(lost), "; ".join(map(str, lost[:limit])))
