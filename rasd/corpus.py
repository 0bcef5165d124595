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
import math
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
_SHOW = 40  # longest value quoted in an error message


def short_repr(value: Any, limit: int = _SHOW) -> str:
    """``repr(value)`` cut to ``limit`` characters, for one-line error messages (a 4000-digit
    offset or a megabyte label would otherwise flood the terminal).

    >>> short_repr(10**50), short_repr("x" * 50)
    ('<integer of 51 digits>', "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…")
    """
    huge = isinstance(value, int) and abs(value) >= 10**limit  # repr() of a 5000-digit int raises
    text = f"<integer of {integer_digits(value)} digits>" if huge else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def integer_digits(value: int) -> int:
    """How many decimal digits ``abs(value)`` has, without ``str()`` (which refuses 4300+ digits).

    >>> integer_digits(0), integer_digits(-999), integer_digits(10**300 - 1), integer_digits(10**300)
    (1, 3, 300, 301)
    """
    value = abs(value)
    if value < 10:
        return 1
    n = math.floor(math.log10(value)) + 1  # a float estimate: off by one near powers of ten
    if 10 ** (n - 1) > value:
        n -= 1
    elif 10**n <= value:
        n += 1
    return n


def is_int(value: Any) -> bool:
    """An integer offset: ``int`` but not ``bool`` (``true`` is no offset, nor is ``3.0``)."""
    return isinstance(value, int) and not isinstance(value, bool)


def check_offsets(start: Any, end: Any, length: int) -> str | None:
    """Why ``(start, end)`` cannot be a span of a text of ``length`` characters, or ``None``.

    The corpus format allows only ``0 <= start < end <= length`` with integer offsets.

    >>> check_offsets(0, 3, 5) is None
    True
    >>> check_offsets(True, 3.0, 5)
    "'start' and 'end' must be integers, got True, 3.0"
    >>> check_offsets(4, 9, 5)
    'offsets 4-9 out of bounds (text length 5)'
    """
    if not (is_int(start) and is_int(end)):
        return f"'start' and 'end' must be integers, got {short_repr(start)}, {short_repr(end)}"
    if not (0 <= start <= length and 0 <= end <= length):
        return f"offsets {short_repr(start)}-{short_repr(end)} out of bounds (text length {length})"
    if start >= end:
        return f"offsets {start}-{end}: " + ("end before start" if start > end else "empty span")
    return None


def _span(kind: str, index: int, item: Any, length: int) -> tuple[int, int]:
    if not isinstance(item, dict):
        raise ValueError(f"{kind} #{index}: expected an object, got {type(item).__name__}")
    start, end = item.get("start"), item.get("end")
    reason = check_offsets(start, end, length)
    if reason is not None:
        raise ValueError(f"{kind} #{index}: {reason}")
    return start, end


def _list(obj: dict[str, Any], key: str) -> list[Any]:
    value = obj.get(key, [])
    if not isinstance(value, list):
        raise ValueError(f"field {key!r} must be a list, got {type(value).__name__}")
    return value


def document_from_dict(obj: Any) -> Document:
    """Build a :class:`Document` from a parsed JSON object; raise ``ValueError`` (one line) on what
    the corpus format forbids.

    Values are checked, not coerced: offsets must be integers (not booleans, not floats) with
    ``0 <= start < end <= len(text)``, labels and event types strings, ``source`` a string and
    ``synthetic`` a boolean. Which labels are allowed is the validator's business
    (:mod:`rasd.validate`): a training config may use its own label set.
    """
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    for key in ("id", "text"):
        if key not in obj:
            raise ValueError(f"missing field {key!r}")
    if not isinstance(obj["id"], str) or not obj["id"]:
        raise ValueError("field 'id' must be a non-empty string")
    if not isinstance(obj["text"], str):
        raise ValueError("field 'text' must be a string")
    if not isinstance(obj.get("source", ""), str):
        raise ValueError("field 'source' must be a string")
    if not isinstance(obj.get("synthetic", False), bool):
        raise ValueError("field 'synthetic' must be true or false")
    n = len(obj["text"])
    entities = []
    for i, ent in enumerate(_list(obj, "entities")):
        start, end = _span("entity", i, ent, n)
        label = ent.get("label")
        if not isinstance(label, str) or not label:
            raise ValueError(f"entity #{i}: 'label' must be a non-empty string, got {short_repr(label)}")
        entities.append(Span(start, end, label))
    sentences = []
    for i, sent in enumerate(_list(obj, "sentences")):
        start, end = _span("sentence", i, sent, n)
        events = sent.get("events", [])
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            raise ValueError(f"sentence #{i}: 'events' must be a list of strings, got {short_repr(events)}")
        sentences.append(Sentence(start, end, list(events)))
    return Document(
        id=obj["id"],
        text=obj["text"],
        source=obj.get("source", ""),
        synthetic=obj.get("synthetic", False),
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
    """Expand files and directories (the files matching ``pattern`` inside, sorted) into a file list.

    A folder that happens to match ``pattern`` (``x.jsonl/``) inside a directory is skipped. A
    missing path raises :class:`FileNotFoundError`; a broken symbolic link or a link loop raises
    ``OSError`` naming it (the reader would only meet it later).
    """
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(q for q in p.glob(pattern) if not q.is_dir()))
        elif p.exists():
            files.append(p)
        elif p.is_symlink():
            _raise_link_error(p)
        else:
            raise FileNotFoundError(errno.ENOENT, "no such file or directory", str(p))
    return files


def _raise_link_error(path: Path) -> None:
    try:
        path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OSError(errno.ELOOP, "symbolic link loop", str(path)) from None
        raise FileNotFoundError(errno.ENOENT, "broken symbolic link", str(path)) from None


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
