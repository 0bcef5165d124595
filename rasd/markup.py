"""Inline annotation markup, the authoring format for new documents.

Annotators write the article with entity and event marks inline::

    # id: syn-001
    # source: synthetic/wire
    أعلنت [[ACTOR:وزارة الدفاع العراقية]] [[TIME:يوم الأحد]] ... {{ATTACK,CASUALTIES}}

* ``[[LABEL:mention]]`` marks an entity; everything around it stays raw text.
* ``{{TYPE,TYPE}}`` gives the event types of the sentence it ends (place it
  right after the sentence's final punctuation, before the space or line break).
* Lines starting with ``# key: value`` before the text are metadata;
  ``# ---`` starts a new document in the same file.

:func:`parse_markup` strips the marks, computes exact character offsets and
segments sentences with the project splitter (:func:`rasd.text.split_sentences`).
A problem (an unbalanced mark, a label or event type outside the schema, a mention
with surrounding spaces, a misplaced event mark, invalid UTF-8) is a
:class:`MarkupError` naming the file and line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from rasd.corpus import Document, Sentence, Span
from rasd.jsonl import RecordError, decode_file
from rasd.schema import ENTITY_LABELS, EVENT_TYPES
from rasd.text import split_sentences

_MARK = re.compile(r"\[\[([A-Z]+):(.+?)\]\]|\{\{([A-Z_, ]*)\}\}")
_META = re.compile(r"^#\s*([a-z_]+)\s*:\s*(.*)$")
_HEADER = re.compile(r"^#(\s|$)")
_SEPARATOR = re.compile(r"^# ---\s*$\n?", re.M)
_BRACKETS = ("[[", "]]", "{{", "}}")


class MarkupError(RecordError):
    """A markup problem at ``file:line [doc_id]`` (a :class:`~rasd.jsonl.RecordError`: same fields, same message)."""


def _stray_bracket(chunk: str) -> int:
    """Index of the first ``[[ ]] {{ }}`` left in raw text (a mark not closed or malformed), or -1."""
    found = [i for i in (chunk.find(b) for b in _BRACKETS) if i >= 0]
    return min(found) if found else -1


_EventMark = tuple[int, list[str], int]  # (text offset, event types, body offset)


@dataclass(frozen=True)
class _Body:
    """A document's marked-up text and where it stands in its file, to name lines in errors."""

    text: str
    origin: str
    first_line: int  # the file line of ``text[0]``
    doc_id: str

    def error(self, at: int, reason: str) -> MarkupError:
        """A :class:`MarkupError` at the line of offset ``at``."""
        return MarkupError(self.origin, self.first_line + self.text.count("\n", 0, at), reason, self.doc_id)

    def near(self, at: int) -> str:
        """The text around ``at`` on its line."""
        lo = max(self.text.rfind("\n", 0, at) + 1, at - 20)
        hi = self.text.find("\n", at)
        return repr(self.text[lo : min(at + 40, len(self.text) if hi < 0 else hi)])

    def check_raw(self, pos: int, end: int) -> str:
        """``text[pos:end]``, raw text between marks; an error if a bracket of a broken mark is in it."""
        chunk = self.text[pos:end]
        stray = _stray_bracket(chunk)
        if stray >= 0:
            at = pos + stray
            raise self.error(at, f"unbalanced mark near {self.near(at)}")
        return chunk


def _read_header(source: str) -> tuple[dict[str, str], str, int]:
    """Split ``source`` into its header metadata, its body and the number of header lines."""
    meta: dict[str, str] = {}
    lines = source.split("\n")
    skipped = 0
    # Header: ``# key: value`` and ``# comment`` lines; a hashtag such as ``#عاجل`` is text.
    while lines and (_HEADER.match(lines[0]) or not lines[0].strip()):
        m = _META.match(lines[0])
        if m:
            meta[m.group(1)] = m.group(2).strip()
        lines.pop(0)
        skipped += 1
    return meta, "\n".join(lines).rstrip("\n"), skipped


def _entity_mention(body: _Body, m: re.Match[str], labels: Sequence[str]) -> str:
    """The mention of the entity mark ``m``, checked (not nested, no spaces around, a known label)."""
    label, mention = m.group(1), m.group(2)
    if "[[" in mention:
        raise body.error(m.start(), f"nested mark in {m.group(0)!r}")
    if _stray_bracket(mention) >= 0:
        raise body.error(m.start(), f"unbalanced mark inside {m.group(0)!r}")
    if mention != mention.strip():
        raise body.error(m.start(), f"mention in {m.group(0)!r} starts or ends with whitespace")
    if label not in labels:
        raise body.error(m.start(), f"unknown label {label!r} in {m.group(0)!r} (known: {', '.join(labels)})")
    return mention


def _event_types(body: _Body, m: re.Match[str], event_types: Sequence[str]) -> list[str]:
    """The event types of the event mark ``m``, each checked against ``event_types``."""
    types = [t.strip() for t in m.group(3).split(",") if t.strip()]
    unknown = [t for t in types if t not in event_types]
    if unknown:
        raise body.error(
            m.start(), f"unknown event type {unknown[0]!r} in {m.group(0)!r} (known: {', '.join(event_types)})"
        )
    return types


def _strip_marks(
    body: _Body, labels: Sequence[str], event_types: Sequence[str]
) -> tuple[str, list[Span], list[_EventMark]]:
    """The text of ``body`` without its marks, with the entities and event marks they made."""
    text_parts: list[str] = []
    entities: list[Span] = []
    event_marks: list[_EventMark] = []
    pos = 0
    length = 0
    for m in _MARK.finditer(body.text):
        chunk = body.check_raw(pos, m.start())
        text_parts.append(chunk)
        length += len(chunk)
        if m.group(1):
            mention = _entity_mention(body, m, labels)
            entities.append(Span(length, length + len(mention), m.group(1)))
            text_parts.append(mention)
            length += len(mention)
        else:
            event_marks.append((length, _event_types(body, m, event_types), m.start()))
        pos = m.end()
    text_parts.append(body.check_raw(pos, len(body.text)))
    text = "".join(text_parts)
    if _stray_bracket(text) >= 0:  # brackets formed across a mark, e.g. «[[[ACTOR:x]]»
        at = _stray_bracket(text)
        raise body.error(0, f"unbalanced mark left in text near {text[max(0, at - 20) : at + 40]!r}")
    return text, entities, event_marks


def _attach_events(body: _Body, text: str, sentences: list[Sentence], event_marks: list[_EventMark]) -> None:
    """Add each event mark's types to the sentence it ends."""
    for at, types, mark_at in event_marks:
        # The mark follows its sentence: attach to the last sentence starting before it.
        target = None
        for sent in sentences:
            if sent.start < at:
                target = sent
            else:
                break
        if target is None:
            raise body.error(mark_at, f"event mark {types} before any sentence")
        if at > target.end:
            raise body.error(
                mark_at,
                f"event mark {types} is not at the end of a sentence (after {text[max(0, at - 30):at]!r})",
            )
        target.events.extend(t for t in types if t not in target.events)


def parse_markup(
    source: str,
    *,
    doc_id: str,
    origin: str = "<markup>",
    first_line: int = 1,
    labels: Sequence[str] = ENTITY_LABELS,
    event_types: Sequence[str] = EVENT_TYPES,
) -> Document:
    """Parse one marked-up article into a :class:`Document` with exact offsets.

    Errors are :class:`MarkupError` naming ``origin`` and the line (``first_line`` is the line of
    ``source`` in its file); entity labels must be in ``labels`` and event types in ``event_types``.
    """
    meta, text, skipped = _read_header(source)
    if meta.get("keep_final_newline", "false").lower() == "true":
        text += "\n"
    body = _Body(text, origin, first_line + skipped, meta.get("id", doc_id))
    text, entities, event_marks = _strip_marks(body, labels, event_types)
    sentences = [Sentence(s, e, []) for s, e in split_sentences(text)]
    _attach_events(body, text, sentences, event_marks)
    return Document(
        id=body.doc_id,
        text=text,
        source=meta.get("source", ""),
        synthetic=meta.get("synthetic", "false").lower() == "true",
        entities=entities,
        sentences=sentences,
    )


def iter_markup_file(path: str | Path) -> Iterator[tuple[int, Document]]:
    """Yield ``(first line, document)`` for each document of a markup file (``# ---`` separates
    documents); raise :class:`MarkupError` naming the file and line on the first problem.

    The file must be UTF-8 (a byte-order mark is skipped).
    """
    path = Path(path)
    text = decode_file(path.read_bytes(), path, MarkupError)
    pieces: list[tuple[int, str]] = []
    pos = 0
    for m in _SEPARATOR.finditer(text):
        pieces.append((pos, text[pos : m.start()]))
        pos = m.end()
    pieces.append((pos, text[pos:]))
    i = 0
    for at, chunk in pieces:
        if not chunk.strip():
            continue
        first_line = text.count("\n", 0, at) + 1
        yield first_line, parse_markup(chunk, doc_id=f"{path.stem}-{i:03d}", origin=str(path), first_line=first_line)
        i += 1


def read_markup_file(path: str | Path) -> list[Document]:
    """Parse a markup file holding one or more documents separated by ``# ---`` lines."""
    return [doc for _, doc in iter_markup_file(path)]


def to_markup(doc: Document) -> str:
    """Render a document back to markup (entities and sentence events inline)."""
    inserts: list[tuple[int, float, str]] = []
    for s in doc.entities:
        inserts.append((s.start, 1, f"[[{s.label}:"))
        inserts.append((s.end, 0, "]]"))
    for sent in doc.sentences:
        if sent.events:
            # After an entity closing at the sentence end, before one opening there.
            inserts.append((sent.end, 0.5, "{{" + ",".join(sent.events) + "}}"))
    out, pos = [], 0
    for at, _, mark in sorted(inserts, key=lambda x: (x[0], x[1])):
        out.append(doc.text[pos:at])
        out.append(mark)
        pos = at
    out.append(doc.text[pos:])
    header = f"# id: {doc.id}\n# source: {doc.source}\n# synthetic: {str(doc.synthetic).lower()}\n"
    return header + "".join(out)
