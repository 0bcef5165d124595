"""The ``rasd tag`` job: stream articles in, tag them in chunks, write JSONL (and CSV records) out.

**Inputs.** A JSONL file of ``{"id", "text", ...}``, a ``.txt`` file (one article, id = file
stem, a UTF-8 byte-order mark dropped), ``-`` for JSONL on stdin, or a directory: its entries
named ``*.jsonl`` or ``*.txt`` (any case: ``.TXT`` too), sorted by name, not descending into
subdirectories. A directory entry with such a name that cannot be read as a regular file (a
FIFO, socket or device, a broken symbolic link or a link loop, a subdirectory, a file that fails
to open or read) is reported like a bad line; entries with other names are not inputs and are
listed in one log line. The file list is fixed when the job starts.

**Bad records.** Lines are read by the one JSONL reader, :func:`rasd.jsonl.read_jsonl` (invalid
UTF-8, broken JSON, nesting or integers too big, lone surrogates; a byte-order mark on a file's
first line is skipped). On top of it a record is refused when it is not an object, has no string
``text``, has a field longer than ``max_chars``, holds ``NaN``/``Infinity`` (not JSON: they would
be written back as non-standard JSON), has ``sentences`` that are not boundaries inside the text,
or is on a line longer than :data:`LINE_LIMIT` × ``max_chars`` bytes (skipped unread). Anything
that fails for one record — reading it, tagging it (any exception), serialising or encoding its
result — is a :class:`~rasd.jsonl.RecordError`: logged and written to ``OUT.errors.jsonl``
(``{"file", "line", "id", "reason"}``), and the job goes on. Only failures of the job itself (the
output cannot be written) stop it, after every finished chunk has been written.

**Output.** One JSON line per good article, in input order: ``id`` (the input's, of the same JSON
type, or an automatic ``STEM:LINE``), ``entities``, ``sentences``, ``events``, ``records``, the
other input fields unchanged, and ``_source: {"file", "line"}`` (the file's name — inside the
input directory for a directory, ``-`` for stdin — and the line it was read from). An input field
named like an output field (``entities``, ``sentences``, ``events``, ``records``, ``input``,
``_source``) is kept, unchanged, under ``input`` (:data:`rasd.inference.types.OUTPUT_FIELDS`);
the output's wins. A non-empty ``sentences`` list (``[start, end]`` pairs or ``{start, end}``
objects, e.g. a corpus record's) is also used as the sentence boundaries; empty or ``null``:
the sentence splitter. Lines are written whole (``allow_nan=False``; U+2028, U+2029 and U+0085
escaped so no line splitter cuts one) and flushed per chunk, appended to the file.

**Paths.** Before anything is opened, the output, its errors file and ``--records`` are checked
against each other and against every input (same resolved path or same file; stdin when it is a
redirected file) and must not lie in an input directory under a name the directory walk would
read (``OUT.errors.jsonl`` always would): a collision is a :class:`~rasd.cli.RasdError`
(exit status 2), and nothing is written. Output files are locked (``fcntl.flock``) while the
job runs: a second ``rasd tag`` on the same output is refused; without ``fcntl`` (Windows) a
warning says the output is not locked.

**Resume.** With ``resume``, an input article is already done when ``OUT`` has a line from the
same place — ``_source`` file and line (stdin's lines match any file's) — with the same id (its
JSON value: ``7`` and ``"7"`` differ; automatic ids are matched by place alone). Duplicated ids
and automatic ids therefore resume exactly, and ``--input -`` resumes ``--input FILE``. Lines of
older outputs without ``_source`` are matched by id, once each. A torn last line (no newline) is
dropped and its article tagged again; a corrupt line elsewhere is reported and removed, the
lines after it are rewritten unchanged (not tagged again) in input order, with the article it
held tagged in its place. ``OUT.errors.jsonl`` and ``--records`` are rewritten (every bad record
is reported again; the CSV mirrors ``OUT``).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import errno
import io
import json
import logging
import math
import os
import stat
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from tqdm.auto import tqdm

from rasd.cli import RasdError
from rasd.inference.types import CSV_COLUMNS, TaggedDocument, csv_row
from rasd.jsonl import RecordError, parse_line, read_jsonl
from rasd.text import sentence_bounds

try:
    import fcntl
except ImportError:  # Windows: no advisory locks (see _lock)
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

DEFAULT_MAX_CHARS = 1_000_000
DEFAULT_CHUNK = 256
LINE_LIMIT = 16  # a JSONL line longer than LINE_LIMIT × max_chars bytes is refused unread
INPUT_SUFFIXES = (".jsonl", ".txt")
STDIN = "-"
SOURCE_FIELD = "_source"
_BOM = b"\xef\xbb\xbf"


class _TaggerLike(Protocol):
    def tag(
        self, items: list[Any], batch_size: int = ..., show_progress_bar: bool = ...
    ) -> list[TaggedDocument]: ...


def _display(name: str) -> str:
    """``name`` writable as UTF-8: undecodable file-name bytes (and lone surrogates) as ``\\xff`` escapes."""
    try:
        return os.fsencode(name).decode("utf-8", "backslashreplace")
    except UnicodeError:
        return name.encode("utf-8", "backslashreplace").decode("utf-8")


def _one_line(text: str) -> str:
    return _display(" ".join(str(text).split()))


@dataclass(frozen=True)
class InputFile:
    """One input stream: a file (``path``) or stdin (``path`` ``None``)."""

    path: Path | None
    name: str  # as written in ``_source.file``: the name inside the input directory, the file's, or "-"
    problem: str | None = None  # why it is not read (reported as a bad record)

    @property
    def label(self) -> str:
        """The file as named in errors."""
        return "<stdin>" if self.path is None else _display(str(self.path))

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


def _input_suffix(name: str) -> bool:
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
        raise RasdError(
            f"cannot list input directory {_display(str(folder))}: {exc.strerror or exc}"
        ) from exc
    files, ignored = [], []
    for entry in entries:
        path = folder / entry.name
        if _input_suffix(entry.name):
            files.append(InputFile(path, _display(entry.name), _unreadable(path)))
        else:
            ignored.append(_display(entry.name))
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
        raise RasdError(f"cannot read input {_display(str(p))}: {exc.strerror or exc}") from exc
    if stat.S_ISDIR(st.st_mode):
        return _walk(p)
    if stat.S_ISREG(st.st_mode) and not os.access(p, os.R_OK):
        raise RasdError(f"cannot read input {_display(str(p))}: permission denied")
    return [InputFile(p, _display(p.name))]


# ----------------------------------------------------------------------------- reading records


def _non_finite(obj: dict[str, Any]) -> str | None:
    """The top-level field holding a NaN or infinite number, if any."""
    stack: list[tuple[str, Any]] = list(obj.items())
    while stack:
        key, value = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            return key
        if isinstance(value, dict):
            stack.extend((key, v) for v in value.values())
        elif isinstance(value, list):
            stack.extend((key, v) for v in value)
    return None


def _too_long(obj: dict[str, Any], max_chars: int) -> str | None:
    for key, value in obj.items():
        if isinstance(value, str) and len(value) > max_chars:
            return f"field {key!r} has {len(value):,} characters (limit --max-chars {max_chars:,})"
    return None


def _given_sentences(text: str, given: Any) -> list[Any] | None | str:
    """The sentence boundaries to tag with (None: the splitter), or why ``given`` is not usable."""
    if given is None or (isinstance(given, list) and not given):
        return None
    bad = "field 'sentences' must be a list of [start, end] pairs or {start, end} objects"
    if not isinstance(given, list):
        return bad
    try:
        bounds = sentence_bounds(text, given)
    except (TypeError, KeyError, ValueError, IndexError, AttributeError, OverflowError):
        return bad
    for k, (a, b) in enumerate(bounds):
        if not 0 <= a < b <= len(text):
            return f"sentence {k} [{a}, {b}) is not inside the text ({len(text)} characters)"
    return [list(b) for b in bounds]


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
    if (key := _non_finite(obj)) is not None:
        return RecordError(*where, f"field {key!r} holds NaN or Infinity, which is not JSON", doc_id)
    sentences = _given_sentences(text, obj.get("sentences"))
    if isinstance(sentences, str):
        return RecordError(*where, sentences, doc_id)
    extra = {k: v for k, v in obj.items() if k not in ("id", "text")}
    return InputArticle(src.label, lineno, doc_id, text, extra, src.name, None if auto else raw_id, sentences)


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
                    src.label, lineno, f"unreadable record: {type(exc).__name__}: {_one_line(exc)}"
                )


def _read_txt(fh: IO[bytes], src: InputFile, max_chars: int) -> InputArticle | RecordError:
    stem = Path(src.name).stem
    too_long = f"text has more than {max_chars:,} characters (limit --max-chars {max_chars:,})"
    data = fh.read(4 * max_chars + len(_BOM) + 1)  # no more bytes than max_chars characters can take
    if len(data) > 4 * max_chars + len(_BOM):
        return RecordError(src.label, 1, too_long, stem)
    skip = len(_BOM) if data.startswith(_BOM) else 0
    try:
        text = data[skip:].decode("utf-8")
    except UnicodeDecodeError as exc:
        return RecordError(src.label, 1, f"invalid UTF-8 at byte {exc.start + skip}", stem)
    if len(text) > max_chars:
        return RecordError(
            src.label, 1, f"text has {len(text):,} characters (limit --max-chars {max_chars:,})", stem
        )
    return InputArticle(src.label, 1, stem, text, {}, src.name)


def _iter_file(
    src: InputFile, max_chars: int, stdin: IO[bytes] | None
) -> Iterator[InputArticle | RecordError]:
    """The records of one input stream; a failure to open or read it is one error, and the job goes on."""
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
        yield RecordError(src.label, last + 1 if last else None, f"cannot read: {_one_line(reason)}")


def iter_inputs(
    path: str | Path, max_chars: int = DEFAULT_MAX_CHARS, stdin: IO[bytes] | None = None
) -> Iterator[InputArticle | RecordError]:
    """Stream articles (or errors) from a JSONL/txt file, a directory of them, or ``-`` (stdin JSONL)."""
    for src in input_files(path):
        yield from _iter_file(src, max_chars, stdin)


def errors_path(output: str | Path) -> Path:
    """``out.jsonl`` → ``out.errors.jsonl``."""
    p = Path(output)
    stem = p.name[: -len(".jsonl")] if p.name.endswith(".jsonl") else p.name
    return p.with_name(stem + ".errors.jsonl")


# ----------------------------------------------------------------------------- path checks


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _check_output_path(role: str, path: Path) -> None:
    shown = _display(str(path))
    if path.is_dir():
        raise RasdError(f"{role} {shown} is a directory")
    for parent in path.absolute().parents:
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                raise RasdError(f"{role} {shown}: {_display(str(parent))} is not a directory")
            break


def _check_paths(
    inputs: list[InputFile], input_arg: str, outputs: list[tuple[str, Path]], stdin: IO[bytes] | None
) -> None:
    """Refuse (:class:`RasdError`) outputs that are inputs, that the directory walk would read, or that
    are each other (see the module docstring)."""
    for role, path in outputs:
        _check_output_path(role, path)
    taken: list[tuple[str, str, tuple[int, int] | None]] = []  # what, resolved path, (dev, inode)
    for src in inputs:
        if src.path is not None:
            taken.append((f"input {src.label}", os.path.realpath(src.path), _identity(src.path)))
    if input_arg == STDIN:
        try:
            st = os.fstat((stdin if stdin is not None else sys.stdin).fileno())
            if stat.S_ISREG(st.st_mode):
                taken.append(("the file on stdin", "", (st.st_dev, st.st_ino)))
        except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
            pass
    folder = None
    if input_arg != STDIN and Path(input_arg).is_dir():
        folder = os.path.realpath(input_arg)
    for role, path in outputs:
        real, ident = os.path.realpath(path), _identity(path)
        shown = f"{role} {_display(str(path))}"
        for what, other, other_ident in taken:
            if real == other or (ident is not None and ident == other_ident):
                raise RasdError(
                    f"{shown} is the same file as {what}: it would be overwritten (nothing written)"
                )
        if folder is not None and os.path.dirname(real) == folder and _input_suffix(real):
            raise RasdError(
                f"{shown} is inside the input directory {_display(input_arg)}, which would read it as "
                "input: write the output elsewhere (nothing written)"
            )
        taken.append((role, real, ident))


# ----------------------------------------------------------------------------- locking


def _lock(fd: int, shown: str) -> None:
    """An exclusive advisory lock on an open output file, or :class:`RasdError` when another job holds it."""
    if fcntl is None:
        logger.warning("%s: file locking is not available here: make sure no other rasd tag writes it", shown)
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise RasdError(
                f"{shown} is locked by another rasd tag writing it: wait for that job to finish "
                "or choose another --output"
            ) from None
        logger.warning(
            "%s: cannot lock (%s): make sure no other rasd tag writes it", shown, exc.strerror or exc
        )


def _write_all(fh: IO[bytes], data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[fh.write(view) :]


class _Sink:
    """An output file opened for appending (created, locked, not truncated until :meth:`reset`)."""

    def __init__(self, role: str, path: Path):
        self.path, self.shown = path, f"{role} {_display(str(path))}"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.created = not path.exists()
        self.fh: Any = open(path, "ab", buffering=0)  # noqa: SIM115 - O_APPEND: every write goes to the end
        try:
            _lock(self.fh.fileno(), self.shown)
        except BaseException:
            self.close(remove=True)
            raise

    def reset(self, size: int = 0) -> None:
        if stat.S_ISREG(os.fstat(self.fh.fileno()).st_mode):  # not a FIFO or /dev/null
            os.ftruncate(self.fh.fileno(), size)

    def write(self, data: bytes) -> None:
        if data:
            try:
                _write_all(self.fh, data)
            except OSError as exc:  # a failed job (disk full, ...): what was written before stays
                raise RasdError(f"cannot write {self.shown}: {exc.strerror or exc}") from exc

    def close(self, remove: bool = False) -> None:
        self.fh.close()
        if remove and self.created:
            with contextlib.suppress(OSError):
                self.path.unlink()


class _Stdout:
    """``--output -``: lines to stdout (text, UTF-8), flushed per chunk."""

    shown = "stdout"

    def __init__(self) -> None:
        out = sys.stdout
        if (getattr(out, "encoding", None) or "utf-8").lower().replace("-", "") != "utf8":
            with contextlib.suppress(AttributeError, ValueError):
                out.reconfigure(encoding="utf-8")  # type: ignore[union-attr]

    def write(self, data: bytes) -> None:
        if data:
            sys.stdout.write(data.decode("utf-8"))
            sys.stdout.flush()

    def reset(self, size: int = 0) -> None:
        pass

    def close(self, remove: bool = False) -> None:
        sys.stdout.flush()


# ----------------------------------------------------------------------------- serialising


_LINE_BREAKS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"})


def _json_line(obj: Any) -> bytes:
    """One JSONL line: standard JSON (no NaN), UTF-8, nothing a line splitter would cut."""
    text = json.dumps(obj, ensure_ascii=False, allow_nan=False)
    return text.translate(_LINE_BREAKS).encode("utf-8") + b"\n"


def _error_line(err: RecordError) -> bytes:
    record = {k: (_display(v) if isinstance(v, str) else v) for k, v in err.to_dict().items()}
    return (json.dumps(record, ensure_ascii=False).translate(_LINE_BREAKS) + "\n").encode(
        "utf-8", "backslashreplace"
    )


def _csv_rows(rows: Iterable[dict[str, Any]], header: bool = False) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), extrasaction="ignore")
    if header:
        writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


def _id_key(value: Any) -> str:
    """An id as ``--resume`` compares it: its JSON text, so ``7`` and ``"7"`` differ."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


# ----------------------------------------------------------------------------- resume


@dataclass
class _Copy:
    """An article whose output line is carried over from a repaired ``OUT`` (not tagged again)."""

    line: bytes
    records: list[Any]


class _Done:
    """The articles an existing output holds, by place (``_source`` file, line) and id."""

    def __init__(self) -> None:
        self.at: dict[tuple[str, int], list[tuple[str, Any]]] = {}
        self.by_line: dict[int, list[tuple[str, Any]]] | None = None
        self.legacy: Counter[str] = Counter()  # ids of lines without _source (older outputs)
        self.legacy_copies: dict[str, list[Any]] = {}

    def add(self, obj: dict[str, Any], payload: Any = None) -> None:
        src = obj.get(SOURCE_FIELD)
        if isinstance(src, dict) and isinstance(src.get("file"), str) and type(src.get("line")) is int:
            self.at.setdefault((src["file"], src["line"]), []).append((_id_key(obj.get("id")), payload))
        elif payload is None:
            self.legacy[str(obj.get("id"))] += 1
        else:
            self.legacy_copies.setdefault(str(obj.get("id")), []).append(payload)

    def take(self, art: InputArticle) -> tuple[bool, Any]:
        """``(found, payload)`` for an input article, the match used up."""
        if art.file == STDIN:
            if self.by_line is None:
                self.by_line = {}
                for (_, line), entries in self.at.items():
                    self.by_line.setdefault(line, []).extend(entries)
            places = [self.by_line.get(art.line, [])]
        else:
            places = [self.at.get((art.file, art.line), []), self.at.get((STDIN, art.line), [])]
        want = None if art.id_value is None else _id_key(art.id_value)
        for entries in places:
            for k, (key, payload) in enumerate(entries):
                if want is None or key == want:
                    del entries[k]
                    return True, payload
        if self.legacy[art.id] > 0:
            self.legacy[art.id] -= 1
            return True, None
        if self.legacy_copies.get(art.id):
            return True, self.legacy_copies[art.id].pop(0)
        return False, None


def _out_line(raw: bytes) -> dict[str, Any] | str:
    """A parsed line of an existing output, or why it is corrupt."""
    try:
        obj = parse_line(raw)
    except ValueError as exc:
        return str(exc)
    if not isinstance(obj, dict) or "id" not in obj:
        return "not a rasd tag output line"
    return obj


def _records_of(obj: dict[str, Any]) -> list[dict[str, Any]]:
    records = obj.get("records")
    return [r for r in records if isinstance(r, dict)] if isinstance(records, list) else []


def _scan_output(path: Path, done: _Done, spool: IO[bytes], csv_out: Any) -> int:
    """Read an existing output into ``done`` (CSV rows of kept lines to ``csv_out``); return where to
    cut it: before a torn last line, or before the first corrupt line (the valid lines after it go to
    ``spool``, to be written back in input order)."""
    pos, cut, corrupt = 0, None, 0
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.endswith(b"\n"):
                logger.warning(
                    "%s:%d: dropping an incomplete last line (%d bytes) left by an interrupted run; "
                    "its article is tagged again",
                    _display(str(path)),
                    lineno,
                    len(raw),
                )
                break
            obj = _out_line(raw)
            if isinstance(obj, str):
                corrupt += 1
                if corrupt <= 10:
                    logger.warning(
                        "%s:%d: removing a corrupt line (%s, %d bytes); its article is tagged again and the "
                        "lines after it are kept in input order",
                        _display(str(path)),
                        lineno,
                        obj,
                        len(raw),
                    )
                cut = pos if cut is None else cut
            elif cut is None:
                done.add(obj)
                if csv_out is not None:
                    csv_out.write(_csv_rows(csv_row(r) for r in _records_of(obj)))
            else:
                done.add(obj, (spool.tell(), len(raw)))
                spool.write(raw)
            pos += len(raw)
    if corrupt > 10:
        logger.warning("%s: removed %d corrupt lines in all", _display(str(path)), corrupt)
    return pos if cut is None else cut


# ----------------------------------------------------------------------------- the job


@dataclass
class JobSummary:
    """What a ``rasd tag`` run did."""

    articles: int = 0
    skipped: int = 0
    failures: int = 0
    sentences: int = 0
    records: int = 0
    seconds: float = 0.0
    entities: Counter = field(default_factory=Counter)
    events: Counter = field(default_factory=Counter)

    def add(self, doc: TaggedDocument) -> None:
        self.articles += 1
        self.sentences += len(doc.sentences)
        self.records += len(doc.records)
        self.entities.update(e.label for e in doc.entities)
        self.events.update(ev.label for s in doc.sentences for ev in s.events)

    def format(self) -> str:
        rate = self.articles / self.seconds if self.seconds > 0 else 0.0
        lines = [
            f"articles: {self.articles} tagged, {self.skipped} skipped (already in output), {self.failures} failed",
            f"sentences: {self.sentences}",
            "entities: " + (", ".join(f"{k} {v}" for k, v in sorted(self.entities.items())) or "none"),
            "events (sentences): "
            + (", ".join(f"{k} {v}" for k, v in sorted(self.events.items())) or "none"),
            f"records: {self.records}",
            f"seconds: {self.seconds:.1f} ({rate:.1f} articles/s)",
        ]
        return "\n".join(lines)


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _payload(a: InputArticle) -> dict[str, Any]:
    item: dict[str, Any] = {"id": a.id, "text": a.text}
    if a.sentences is not None:
        item["sentences"] = a.sentences
    return item


def _tag_chunk(
    tagger: _TaggerLike, articles: list[InputArticle], batch_size: int
) -> list[TaggedDocument | RecordError]:
    """Tag a chunk; if the whole chunk fails, retry one by one so only the culprit is lost."""
    try:
        docs = list(
            tagger.tag([_payload(a) for a in articles], batch_size=batch_size, show_progress_bar=False)
        )
        if len(docs) != len(articles):
            raise RuntimeError(f"the tagger returned {len(docs)} results for {len(articles)} articles")
        return docs
    except Exception as exc:  # noqa: BLE001 - isolate the failing article below
        if len(articles) == 1:
            a = articles[0]
            return [
                RecordError(a.source, a.line, f"tagging failed: {type(exc).__name__}: {_one_line(exc)}", a.id)
            ]
    out: list[TaggedDocument | RecordError] = []
    for a in articles:
        out += _tag_chunk(tagger, [a], batch_size)
    return out


def _render(article: InputArticle, doc: TaggedDocument) -> tuple[bytes, list[dict[str, Any]]]:
    """The output line and CSV rows of a tagged article (raises if it cannot be written)."""
    out = dataclasses.replace(doc, extra=article.extra).to_dict()
    if article.id_value is not None:
        out["id"] = article.id_value
    out[SOURCE_FIELD] = {"file": article.file, "line": article.line}
    line = _json_line(out)
    rows = [csv_row(r) for r in out["records"]]
    _csv_rows(rows)  # encodable
    return line, rows


class TagJob:
    """One ``rasd tag`` run: paths checked when built, outputs opened and locked on ``with``, :meth:`run`.

    Building checks every path (:class:`RasdError`, nothing opened); entering opens and locks the
    outputs without truncating them (files it created are removed again if the job never runs,
    e.g. when the model cannot be loaded).
    """

    def __init__(
        self,
        input_path: str | Path,
        output: str | Path,
        records_path: str | Path | None = None,
        resume: bool = False,
        max_chars: int = DEFAULT_MAX_CHARS,
        stdin: IO[bytes] | None = None,
    ):
        self.to_stdout = str(output) == STDIN
        if self.to_stdout and resume:
            raise RasdError("--resume needs an --output file, not stdout")
        self.input_arg, self.resume, self.max_chars, self.stdin = str(input_path), resume, max_chars, stdin
        self.inputs = input_files(input_path)
        self.output = None if self.to_stdout else Path(output)
        self.records_path = None if records_path is None else Path(records_path)
        self.roles: list[tuple[str, Path]] = []
        if self.output is not None:
            self.roles += [("--output", self.output), ("the errors file", errors_path(self.output))]
        if self.records_path is not None:
            self.roles.append(("--records", self.records_path))
        _check_paths(self.inputs, self.input_arg, self.roles, stdin)
        if resume and self.output.exists() and not self.output.is_file():
            raise RasdError(f"--resume needs --output to be a regular file, not {_display(str(self.output))}")
        self._sinks: dict[str, Any] = {}
        self._ran = False

    def __enter__(self) -> TagJob:
        try:
            self._sinks["out"] = _Stdout() if self.output is None else _Sink("--output", self.output)
            if self.output is not None:
                self._sinks["errors"] = _Sink("the errors file", errors_path(self.output))
            if self.records_path is not None:
                self._sinks["records"] = _Sink("--records", self.records_path)
        except BaseException:
            self._close(remove=True)
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self._close(remove=not self._ran)

    def _close(self, remove: bool) -> None:
        for sink in self._sinks.values():
            sink.close(remove=remove)
        self._sinks = {}

    def run(
        self,
        tagger: _TaggerLike,
        batch_size: int = 32,
        chunk_size: int = DEFAULT_CHUNK,
        progress: bool = True,
    ) -> JobSummary:
        """Tag every input article (see the module docstring); return what was done."""
        start = time.perf_counter()
        self._ran = True
        out, errors, records = (self._sinks.get(k) for k in ("out", "errors", "records"))
        summary = JobSummary()
        if errors is not None:
            errors.reset()
        if records is not None:
            records.reset()
            records.write(_BOM + _csv_rows([], header=True))
        done = _Done()
        with contextlib.ExitStack() as stack:
            spool: IO[bytes] = io.BytesIO()
            if self.resume and self.output is not None:
                spool = stack.enter_context(tempfile.TemporaryFile(dir=self.output.parent))
                out.reset(_scan_output(self.output, done, spool, records))
                logger.info("resuming %s", _display(str(self.output)))
            else:
                out.reset()

            def report(err: RecordError) -> None:
                summary.failures += 1
                logger.warning("skipped %s", _one_line(err))
                if errors is not None:
                    errors.write(_error_line(err))

            def wanted() -> Iterator[InputArticle | _Copy]:
                for src in self.inputs:
                    for item in _iter_file(src, self.max_chars, self.stdin):
                        if isinstance(item, RecordError):
                            report(item)
                            continue
                        found, payload = done.take(item) if self.resume else (False, None)
                        if not found:
                            yield item
                        elif payload is None:
                            summary.skipped += 1
                        else:
                            spool.seek(payload[0])
                            line = spool.read(payload[1])
                            obj = _out_line(line)
                            yield _Copy(line, _records_of(obj) if isinstance(obj, dict) else [])

            bar = stack.enter_context(
                tqdm(unit=" articles", desc="rasd tag", disable=not progress, dynamic_ncols=True)
            )
            for chunk in _chunks(wanted(), chunk_size):
                articles = [a for a in chunk if isinstance(a, InputArticle)]
                results = iter(_tag_chunk(tagger, articles, batch_size) if articles else [])
                lines, rows = [], []
                for item in chunk:
                    if isinstance(item, _Copy):
                        summary.skipped += 1
                        lines.append(item.line)
                        rows += [csv_row(r) for r in item.records]
                        continue
                    result = next(results)
                    if isinstance(result, RecordError):
                        report(result)
                        continue
                    try:
                        line, doc_rows = _render(item, result)
                    except Exception as exc:  # noqa: BLE001 - one result that cannot be written
                        report(
                            RecordError(
                                item.source,
                                item.line,
                                f"cannot write the result: {type(exc).__name__}: {_one_line(exc)}",
                                item.id,
                            )
                        )
                        continue
                    lines.append(line)
                    rows += doc_rows
                    summary.add(result)
                out.write(b"".join(lines))
                if records is not None:
                    records.write(_csv_rows(rows))
                bar.update(len(chunk))
        summary.seconds = time.perf_counter() - start
        return summary


def run_tag_job(
    tagger: _TaggerLike,
    input_path: str | Path,
    output: str | Path,
    records_path: str | Path | None = None,
    batch_size: int = 32,
    resume: bool = False,
    max_chars: int = DEFAULT_MAX_CHARS,
    chunk_size: int = DEFAULT_CHUNK,
    progress: bool = True,
    stdin: IO[bytes] | None = None,
) -> JobSummary:
    """Tag every article of ``input_path`` into ``output`` (``-``: stdout; see the module docstring)."""
    with TagJob(input_path, output, records_path, resume, max_chars, stdin) as job:
        return job.run(tagger, batch_size=batch_size, chunk_size=chunk_size, progress=progress)
