"""The corpus format: one JSON document per line, character offsets into raw text.

``{"id", "text", "source", "synthetic", "entities": [{"start","end","label"}],
"sentences": [{"start","end","events": [...]}]}``

Reading never raises on the first bad line: :func:`iter_jsonl` yields a
:class:`RecordError` for each line it cannot parse, naming file and line, so
callers (validator, training, ``rasd tag``) decide whether to stop or skip.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


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


class CorpusError(ValueError):
    """A problem with a corpus file, located by file and line."""

    def __init__(self, path: str | Path, line: int | None, message: str, doc_id: str | None = None):
        self.path, self.line, self.doc_id, self.reason = str(path), line, doc_id, message
        where = f"{path}:{line}" if line is not None else str(path)
        if doc_id is not None:
            where += f" [{doc_id}]"
        super().__init__(f"{where}: {message}")


@dataclass
class RecordError:
    """A line that could not be read as a document (kept so nothing is lost silently)."""

    path: str
    line: int
    reason: str
    doc_id: str | None = None

    def __str__(self) -> str:
        doc = f" [{self.doc_id}]" if self.doc_id else ""
        return f"{self.path}:{self.line}{doc}: {self.reason}"


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

    Invalid UTF-8 and broken JSON become :class:`RecordError` for that line only.
    """
    path = Path(path)
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield lineno, RecordError(str(path), lineno, f"invalid UTF-8 at byte {exc.start}")
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield lineno, RecordError(str(path), lineno, f"invalid JSON: {exc.msg} (column {exc.colno})")
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
            raise CorpusError(p, None, "no such file or directory")
    return files


def load_documents(paths: Iterable[str | Path] | str | Path) -> list[Document]:
    """Load every document of the given files/directories; raise :class:`CorpusError` on the first bad line."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    docs: list[Document] = []
    for path in corpus_files(paths):
        for lineno, item in iter_jsonl(path):
            if isinstance(item, RecordError):
                raise CorpusError(path, lineno, item.reason, item.doc_id)
            docs.append(item)
    return docs


def write_jsonl(docs: Iterable[Document], path: str | Path) -> int:
    """Write documents one per line (UTF-8, Arabic unescaped); return how many."""
    n = 0
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with Path(path).open("w", encoding="utf-8") as fh:
        for doc in docs:
            fh.write(json.dumps(doc.to_dict(), ensure_ascii=False) + "\n")
            n += 1
    return n
