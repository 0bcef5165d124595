"""The corpus format: one JSON document per line, character offsets into raw text.

``{"id", "text", "source", "synthetic", "entities": [{"start","end","label"}],
"sentences": [{"start","end","events": [...]}]}``

Reading never raises on the first bad line: :func:`iter_jsonl` (over the one line
reader, :func:`rasd.jsonl.read_jsonl`) yields a :class:`~rasd.jsonl.RecordError` for each
line it cannot use, naming file and line; :func:`load_documents` raises the first one.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rasd.jsonl import RecordError, open_output, read_jsonl


@dataclass(frozen=True, order=True)
class Span:
    """An entity mention: ``text[start:end]`` carries ``label``."""

    start: int
    end: int
    label: str


@dataclass
class Sentence:
    """A sentence ``text[start:end]`` and the event types it reports."""

    start: int
    end: int
    events: list[str] = field(default_factory=list)


@dataclass
class Document:
    """One annotated article."""

    id: str
    text: str
    source: str = ""
    synthetic: bool = False
    entities: list[Span] = field(default_factory=list)
    sentences: list[Sentence] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "text": self.text,
            "source": self.source,
            "synthetic": self.synthetic,
            "entities": [asdict(s) for s in sorted(self.entities)],
            "sentences": [asdict(s) for s in self.sentences],
        }
        out.update(self.extra)
        return out

    def span_text(self, span: Span) -> str:
        return self.text[span.start : span.end]


_KNOWN_KEYS = {"id", "text", "source", "synthetic", "entities", "sentences"}


def document_from_dict(obj: Any) -> Document:
    """Build a :class:`Document` from a parsed JSON object; raise ``ValueError`` on bad shape."""
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    for key in ("id", "text"):
        if key not in obj:
            raise ValueError(f"missing field {key!r}")
    if not isinstance(obj["id"], str) or not obj["id"]:
        raise ValueError("field 'id' must be a non-empty string")
    if not isinstance(obj["text"], str):
        raise ValueError("field 'text' must be a string")
    try:
        entities = [Span(int(e["start"]), int(e["end"]), str(e["label"])) for e in obj.get("entities", [])]
        sentences = [
            Sentence(int(s["start"]), int(s["end"]), [str(x) for x in s.get("events", [])])
            for s in obj.get("sentences", [])
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed entity or sentence: {exc!r}") from None
    return Document(
        id=obj["id"],
        text=obj["text"],
        source=str(obj.get("source", "")),
        synthetic=bool(obj.get("synthetic", False)),
        entities=entities,
        sentences=sentences,
        extra={k: v for k, v in obj.items() if k not in _KNOWN_KEYS},
    )


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, Document | RecordError]]:
    """Yield ``(line_number, Document or RecordError)`` for each non-blank line of ``path``.

    A line that cannot be parsed (see :func:`rasd.jsonl.parse_line`) or is not a document
    becomes a :class:`RecordError` for that line only.
    """
    for lineno, obj in read_jsonl(path):
        if isinstance(obj, RecordError):
            yield lineno, obj
            continue
        try:
            yield lineno, document_from_dict(obj)
        except ValueError as exc:
            doc_id = obj.get("id") if isinstance(obj, dict) and isinstance(obj.get("id"), str) else None
            yield lineno, RecordError(str(path), lineno, str(exc), doc_id)


def corpus_files(paths: Iterable[str | Path], pattern: str = "*.jsonl") -> list[Path]:
    """Expand files and directories (``pattern`` inside, sorted) into a file list."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(p.glob(pattern)))
        elif p.exists():
            files.append(p)
        else:
            raise FileNotFoundError(errno.ENOENT, "no such file or directory", str(p))
    return files


def load_documents(paths: Iterable[str | Path] | str | Path) -> list[Document]:
    """Load every document of the given files/directories.

    Raises :class:`FileNotFoundError` for a missing path and the first bad line's
    :class:`RecordError` (run the validator to see them all).
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    docs: list[Document] = []
    for path in corpus_files(paths):
        for _, item in iter_jsonl(path):
            if isinstance(item, RecordError):
                raise item
            docs.append(item)
    return docs


def write_jsonl(docs: Iterable[Document], path: str | Path) -> int:
    """Write documents one per line (UTF-8, Arabic unescaped) to ``path`` (``-``: stdout); return how many."""
    n = 0
    with open_output(path) as fh:
        for doc in docs:
            fh.write(json.dumps(doc.to_dict(), ensure_ascii=False) + "\n")
            n += 1
    return n
