"""Corpus validation: every problem of every line, located by file, line, document and span.

:func:`validate_paths` reads JSONL files with the one line reader,
:func:`rasd.jsonl.read_jsonl`, and checks the parsed objects itself (not through
:func:`rasd.corpus.document_from_dict`, which stops at a record's first problem) so
that every problem of every record is reported. A path that cannot be read (missing, a
broken link, a link loop, a folder with no ``*.jsonl``) is an error too; the other paths are
still checked.
Errors make a corpus unusable for training; warnings (proclitics inside a
span, entities crossing sentences, duplicated event types) flag likely
guideline slips.
"""

from __future__ import annotations

import json
import logging
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rasd.corpus import corpus_files, short_repr
from rasd.jsonl import RecordError, read_jsonl
from rasd.schema import ENTITY_LABELS, EVENT_TYPES
from rasd.text import proclitic_length

log = logging.getLogger(__name__)

ERROR = "error"
WARNING = "warning"
_SHOW = 40  # longest span text quoted in a message


@dataclass(frozen=True)
class Issue:
    """One problem: ``level`` is ``"error"`` or ``"warning"``."""

    level: str
    path: str
    line: int | None
    doc_id: str | None
    message: str

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        if self.doc_id is not None:
            where += f" [{self.doc_id}]"
        return f"{where} {self.level}: {self.message}"


@dataclass
class ValidationReport:
    """All issues found, plus how much was read."""

    issues: list[Issue] = field(default_factory=list)
    files: int = 0
    documents: int = 0

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.level == ERROR]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.level == WARNING]

    def ok(self, strict: bool = False) -> bool:
        """True when there are no errors (and, if ``strict``, no warnings)."""
        return not self.errors and not (strict and self.warnings)

    def summary(self) -> str:
        return (
            f"{self.files} file(s), {self.documents} document(s): "
            f"{len(self.errors)} error(s), {len(self.warnings)} warning(s)"
        )


def quote(text: str) -> str:
    """Span text for a message, shortened and with line breaks visible."""
    if len(text) > _SHOW:
        text = text[: _SHOW - 1] + "…"
    return repr(text)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_punct(ch: str) -> bool:
    return unicodedata.category(ch).startswith("P")


class _DocChecker:
    """Checks one parsed JSON object; collects issues through ``emit``."""

    def __init__(self, obj: dict[str, Any], emit):
        self.obj, self.emit = obj, emit
        self.text: str = obj.get("text") if isinstance(obj.get("text"), str) else ""

    def run(self) -> None:
        if not self._check_shape():
            return
        entities = self._check_entities()
        sentences = self._check_sentences()
        self._check_entities_in_sentences(entities, sentences)

    # -- shape ------------------------------------------------------------------------

    def _check_shape(self) -> bool:
        obj, ok = self.obj, True
        if "text" not in obj:
            self.emit(ERROR, "missing field 'text'")
            ok = False
        elif not isinstance(obj["text"], str):
            self.emit(ERROR, f"field 'text' must be a string, got {type(obj['text']).__name__}")
            ok = False
        if "source" in obj and not isinstance(obj["source"], str):
            self.emit(ERROR, "field 'source' must be a string")
        if "synthetic" in obj and not isinstance(obj["synthetic"], bool):
            self.emit(ERROR, "field 'synthetic' must be true or false")
        for key in ("entities", "sentences"):
            if key not in obj:
                self.emit(ERROR, f"missing field {key!r}")
                ok = False
            elif not isinstance(obj[key], list):
                self.emit(ERROR, f"field {key!r} must be a list")
                ok = False
        return ok

    def _offsets(self, kind: str, index: int, item: Any) -> tuple[int, int] | None:
        """Validated ``(start, end)`` of an entity/sentence object, or ``None`` after reporting."""
        if not isinstance(item, dict):
            self.emit(
                ERROR, f"{kind} #{index}: expected an object, got {json.dumps(item, ensure_ascii=False)}"
            )
            return None
        start, end = item.get("start"), item.get("end")
        if not (_is_int(start) and _is_int(end)):
            self.emit(
                ERROR,
                f"{kind} #{index}: 'start' and 'end' must be integers, got {short_repr(start)}, {short_repr(end)}",
            )
            return None
        n = len(self.text)
        if not (0 <= start <= n and 0 <= end <= n):
            self.emit(ERROR, f"{kind} {short_repr(start)}-{short_repr(end)}: offsets out of bounds (text length {n})")
            return None
        if start > end:
            self.emit(ERROR, f"{kind} {start}-{end}: end before start")
            return None
        if start == end:
            self.emit(ERROR, f"{kind} {start}-{end}: empty span")
            return None
        return start, end

    # -- entities ---------------------------------------------------------------------

    def _check_entities(self) -> list[tuple[int, int, str]]:
        good: list[tuple[int, int, str]] = []
        for i, ent in enumerate(self.obj["entities"]):
            se = self._offsets("entity", i, ent)
            if se is None:
                continue
            start, end = se
            label = ent.get("label")
            shown = label if isinstance(label, str) and len(label) <= _SHOW else short_repr(label)
            where = f"entity {start}-{end} {quote(self.text[start:end])} {shown}"
            if not isinstance(label, str) or label not in ENTITY_LABELS:
                self.emit(ERROR, f"{where}: unknown label {short_repr(label)} (known: {', '.join(ENTITY_LABELS)})")
            self._check_boundaries(where, start, end)
            good.append((start, end, str(shown)))
        good.sort()
        for (s1, e1, l1), (s2, e2, l2) in zip(good, good[1:], strict=False):
            if s2 < e1:
                self.emit(
                    ERROR,
                    f"entity {s2}-{e2} {quote(self.text[s2:e2])} {l2}: overlaps entity "
                    f"{s1}-{e1} {quote(self.text[s1:e1])} {l1}",
                )
        return good

    def _check_boundaries(self, where: str, start: int, end: int) -> None:
        text = self.text
        first, last = text[start], text[end - 1]
        if first.isspace():
            self.emit(ERROR, f"{where}: starts with whitespace")
        elif _is_punct(first):
            self.emit(ERROR, f"{where}: starts with punctuation {first!r}")
        if last.isspace():
            self.emit(ERROR, f"{where}: ends with whitespace")
        elif _is_punct(last) and not _inner_bracket(text[start:end]) and not _abbreviation(text[start:end]):
            self.emit(ERROR, f"{where}: ends with punctuation {last!r}")
        word = text[start:end].split(maxsplit=1)[0] if text[start:end].strip() else ""
        n = proclitic_length(word)
        if n:
            self.emit(
                WARNING,
                f"{where}: starts with proclitic {word[:n]!r}; the guidelines keep it outside "
                f"(span should start at {quote(text[start + n : end])})",
            )

    # -- sentences --------------------------------------------------------------------

    def _check_sentences(self) -> list[tuple[int, int]]:
        good: list[tuple[int, int]] = []
        prev: tuple[int, int] | None = None
        for i, sent in enumerate(self.obj["sentences"]):
            se = self._offsets("sentence", i, sent)
            if se is None:
                continue
            start, end = se
            where = f"sentence {i} ({start}-{end}) {quote(self.text[start:end])}"
            events = sent.get("events", [])
            if not isinstance(events, list):
                self.emit(ERROR, f"{where}: 'events' must be a list")
                events = []
            seen: set[str] = set()
            for ev in events:
                if not isinstance(ev, str) or ev not in EVENT_TYPES:
                    self.emit(
                        ERROR, f"{where}: unknown event type {short_repr(ev)} (known: {', '.join(EVENT_TYPES)})"
                    )
                elif ev in seen:
                    self.emit(WARNING, f"{where}: event type {ev} listed twice")
                if isinstance(ev, str):
                    seen.add(ev)
            if self.text[start].isspace() or self.text[end - 1].isspace():
                self.emit(WARNING, f"{where}: sentence starts or ends with whitespace")
            if prev is not None:
                if start < prev[0]:
                    self.emit(ERROR, f"{where}: out of order (starts before sentence at {prev[0]}-{prev[1]})")
                elif start < prev[1]:
                    self.emit(ERROR, f"{where}: overlaps previous sentence {prev[0]}-{prev[1]}")
            prev = (start, end)
            good.append((start, end))
        self._check_coverage(good)
        return good

    def _check_coverage(self, sentences: list[tuple[int, int]]) -> None:
        covered = bytearray(len(self.text))
        for s, e in sentences:
            covered[s:e] = b"\x01" * (e - s)
        i, n = 0, len(self.text)
        while i < n:
            if covered[i] or self.text[i].isspace():
                i += 1
                continue
            j = i
            # Extend over uncovered characters (whitespace included) up to the last non-space one.
            k = i
            while k < n and not covered[k]:
                if not self.text[k].isspace():
                    j = k
                k += 1
            self.emit(ERROR, f"text {i}-{j + 1} {quote(self.text[i : j + 1])} not covered by any sentence")
            i = k

    def _check_entities_in_sentences(self, entities, sentences) -> None:
        for start, end, label in entities:
            for s, e in sentences:
                if s < end and start < e and not (s <= start and end <= e):
                    self.emit(
                        WARNING,
                        f"entity {start}-{end} {quote(self.text[start:end])} {label}: "
                        f"crosses the boundary of sentence {s}-{e}",
                    )
                    break


def _abbreviation(span: str) -> bool:
    """A span ending in an initial or abbreviation, e.g. ``محمد ب.`` or ``الكي. جي. بي.``."""
    last = span.split()[-1]
    return last.endswith(".") and 0 < len(last.rstrip(".")) <= 2


def _inner_bracket(span: str) -> bool:
    """A closing bracket opened inside the name, e.g. ``قوات سوريا الديمقراطية (قسد)``.

    Brackets and quotation marks around the whole name stay outside, so the opener may not be first.
    """
    opener = {")": "(", "]": "["}.get(span[-1])
    return opener is not None and opener in span[1:-1]


def validate_paths(paths: Iterable[str | Path]) -> ValidationReport:
    """Validate files and directories (``*.jsonl``); ids must be unique across all of them."""
    report = ValidationReport()
    seen_ids: dict[str, str] = {}
    files: list[Path] = []
    for p in paths:
        try:
            found = corpus_files([p])
        except OSError as exc:  # missing, a broken link, a link loop
            report.issues.append(Issue(ERROR, str(p), None, None, exc.strerror or str(exc)))
            continue
        if not found and Path(p).is_dir():
            report.issues.append(Issue(ERROR, str(p), None, None, "directory holds no *.jsonl files"))
        files.extend(found)
    for path in files:
        report.files += 1
        try:
            _validate_file(path, report, seen_ids)
        except OSError as exc:  # unreadable (permissions, a folder named *.jsonl given as a file, ...)
            report.issues.append(Issue(ERROR, str(path), None, None, exc.strerror or str(exc)))
    return report


def _validate_file(path: Path, report: ValidationReport, seen_ids: dict[str, str]) -> None:
    for lineno, obj in read_jsonl(path):

        def emit(level: str, message: str, doc_id: str | None = None, _line: int = lineno) -> None:
            report.issues.append(Issue(level, str(path), _line, doc_id, message))

        if isinstance(obj, RecordError):
            emit(ERROR, obj.reason)
            continue
        if not isinstance(obj, dict):
            emit(ERROR, f"expected a JSON object, got {type(obj).__name__}")
            continue
        report.documents += 1
        doc_id = obj.get("id")
        if "id" not in obj:
            emit(ERROR, "missing field 'id'")
            doc_id = None
        elif not isinstance(doc_id, str) or not doc_id:
            emit(ERROR, f"field 'id' must be a non-empty string, got {doc_id!r}")
            doc_id = None
        elif doc_id in seen_ids:
            emit(ERROR, f"duplicate id {doc_id!r} (first at {seen_ids[doc_id]})", doc_id)
        else:
            seen_ids[doc_id] = f"{path}:{lineno}"
        _DocChecker(obj, lambda level, msg, _d=doc_id, _e=emit: _e(level, msg, _d)).run()
    log.debug("validated %s", path)


def validate_documents(docs, path: str = "<memory>") -> ValidationReport:
    """Validate in-memory :class:`~rasd.corpus.Document` objects (line = position, from 1)."""
    report = ValidationReport(files=0)
    seen: dict[str, str] = {}
    for lineno, doc in enumerate(docs, start=1):
        report.documents += 1

        def emit(level: str, message: str, _line: int = lineno, _id: str = doc.id) -> None:
            report.issues.append(Issue(level, path, _line, _id, message))

        if doc.id in seen:
            emit(ERROR, f"duplicate id {doc.id!r} (first at {seen[doc.id]})")
        seen.setdefault(doc.id, f"{path}:{lineno}")
        _DocChecker(doc.to_dict(), emit).run()
    return report
