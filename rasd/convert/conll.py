"""CoNLL BIO files ⇄ corpus documents.

Import (:func:`conll_to_documents`): one ``token TAG`` per line (extra middle
columns ignored; the tag is the last column), a blank line between sentences,
``-DOCSTART-`` lines start a new document. Tokens are joined with single spaces
so offsets are exact; each CoNLL sentence becomes one :class:`Sentence`
(without events) and sentences are joined by ``\\n``. CoNLL files such as
ANERcorp carry no document boundaries, so by default every sentence is its own
document (no invented context); ``sentences_per_doc`` groups consecutive ones.
A byte-order mark before the first token is skipped; errors name the line
(:class:`ConllError`; :func:`decode_lines` reads a binary file line by line).

Export (:func:`documents_to_conll`): whitespace words of each sentence, tagged
``B-``/``I-`` when they overlap an entity; entities that do not start and end
on word boundaries (e.g. after a proclitic) are reported and the whole word is
still tagged.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from rasd.corpus import Document, Sentence, Span
from rasd.schema import ENTITY_LABELS

log = logging.getLogger(__name__)

ANERCORP_MAP: dict[str, str] = {"PERS": "PERSON", "LOC": "LOCATION", "ORG": "ACTOR"}


class ConllError(ValueError):
    """A CoNLL input problem: ``str`` is ``line N: reason``; ``line`` is ``None`` for a problem
    with the options rather than the file (e.g. a bad mapping target)."""

    def __init__(self, reason: str, line: int | None = None):
        self.reason, self.line = reason, line
        super().__init__(reason if line is None else f"line {line}: {reason}")

    def __reduce__(self):
        return type(self), (self.reason, self.line)


def decode_lines(raw_lines: Iterable[bytes]) -> Iterator[str]:
    """UTF-8 lines of a binary file; :class:`ConllError` naming the line for invalid UTF-8.

    >>> list(decode_lines([b"a O\\n", b"\\xff O\\n"]))
    Traceback (most recent call last):
    rasd.convert.conll.ConllError: line 2: invalid UTF-8 at byte 0
    """
    for lineno, raw in enumerate(raw_lines, start=1):
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConllError(f"invalid UTF-8 at byte {exc.start}", lineno) from None


@dataclass
class ConllImport:
    """Result of a CoNLL import with the counts needed to check it."""

    documents: list[Document]
    sentences: int = 0
    tokens: int = 0
    b_tags: Counter = field(default_factory=Counter)  # by source label
    stray_i: Counter = field(default_factory=Counter)  # I- without a matching B- (treated as B-)
    dropped: Counter = field(default_factory=Counter)  # entities of unmapped labels dropped
    entities: Counter = field(default_factory=Counter)  # produced, by target label


def parse_label_map(spec: str | None) -> dict[str, str]:
    """``"PERS=PERSON,LOC=LOCATION"`` → ``{"PERS": "PERSON", "LOC": "LOCATION"}``.

    >>> parse_label_map("PERS=PERSON, ORG=ACTOR")
    {'PERS': 'PERSON', 'ORG': 'ACTOR'}
    """
    out: dict[str, str] = {}
    for item in (spec or "").split(","):
        if not item.strip():
            continue
        src, sep, dst = item.partition("=")
        if not sep or not src.strip() or not dst.strip():
            raise ValueError(f"bad label mapping {item.strip()!r} (expected SRC=DST)")
        out[src.strip()] = dst.strip()
    return out


def read_conll(lines: Iterable[str]) -> Iterator[tuple[int, list[tuple[str, str]]] | None]:
    """Yield ``(first_line, [(token, tag), ...])`` per sentence; ``None`` marks a ``-DOCSTART-``.

    A byte-order mark at the start of the first line is skipped.
    """
    sent: list[tuple[str, str]] = []
    first = 0
    for lineno, line in enumerate(lines, start=1):
        if lineno == 1 and line.startswith("\ufeff"):
            line = line[1:]
        parts = line.split()
        if not parts:
            if sent:
                yield first, sent
            sent = []
            continue
        if parts[0] == "-DOCSTART-":
            if sent:
                yield first, sent
            sent = []
            yield None
            continue
        if len(parts) < 2:
            raise ConllError(f"expected 'token TAG', got {line.strip()[:40]!r}", lineno)
        if not sent:
            first = lineno
        sent.append((parts[0], parts[-1]))
    if sent:
        yield first, sent


def _split_tag(tag: str, line: int) -> tuple[str, str | None]:
    if tag == "O":
        return "O", None
    m = re.fullmatch(r"([BI])[-_](.+)", tag)
    if not m:
        raise ConllError(f"malformed tag {tag[:40]!r} (expected O, B-X or I-X)", line)
    return m.group(1), m.group(2)


def conll_to_documents(
    lines: Iterable[str],
    *,
    label_map: dict[str, str] | None = None,
    drop_unmapped: bool = False,
    sentences_per_doc: int = 1,
    id_prefix: str = "conll-",
    source: str = "conll",
    labels: Sequence[str] = ENTITY_LABELS,
) -> ConllImport:
    """Convert CoNLL lines to documents.

    A source label is mapped through ``label_map``, else kept if it is one of ``labels``
    (default: the schema's), else dropped (``drop_unmapped``) or rejected with :class:`ConllError`.
    Other ``labels`` read corpora in their native label set (benchmarks/anercorp.py).
    """
    if sentences_per_doc < 1:
        raise ValueError("sentences_per_doc must be at least 1")
    label_map = label_map or {}
    for dst in label_map.values():
        if dst not in labels:
            raise ConllError(f"mapping target {dst!r} is not a schema label ({', '.join(labels)})")
    result = ConllImport(documents=[])
    groups: list[list[tuple[int, list[tuple[str, str]]]]] = [[]]
    for item in read_conll(lines):
        if item is None or len(groups[-1]) >= sentences_per_doc:
            if groups[-1]:
                groups.append([])
            if item is None:
                continue
        groups[-1].append(item)
    for group in (g for g in groups if g):
        result.documents.append(
            _build_document(
                group, f"{id_prefix}{len(result.documents) + 1:05d}", source, label_map, drop_unmapped, result, labels
            )
        )
    if sum(result.stray_i.values()):
        log.warning(
            "%d I- tag(s) without a preceding B- were treated as B-: %s",
            sum(result.stray_i.values()),
            dict(result.stray_i),
        )
    return result


def _target(label: str, label_map: dict[str, str], drop: bool, line: int, labels: Sequence[str]) -> str | None:
    if label in label_map:
        return label_map[label]
    if label in labels:
        return label
    if drop:
        return None
    raise ConllError(
        f"label {label!r} is neither mapped nor a schema label; map it with --map {label}=LABEL or pass --drop-unmapped",
        line,
    )


def _build_document(group, doc_id, source, label_map, drop, result: ConllImport, labels: Sequence[str]) -> Document:
    text_parts: list[str] = []
    entities: list[Span] = []
    sentences: list[Sentence] = []
    pos = 0
    for first_line, tokens in group:
        if sentences:
            text_parts.append("\n")
            pos += 1
        sent_start = pos
        current: list = []  # [source label, start, end, line] of the open entity
        opened: list[list] = []
        for k, (token, tag) in enumerate(tokens):
            if k:
                text_parts.append(" ")
                pos += 1
            start, end = pos, pos + len(token)
            text_parts.append(token)
            pos = end
            prefix, label = _split_tag(tag, first_line + k)
            if prefix == "O":
                current = []
            elif prefix == "B" or not current or current[0] != label:
                if prefix == "I":
                    result.stray_i[label] += 1
                else:
                    result.b_tags[label] += 1
                current = [label, start, end, first_line + k]
                opened.append(current)
            else:
                current[2] = end
        for label, start, end, line in opened:
            target = _target(label, label_map, drop, line, labels)
            if target is None:
                result.dropped[label] += 1
            else:
                entities.append(Span(start, end, target))
                result.entities[target] += 1
        sentences.append(Sentence(sent_start, pos, []))
        result.sentences += 1
        result.tokens += len(tokens)
    return Document(
        id=doc_id,
        text="".join(text_parts),
        source=source,
        synthetic=False,
        entities=entities,
        sentences=sentences,
    )


# --- export ----------------------------------------------------------------------------


@dataclass
class ConllExport:
    lines: list[str]
    warnings: list[str]


def documents_to_conll(docs: Iterable[Document]) -> ConllExport:
    """Word-level IOB2 lines (``word TAG``), a blank line after each sentence."""
    out = ConllExport([], [])
    for doc in docs:
        spans = sorted(doc.entities)
        sentences = doc.sentences or [Sentence(0, len(doc.text), [])]
        for sent in sentences:
            words = [(m.start(), m.end()) for m in re.finditer(r"\S+", doc.text[sent.start : sent.end])]
            words = [(s + sent.start, e + sent.start) for s, e in words]
            if not words:
                continue
            for span in spans:
                if not (sent.start <= span.start < sent.end):
                    continue
                inside = [w for w in words if w[0] < span.end and span.start < w[1]]
                if inside and (inside[0][0] != span.start or inside[-1][1] != span.end):
                    word_text = doc.text[inside[0][0] : inside[-1][1]]
                    out.warnings.append(
                        f"[{doc.id}] entity {span.start}-{span.end} {doc.span_text(span)!r} {span.label} "
                        f"not aligned to word boundaries (tagged word(s) {word_text!r})"
                    )
            owner: list[Span | None] = []
            for ws, we in words:
                hits = [s for s in spans if s.start < we and ws < s.end]
                if len(hits) > 1:
                    out.warnings.append(
                        f"[{doc.id}] word {doc.text[ws:we]!r} at {ws}-{we} overlaps {len(hits)} entities; "
                        f"tagged with the first ({hits[0].label})"
                    )
                owner.append(hits[0] if hits else None)
            for k, ((ws, we), span) in enumerate(zip(words, owner, strict=True)):
                if span is None:
                    tag = "O"
                elif k > 0 and owner[k - 1] == span:
                    tag = f"I-{span.label}"
                else:
                    tag = f"B-{span.label}"
                out.lines.append(f"{doc.text[ws:we]} {tag}")
            out.lines.append("")
    return out
