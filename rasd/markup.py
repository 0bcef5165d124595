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
"""

from __future__ import annotations

import re
from pathlib import Path

from rasd.corpus import Document, Sentence, Span
from rasd.text import split_sentences

_MARK = re.compile(r"\[\[([A-Z]+):(.+?)\]\]|\{\{([A-Z_, ]*)\}\}")
_META = re.compile(r"^#\s*([a-z_]+)\s*:\s*(.*)$")
_HEADER = re.compile(r"^#(\s|$)")


class MarkupError(ValueError):
    pass


def parse_markup(source: str, *, doc_id: str, origin: str = "<markup>") -> Document:
    """Parse one marked-up article into a :class:`Document` with exact offsets."""
    meta: dict[str, str] = {}
    lines = source.split("\n")
    # Header: ``# key: value`` and ``# comment`` lines; a hashtag such as ``#عاجل`` is text.
    while lines and (_HEADER.match(lines[0]) or not lines[0].strip()):
        m = _META.match(lines[0])
        if m:
            meta[m.group(1)] = m.group(2).strip()
        lines.pop(0)
    body = "\n".join(lines).rstrip("\n")
    if meta.get("keep_final_newline", "false").lower() == "true":
        body += "\n"
    text_parts: list[str] = []
    entities: list[Span] = []
    event_marks: list[tuple[int, list[str]]] = []
    pos = 0
    length = 0
    for m in _MARK.finditer(body):
        chunk = body[pos : m.start()]
        text_parts.append(chunk)
        length += len(chunk)
        if m.group(1):
            mention = m.group(2)
            if "[[" in mention:
                raise MarkupError(f"{origin} [{doc_id}]: nested mark in {m.group(0)!r}")
            entities.append(Span(length, length + len(mention), m.group(1)))
            text_parts.append(mention)
            length += len(mention)
        else:
            types = [t.strip() for t in m.group(3).split(",") if t.strip()]
            event_marks.append((length, types))
        pos = m.end()
    text_parts.append(body[pos:])
    text = "".join(text_parts)
    if "[[" in text or "]]" in text or "{{" in text or "}}" in text:
        bad = text[max(0, text.find("[[") - 20) : text.find("[[") + 40] if "[[" in text else ""
        raise MarkupError(f"{origin} [{doc_id}]: unbalanced mark left in text near {bad!r}")
    sentences = [Sentence(s, e, []) for s, e in split_sentences(text)]
    for at, types in event_marks:
        # The mark follows its sentence: attach to the last sentence starting before it.
        target = None
        for sent in sentences:
            if sent.start < at:
                target = sent
            else:
                break
        if target is None:
            raise MarkupError(f"{origin} [{doc_id}]: event mark {types} before any sentence")
        if at > target.end:
            raise MarkupError(
                f"{origin} [{doc_id}]: event mark {types} is not at the end of a sentence "
                f"(after {text[max(0, at - 30):at]!r})"
            )
        target.events.extend(t for t in types if t not in target.events)
    return Document(
        id=meta.get("id", doc_id),
        text=text,
        source=meta.get("source", ""),
        synthetic=meta.get("synthetic", "false").lower() == "true",
        entities=entities,
        sentences=sentences,
    )


def read_markup_file(path: str | Path) -> list[Document]:
    """Parse a markup file holding one or more documents separated by ``# ---`` lines."""
    path = Path(path)
    raw = path.read_text(encoding="utf-8")
    chunks = re.split(r"^# ---\s*$\n?", raw, flags=re.M)
    docs = []
    for i, chunk in enumerate(c for c in chunks if c.strip()):
        docs.append(parse_markup(chunk, doc_id=f"{path.stem}-{i:03d}", origin=str(path)))
    return docs


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
