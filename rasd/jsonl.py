"""JSON Lines in and out: the one line reader of every JSONL input, and ``-`` for stdout.

:func:`read_jsonl` yields ``(line_number, parsed object)`` for each non-blank line, or
``(line_number, RecordError)`` for a line it cannot parse; it never raises on a bad line,
so callers (corpus loading, the validator, ``rasd tag``) decide whether to stop or skip.
:class:`RecordError` is the one "bad record at file:line" type: yielded as a value, raised
when a caller stops on it.

>>> import io
>>> lines = io.BytesIO(b'{"id": "a"}\\n\\n{"id": \\n[' + b"[" * 200 + b"]" * 201 + b'\\n{"id": "b"}\\n')
>>> for line, item in read_jsonl(lines, "in.jsonl"):
...     print(line, item)
1 {'id': 'a'}
3 in.jsonl:3: invalid JSON: Expecting value (column 8)
4 in.jsonl:4: JSON nested deeper than 100 levels
5 {'id': 'b'}
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

MAX_DEPTH = 100  # deeper JSON is refused: records are shallow, and deep values break json.dumps later
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")  # a \uD800-\uDFFF escape: maybe a lone surrogate


class RecordError(ValueError):
    """A bad record at ``path:line`` (``line`` is ``None`` for a problem with the whole file).

    >>> str(RecordError("in.jsonl", 3, "missing field 'text'", "a-1"))
    "in.jsonl:3 [a-1]: missing field 'text'"
    """

    def __init__(self, path: str | Path, line: int | None, reason: str, doc_id: str | None = None):
        self.path, self.line, self.reason, self.doc_id = str(path), line, reason, doc_id
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        if self.doc_id:
            where += f" [{self.doc_id}]"
        return f"{where}: {self.reason}"

    def __reduce__(self):  # pickle with the constructor's arguments, not the message
        return type(self), (self.path, self.line, self.reason, self.doc_id)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (a line of ``OUT.errors.jsonl``)."""
        return {"file": self.path, "line": self.line, "id": self.doc_id, "reason": self.reason}


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _check_tree(obj: Any, strings: bool) -> str | None:
    """Why a parsed value cannot be used: nested deeper than :data:`MAX_DEPTH`, or (with
    ``strings``) a string holding a lone surrogate, which cannot be written as UTF-8."""
    stack: list[tuple[Any, int]] = [(obj, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if strings:
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError as exc:
                    bad = value[exc.start : exc.end].encode("unicode_escape").decode("ascii")
                    return f"JSON string with a lone surrogate {bad} (not valid UTF-8)"
        elif isinstance(value, (dict, list)):
            if depth >= MAX_DEPTH:
                return f"JSON nested deeper than {MAX_DEPTH} levels"
            items = [x for kv in value.items() for x in kv] if isinstance(value, dict) else value
            stack.extend((x, depth + 1) for x in items)
    return None


class _NonStandard(Exception):
    """A value JSON (RFC 8259) does not have, or an object with a key twice."""


def _no_constant(name: str) -> Any:
    raise _NonStandard(f"non-standard JSON number {name} (NaN and Infinity are not JSON)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NonStandard(f"number {text[:20]}{'…' if len(text) > 20 else ''} is out of range for a float")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) < len(pairs):
        seen: set[str] = set()
        twice = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise _NonStandard(f"key {twice!r} appears twice in one object (which value is meant?)")
    return obj


def parse_line(raw: bytes, first: bool = False) -> Any:
    """Parse one JSONL line; raise ``ValueError`` with a one-line reason for a poison line.

    Everything a hostile line can make parsing raise is turned into that ``ValueError``:
    invalid UTF-8, broken JSON, nesting too deep for the parser (``RecursionError``) or for
    :data:`MAX_DEPTH`, an integer longer than Python's 4300-digit limit, a lone surrogate.
    What is not standard JSON is refused too, so it is never written back out: ``NaN``,
    ``Infinity``, a number beyond a float's range (``1e999``), a key twice in one object.
    ``first``: the file's first line, where a UTF-8 byte-order mark is skipped.

    >>> parse_line(b'{"n": 1}\\r\\n')
    {'n': 1}
    >>> parse_line(b'{"n": ' + b"1" * 5000 + b"}")
    Traceback (most recent call last):
    ValueError: invalid JSON: Exceeds the limit (4300 digits) for integer string conversion: ...
    >>> parse_line(b'{"start": NaN}')
    Traceback (most recent call last):
    ValueError: non-standard JSON number NaN (NaN and Infinity are not JSON)
    >>> parse_line(b'{"id": 1, "id": 2}')
    Traceback (most recent call last):
    ValueError: key 'id' appears twice in one object (which value is meant?)
    """
    if first and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"invalid UTF-8 at byte {exc.start}") from None
    try:
        obj = json.loads(
            line.rstrip("\r\n"), parse_constant=_no_constant, parse_float=_finite_float, object_pairs_hook=_unique_keys
        )
    except _NonStandard as exc:
        raise ValueError(str(exc)) from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc.msg} (column {exc.colno})") from None
    except RecursionError:
        raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # an integer over sys.get_int_max_str_digits() digits
        raise ValueError(f"invalid JSON: {_one_line(str(exc))}") from None
    strings = _SURROGATE.search(raw) is not None
    if strings or raw.count(b"[") + raw.count(b"{") > MAX_DEPTH:
        reason = _check_tree(obj, strings)
        if reason is not None:
            raise ValueError(reason)
    return obj


def decode_file(raw: bytes, name: str | Path, error: type[RecordError] = RecordError) -> str:
    """The text of a whole UTF-8 file (a byte-order mark skipped); ``error`` naming the line if invalid.

    >>> decode_file(b"\\xef\\xbb\\xbfok\\nb\\xff", "in.txt")
    Traceback (most recent call last):
    rasd.jsonl.RecordError: in.txt:2: invalid UTF-8 at byte 1
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        line = raw.count(b"\n", 0, exc.start) + 1
        raise error(name, line, f"invalid UTF-8 at byte {exc.start - line_start}") from None


def read_jsonl(source: str | Path | IO[bytes], name: str | None = None) -> Iterator[tuple[int, Any]]:
    """Yield ``(line_number, object or RecordError)`` for each non-blank line of a file or binary stream.

    ``name`` is the file named in errors (default: the path, or the stream's ``name``).
    """
    if isinstance(source, (str, Path)):
        with Path(source).open("rb") as fh:
            yield from read_jsonl(fh, str(source) if name is None else name)
        return
    name = name if name is not None else str(getattr(source, "name", "<stream>"))
    for lineno, raw in enumerate(source, start=1):
        if not raw.strip():
            continue
        try:
            yield lineno, parse_line(raw, first=lineno == 1)
        except ValueError as exc:
            yield lineno, RecordError(name, lineno, str(exc))


@contextlib.contextmanager
def open_output(path: str | Path, mode: str = "w") -> Iterator[IO[str]]:
    """A UTF-8 text file to write (parent folders created), or stdout for ``-`` (left open)."""
    if str(path) == "-":
        out = sys.stdout
        if (getattr(out, "encoding", None) or "utf-8").lower().replace("-", "") != "utf8":
            with contextlib.suppress(AttributeError, ValueError):
                out.reconfigure(encoding="utf-8")  # type: ignore[union-attr]
        try:
            yield out
        finally:
            out.flush()
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with Path(path).open(mode, encoding="utf-8") as fh:
        yield fh
