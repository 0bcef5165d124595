"""What ``rasd tag`` reads: the input streams of ``--input`` and the articles on them, or why not.

**Inputs.** A JSONL file of ``{"id", "text", ...}``, a ``.txt`` file (one article, id = file
stem, a UTF-8 byte-order mark dropped), ``-`` for JSONL on stdin, or a directory: its entries
named ``*.jsonl`` or ``*.txt`` (any case: ``.TXT`` too), sorted by name, not descending into
subdirectories. A directory entry with such a name that cannot be read as a regular file (a
FIFO, socket or device, a broken symbolic link or a link loop, a subdirectory, a file that fails
to open or read) is reported like a bad line; entries with other names are not inputs and are
listed in one log line. The file list is fixed when the job starts (:func:`input_files`).

**Bad records.** Lines are read by the one JSONL reader, :func:`rasd.jsonl.read_jsonl`, which
refuses invalid UTF-8, broken JSON, what is not standard JSON (``NaN``, ``Infinity``, a number
beyond a float's range, a key twice in one object: it would be written back as non-standard
JSON), nesting or integers too big and lone surrogates (a byte-order mark on a file's first line
is skipped). On top of it a record is refused when it is not an object, has no string ``text``,
has a field longer than ``max_chars``, has ``sentences`` that are not boundaries inside the text,
or is on a line longer than :data:`LINE_LIMIT` × ``max_chars`` bytes (skipped unread). Each
refusal, and a file that fails to open or read, is a :class:`~rasd.jsonl.RecordError` yielded in
the article's place: reading goes on.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rasd.cli import RasdError
from rasd.jsonl import RecordError, read_jsonl
from rasd.text import given_sentence_bounds

logger = logging.getLogger(__name__)

DEFAULT_MAX_CHARS = 1_000_000
LINE_LIMIT = 16  # a JSONL line longer than LINE_LIMIT × max_chars bytes is refused unread
INPUT_SUFFIXES = (".jsonl", ".txt")
STDIN = "-"
BOM = b"\xef\xbb\xbf"


def display(name: str) -> str:
    """``name`` writable as UTF-8: undecodable file-name bytes (and lone surrogates) as ``\\xff`` escapes.

    >>> display(os.fsdecode(b"h\\xff.jsonl"))
    'h\\\\xff.jsonl'
    """
    try:
        return os.fsencode(name).decode("utf-8", "backslashreplace")
    except UnicodeError:
        return name.encode("utf-8", "backslashreplace").decode("utf-8")


def one_line(text: object) -> str:
    """``text`` (an exception, a reason) on one line, writable as UTF-8."""
    return display(" ".join(str(text).split()))


@dataclass(frozen=True)
class InputFile:
    """One input stream: a file (``path``) or stdin (``path`` ``None``)."""

    path: Path | None
    name: str  # as written in ``_source.file``: the name inside the input directory, the file's, or "-"
    problem: str | None = None  # why it is not read (reported as a bad record)

    @property
    def label(self) -> str:
        """The file as named in errors."""
        return "<stdin>" if self.path is None else display(str(self.path))

    @property
    def is_txt(self) -> bool:
        return self.path is not None and self.path.suffix.lower() == ".txt"


@dataclass
class InputArticle:
    """One article read from the input, with where it came from."""

    source: str  # the file as named in errors
    line: int
    id: str  # the id as a string (the tagger's and the event records')
    text: str
    extra: dict[str, Any] = field(default_factory=dict)  # every input field but id and text
    file: str = ""  # ``_source.file``
    id_value: Any = None  # the input's id as given; None: an automatic id
    sentences: list[Any] | None = None  # given sentence boundaries


# ----------------------------------------------------------------------------- the input streams


def is_input_name(name: str) -> bool:
    """Whether the directory walk reads a file of this name (``*.jsonl`` or ``*.txt``, any case).

    >>> is_input_name("b.Jsonl"), is_input_name("notes.md")
    (True, False)
    """
    return os.path.splitext(name)[1].lower() in INPUT_SUFFIXES


def _unreadable(path: Path) -> str | None:
    """Why a directory entry named like an input cannot be read as a regular file (None: it can)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return "broken symbolic link" if path.is_symlink() else "vanished while listing the directory"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop"
        return f"cannot read: {exc.strerror or exc}"
    mode = st.st_mode
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory (directories inside the input directory are not read)"
    kind = "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
    return f"{kind}, not a regular file: not read"


def _walk(folder: Path) -> list[InputFile]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        raise RasdError(f"cannot list input directory {display(str(folder))}: {exc.strerror or exc}") from exc
    files, ignored = [], []
    for entry in entries:
        path = folder / entry.name
        if is_input_name(entry.name):
            files.append(InputFile(path, display(entry.name), _unreadable(path)))
        else:
            ignored.append(display(entry.name))
    if ignored:
        shown = ", ".join(ignored[:10]) + (f" and {len(ignored) - 10} more" if len(ignored) > 10 else "")
        logger.info("%s: not reading %d entries not named *.jsonl or *.txt: %s", folder, len(ignored), shown)
    return files


def input_files(path: str | Path) -> list[InputFile]:
    """The input streams of ``--input``: stdin for ``-``, a file, or a directory's entries (see the module docstring).

    A missing path raises :class:`FileNotFoundError`.
    """
    if str(path) == STDIN:
        return [InputFile(None, STDIN)]
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise FileNotFoundError(f"no such input file or directory: {p}") from None
    except OSError as exc:
        raise RasdError(f"cannot read input {display(str(p))}: {exc.strerror or exc}") from exc
    if stat.S_ISDIR(st.st_mode):
        return _walk(p)
    if stat.S_ISREG(st.st_mode) and not os.access(p, os.R_OK):
        raise RasdError(f"cannot read input {display(str(p))}: permission denied")
    return [InputFile(p, display(p.name))]


# ----------------------------------------------------------------------------- one article


def _too_long(obj: dict[str, Any], max_chars: int) -> str | None:
    for key, value in obj.items():
        if isinstance(value, str) and len(value) > max_chars:
            return f"field {key!r} has {len(value):,} characters (limit --max-chars {max_chars:,})"
    return None


def _auto_id(src: InputFile, line: int) -> str:
    return f"{'<stdin>' if src.path is None else Path(src.name).stem}:{line}"


def _article(obj: Any, src: InputFile, lineno: int, max_chars: int) -> InputArticle | RecordError:
    """The article of one parsed input line, or why it cannot be tagged."""
    where = (src.label, lineno)
    if not isinstance(obj, dict):
        return RecordError(*where, f"expected a JSON object, got {type(obj).__name__}")
    raw_id = obj.get("id")
    auto = raw_id is None or raw_id == ""
    doc_id = _auto_id(src, lineno) if auto else raw_id if isinstance(raw_id, str) else str(raw_id)
    if "text" not in obj:
        return RecordError(*where, "missing field 'text'", doc_id)
    text = obj["text"]
    if not isinstance(text, str):
        return RecordError(*where, f"field 'text' must be a string, got {type(text).__name__}", doc_id)
    if (reason := _too_long(obj, max_chars)) is not None:
        return RecordError(*where, reason, doc_id)
    try:
        given = given_sentence_bounds(text, obj.get("sentences"))
    except ValueError as exc:
        return RecordError(*where, str(exc), doc_id)
    sentences = None if given is None else [list(b) for b in given]
    extra = {k: v for k, v in obj.items() if k not in ("id", "text")}
    return InputArticle(src.label, lineno, doc_id, text, extra, src.name, None if auto else raw_id, sentences)


# ----------------------------------------------------------------------------- one file


def _bounded_lines(stream: IO[bytes], limit: int, overlong: set[int]) -> Iterator[bytes]:
    """The lines of ``stream``; a line over ``limit`` bytes is skipped unread (its number put in
    ``overlong``, a placeholder yielded in its place)."""
    lineno = 0
    while raw := stream.readline(limit + 1):
        lineno += 1
        if len(raw) > limit and not raw.endswith(b"\n"):
            while (rest := stream.readline(1 << 20)) and not rest.endswith(b"\n"):
                pass
            overlong.add(lineno)
            raw = b"\x00\n"
        yield raw


def _iter_jsonl(stream: IO[bytes], src: InputFile, max_chars: int) -> Iterator[InputArticle | RecordError]:
    limit = LINE_LIMIT * max_chars
    overlong: set[int] = set()
    for lineno, obj in read_jsonl(_bounded_lines(stream, limit, overlong), src.label):
        if lineno in overlong:
            yield RecordError(
                src.label, lineno, f"line longer than {limit:,} bytes ({LINE_LIMIT} × --max-chars)"
            )
        elif isinstance(obj, RecordError):
            yield obj
        else:
            try:
                yield _article(obj, src, lineno, max_chars)
            except Exception as exc:  # noqa: BLE001 - a record must never stop the job
                yield RecordError(
                    src.label, lineno, f"unreadable record: {type(exc).__name__}: {one_line(exc)}"
                )


def _read_txt(fh: IO[bytes], src: InputFile, max_chars: int) -> InputArticle | RecordError:
    stem = Path(src.name).stem
    too_long = f"text has more than {max_chars:,} characters (limit --max-chars {max_chars:,})"
    data = fh.read(4 * max_chars + len(BOM) + 1)  # no more bytes than max_chars characters can take
    if len(data) > 4 * max_chars + len(BOM):
        return RecordError(src.label, 1, too_long, stem)
    skip = len(BOM) if data.startswith(BOM) else 0
    try:
        text = data[skip:].decode("utf-8")
    except UnicodeDecodeError as exc:
        return RecordError(src.label, 1, f"invalid UTF-8 at byte {exc.start + skip}", stem)
    if len(text) > max_chars:
        return RecordError(
            src.label, 1, f"text has {len(text):,} characters (limit --max-chars {max_chars:,})", stem
        )
    return InputArticle(src.label, 1, stem, text, {}, src.name)


def read_input(
    src: InputFile, max_chars: int, stdin: IO[bytes] | None
) -> Iterator[InputArticle | RecordError]:
    """The records of one input stream; a failure to open or read it is one error, and reading goes on."""
    if src.problem is not None:
        yield RecordError(src.label, None, src.problem)
        return
    last = 0
    try:
        with contextlib.ExitStack() as stack:
            if src.path is None:
                fh = stdin if stdin is not None else sys.stdin.buffer
            else:
                fh = stack.enter_context(open(src.path, "rb"))  # noqa: SIM115
            if src.is_txt:
                yield _read_txt(fh, src, max_chars)
                return
            for item in _iter_jsonl(fh, src, max_chars):
                last = item.line or last
                yield item
    except Exception as exc:  # noqa: BLE001 - an unreadable file is a bad record, not a failed job
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else f"{type(exc).__name__}: {exc}"
        yield RecordError(src.label, last + 1 if last else None, f"cannot read: {one_line(reason)}")


def iter_inputs(
    path: str | Path, max_chars: int = DEFAULT_MAX_CHARS, stdin: IO[bytes] | None = None
) -> Iterator[InputArticle | RecordError]:
    """Stream articles (or errors) from a JSONL/txt file, a directory of them, or ``-`` (stdin JSONL)."""
    for src in input_files(path):
        yield from read_input(src, max_chars, stdin)
