"""``rasd tag --resume``: what an existing output already holds, and the repairs it needs.

An input article is already done when ``OUT`` has a line from the same place — ``_source`` file
and line (stdin's lines match any file's) — with the same id (its JSON value: ``7`` and ``"7"``
differ; automatic ids are matched by place alone). Duplicated ids and automatic ids therefore
resume exactly, and ``--input -`` resumes ``--input FILE``. Lines of older outputs without
``_source`` are matched by id, once each (:class:`Done`).

:func:`scan_output` reads ``OUT`` once. A torn last line (no newline) is dropped and its article
tagged again; a corrupt line elsewhere is reported and removed, the lines after it are rewritten
unchanged (not tagged again) in input order, with the article it held tagged in its place (both
repairs are warnings on the log: they lose no article and do not change the exit status).
``OUT.errors.jsonl`` and ``--records`` are rewritten (every bad record is reported again; the CSV
mirrors ``OUT``). ``OUT`` must be a regular file to resume.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from rasd.inference.tag_inputs import STDIN, InputArticle, display
from rasd.inference.tag_outputs import SOURCE_FIELD, csv_rows
from rasd.inference.types import csv_row
from rasd.jsonl import parse_line

logger = logging.getLogger(__name__)

_SHOWN_CORRUPT = 10  # corrupt lines reported one by one; the rest are counted


@dataclass
class Carried:
    """An article whose output line is carried over from a repaired ``OUT`` (not tagged again)."""

    line: bytes
    records: list[Any]


def _id_key(value: Any) -> str:
    """An id as ``--resume`` compares it: its JSON text, so ``7`` and ``"7"`` differ.

    >>> _id_key(7) == _id_key("7")
    False
    """
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


class Done:
    """The articles an existing output holds, by place (``_source`` file, line) and id.

    Lines kept after a repaired corrupt line go to ``spool``, to be written back in input order.
    """

    def __init__(self, spool: IO[bytes]) -> None:
        self.spool = spool
        self.at: dict[tuple[str, int], list[tuple[str, Any]]] = {}
        self.by_line: dict[int, list[tuple[str, Any]]] | None = None
        self.legacy: Counter[str] = Counter()  # ids of lines without _source (older outputs)
        self.legacy_copies: dict[str, list[Any]] = {}

    def add(self, obj: dict[str, Any], raw: bytes | None = None) -> None:
        """An output line's article; ``raw``: its line, to be carried over (see :class:`Carried`)."""
        payload = None
        if raw is not None:
            payload = (self.spool.tell(), len(raw))
            self.spool.write(raw)
        src = obj.get(SOURCE_FIELD)
        if isinstance(src, dict) and isinstance(src.get("file"), str) and type(src.get("line")) is int:
            self.at.setdefault((src["file"], src["line"]), []).append((_id_key(obj.get("id")), payload))
        elif payload is None:
            self.legacy[str(obj.get("id"))] += 1
        else:
            self.legacy_copies.setdefault(str(obj.get("id")), []).append(payload)

    def take(self, art: InputArticle) -> tuple[bool, Carried | None]:
        """``(found, carried)`` for an input article, the match used up: ``carried`` is the line to
        write again in its place, ``None`` when the article stays where it is in ``OUT``."""
        found, payload = self._match(art)
        if payload is None:
            return found, None
        self.spool.seek(payload[0])
        line = self.spool.read(payload[1])
        obj = output_line(line)
        return True, Carried(line, records_of(obj) if isinstance(obj, dict) else [])

    def _match(self, art: InputArticle) -> tuple[bool, Any]:
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


def output_line(raw: bytes) -> dict[str, Any] | str:
    """A parsed line of an existing output, or why it is corrupt.

    >>> output_line(b'{"id": "a"}\\n'), output_line(b'[1]\\n')
    ({'id': 'a'}, 'not a rasd tag output line')
    """
    try:
        obj = parse_line(raw)
    except ValueError as exc:
        return str(exc)
    if not isinstance(obj, dict) or "id" not in obj:
        return "not a rasd tag output line"
    return obj


def records_of(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The event records of an output line (what is not a record object left out)."""
    records = obj.get("records")
    return [r for r in records if isinstance(r, dict)] if isinstance(records, list) else []


def scan_output(path: Path, done: Done, csv_out: Any) -> int:
    """Read an existing output into ``done`` (CSV rows of kept lines to ``csv_out``, a sink or
    ``None``); return where to cut it: before a torn last line, or before the first corrupt line
    (the valid lines after it are carried over by ``done``)."""
    pos, cut, corrupt = 0, None, 0
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.endswith(b"\n"):
                logger.warning(
                    "%s:%d: dropping an incomplete last line (%d bytes) left by an interrupted run; "
                    "its article is tagged again",
                    display(str(path)),
                    lineno,
                    len(raw),
                )
                break
            obj = output_line(raw)
            if isinstance(obj, str):
                corrupt += 1
                if corrupt <= _SHOWN_CORRUPT:
                    logger.warning(
                        "%s:%d: removing a corrupt line (%s, %d bytes); its article is tagged again and the "
                        "lines after it are kept in input order",
                        display(str(path)),
                        lineno,
                        obj,
                        len(raw),
                    )
                cut = pos if cut is None else cut
            elif cut is None:
                done.add(obj)
                if csv_out is not None:
                    csv_out.write(csv_rows(csv_row(r) for r in records_of(obj)))
            else:
                done.add(obj, raw)
            pos += len(raw)
    if corrupt > _SHOWN_CORRUPT:
        logger.warning("%s: removed %d corrupt lines in all", display(str(path)), corrupt)
    return pos if cut is None else cut
