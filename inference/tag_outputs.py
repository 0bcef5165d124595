"""Where ``rasd tag`` writes: the output paths checked, the files locked and appended to, the lines encoded.

**Paths.** Before anything is opened, the output, its errors file (:func:`errors_path`) and
``--records`` are checked against each other and against every input (same resolved path or
same file; stdin when it is a redirected file) and must not lie in an input directory under a
name the directory walk would read (``OUT.errors.jsonl`` always would): a collision is a
:class:`~rasd.cli.RasdError` (exit status 2), and nothing is written (:func:`check_paths`).

**Files.** An output file (:class:`Sink`) is opened for appending, created if missing, and
locked (``fcntl.flock``) while the job runs: a second ``rasd tag`` on the same output is
refused; without ``fcntl`` (Windows) a warning says the output is not locked. It is truncated
only when the job starts writing (:meth:`Sink.reset`), and removed again if the job created it
and never ran. ``--output -`` writes to stdout (:class:`StdoutSink`). A failed write is a
:class:`~rasd.cli.RasdError`: what was written before stays.

**Lines.** Output lines are standard JSON written whole (:func:`json_line`: ``allow_nan=False``;
U+2028, U+2029 and U+0085 escaped so no line splitter cuts one); error lines are
``{"file", "line", "id", "reason"}`` (:func:`error_line`); CSV rows have the columns of
:data:`rasd.inference.types.CSV_COLUMNS` (:func:`csv_rows`).
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import logging
import os
import stat
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from rasd.cli import RasdError
from rasd.inference.tag_inputs import STDIN, InputFile, display, is_input_name
from rasd.inference.types import CSV_COLUMNS
from rasd.jsonl import RecordError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks (see _lock)
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

SOURCE_FIELD = "_source"  # the output field naming the input file and line of an article


def errors_path(output: str | Path) -> Path:
    """``out.jsonl`` → ``out.errors.jsonl``.

    >>> errors_path("runs/out.jsonl").as_posix(), errors_path("out").as_posix()
    ('runs/out.errors.jsonl', 'out.errors.jsonl')
    """
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
    shown = display(str(path))
    if path.is_dir():
        raise RasdError(f"{role} {shown} is a directory")
    for parent in path.absolute().parents:
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                raise RasdError(f"{role} {shown}: {display(str(parent))} is not a directory")
            break


def _inputs_taken(
    inputs: list[InputFile], input_arg: str, stdin: IO[bytes] | None
) -> list[tuple[str, str, tuple[int, int] | None]]:
    """What no output may be: ``(what, resolved path, (dev, inode))`` of every input file, and of
    the file on stdin when stdin is a redirected file."""
    taken = [
        (f"input {src.label}", os.path.realpath(src.path), _identity(src.path))
        for src in inputs
        if src.path is not None
    ]
    if input_arg == STDIN:
        try:
            st = os.fstat((stdin if stdin is not None else sys.stdin).fileno())
            if stat.S_ISREG(st.st_mode):
                taken.append(("the file on stdin", "", (st.st_dev, st.st_ino)))
        except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
            pass
    return taken


def check_paths(
    inputs: list[InputFile], input_arg: str, outputs: list[tuple[str, Path]], stdin: IO[bytes] | None
) -> None:
    """Refuse (:class:`RasdError`) outputs — ``(role, path)`` pairs — that are inputs, that the
    directory walk would read, or that are each other (see the module docstring)."""
    for role, path in outputs:
        _check_output_path(role, path)
    taken = _inputs_taken(inputs, input_arg, stdin)
    folder = None
    if input_arg != STDIN and Path(input_arg).is_dir():
        folder = os.path.realpath(input_arg)
    for role, path in outputs:
        real, ident = os.path.realpath(path), _identity(path)
        shown = f"{role} {display(str(path))}"
        for what, other, other_ident in taken:
            if real == other or (ident is not None and ident == other_ident):
                raise RasdError(
                    f"{shown} is the same file as {what}: it would be overwritten (nothing written)"
                )
        if folder is not None and os.path.dirname(real) == folder and is_input_name(real):
            raise RasdError(
                f"{shown} is inside the input directory {display(input_arg)}, which would read it as "
                "input: write the output elsewhere (nothing written)"
            )
        taken.append((role, real, ident))


# ----------------------------------------------------------------------------- output files


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


class Sink:
    """An output file opened for appending (created, locked, not truncated until :meth:`reset`)."""

    def __init__(self, role: str, path: Path):
        self.path, self.shown = path, f"{role} {display(str(path))}"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.created = not path.exists()
        self.fh: Any = open(path, "ab", buffering=0)  # noqa: SIM115 - O_APPEND: every write goes to the end
        try:
            _lock(self.fh.fileno(), self.shown)
        except BaseException:
            self.close(remove=True)
            raise

    def reset(self, size: int = 0) -> None:
        """Cut the file to ``size`` bytes (nothing for a FIFO or ``/dev/null``)."""
        if stat.S_ISREG(os.fstat(self.fh.fileno()).st_mode):
            os.ftruncate(self.fh.fileno(), size)

    def write(self, data: bytes) -> None:
        if data:
            try:
                _write_all(self.fh, data)
            except OSError as exc:  # a failed job (disk full, ...): what was written before stays
                raise RasdError(f"cannot write {self.shown}: {exc.strerror or exc}") from exc

    def close(self, remove: bool = False) -> None:
        """Close (and unlock); ``remove``: delete the file again if this sink created it."""
        self.fh.close()
        if remove and self.created:
            with contextlib.suppress(OSError):
                self.path.unlink()


class StdoutSink:
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


# ----------------------------------------------------------------------------- lines


_LINE_BREAKS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"})


def json_line(obj: Any) -> bytes:
    """One JSONL line: standard JSON (no NaN), UTF-8, nothing a line splitter would cut.

    >>> json_line({"id": "a\\u2028b"})
    b'{"id": "a\\\\u2028b"}\\n'
    """
    text = json.dumps(obj, ensure_ascii=False, allow_nan=False)
    return text.translate(_LINE_BREAKS).encode("utf-8") + b"\n"


def error_line(err: RecordError) -> bytes:
    """The ``OUT.errors.jsonl`` line of a bad record (undecodable file names escaped)."""
    record = {k: (display(v) if isinstance(v, str) else v) for k, v in err.to_dict().items()}
    return (json.dumps(record, ensure_ascii=False).translate(_LINE_BREAKS) + "\n").encode(
        "utf-8", "backslashreplace"
    )


def csv_rows(rows: Iterable[dict[str, Any]], header: bool = False) -> bytes:
    """Event records as UTF-8 CSV rows (the header first with ``header``)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), extrasaction="ignore")
    if header:
        writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")
