"""The ``rasd tag`` job: stream articles in, tag them in chunks, write JSONL (and CSV records) out.

Inputs: a JSONL file of ``{"id", "text", ...}`` (extra fields are carried into the
output), a ``.txt`` file (one article, id = file stem), a directory of ``.jsonl``/``.txt``
files (sorted by name), or ``-`` for JSONL on stdin. Lines are read by the one JSONL
reader, :func:`rasd.jsonl.read_jsonl`. A bad line (broken JSON, invalid UTF-8, JSON too
deeply nested or with an over-long integer, missing or non-string ``text``, a field longer
than ``max_chars``) is a :class:`~rasd.jsonl.RecordError`: reported with file, line and
reason to the log and to ``OUT.errors.jsonl`` and skipped; every good article is still
written, in input order, flushed after each chunk. ``output`` ``-`` writes the JSONL to
stdout (bad lines then go to the log only). With ``resume``, articles whose id is already
in the output are skipped and new ones appended.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from tqdm.auto import tqdm

from rasd.inference.types import CSV_COLUMNS, TaggedDocument, csv_row
from rasd.jsonl import RecordError, open_output, parse_line, read_jsonl

logger = logging.getLogger(__name__)

DEFAULT_MAX_CHARS = 1_000_000
DEFAULT_CHUNK = 256


class _TaggerLike(Protocol):
    def tag(
        self, items: list[Any], batch_size: int = ..., show_progress_bar: bool = ...
    ) -> list[TaggedDocument]: ...


@dataclass
class InputArticle:
    """One article read from the input, with where it came from."""

    source: str
    line: int
    id: str
    text: str
    extra: dict[str, Any] = field(default_factory=dict)


def _too_long(obj: dict[str, Any], max_chars: int) -> str | None:
    for key, value in obj.items():
        if isinstance(value, str) and len(value) > max_chars:
            return f"field {key!r} has {len(value):,} characters (limit --max-chars {max_chars:,})"
    return None


def _article(obj: Any, source: str, lineno: int, max_chars: int) -> InputArticle | RecordError:
    """The article of one parsed input line, or why it cannot be tagged."""
    if not isinstance(obj, dict):
        return RecordError(source, lineno, f"expected a JSON object, got {type(obj).__name__}")
    doc_id = obj.get("id")
    doc_id = f"{Path(source).stem}:{lineno}" if doc_id is None or doc_id == "" else str(doc_id)
    if "text" not in obj:
        return RecordError(source, lineno, "missing field 'text'", doc_id)
    if not isinstance(obj["text"], str):
        return RecordError(
            source, lineno, f"field 'text' must be a string, got {type(obj['text']).__name__}", doc_id
        )
    if (reason := _too_long(obj, max_chars)) is not None:
        return RecordError(source, lineno, reason, doc_id)
    extra = {k: v for k, v in obj.items() if k not in ("id", "text")}
    return InputArticle(source, lineno, doc_id, obj["text"], extra)


def _iter_jsonl(stream: IO[bytes], source: str, max_chars: int) -> Iterator[InputArticle | RecordError]:
    for lineno, obj in read_jsonl(stream, source):
        yield obj if isinstance(obj, RecordError) else _article(obj, source, lineno, max_chars)


def _read_txt(path: Path, max_chars: int) -> InputArticle | RecordError:
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        return RecordError(str(path), 1, f"invalid UTF-8 at byte {exc.start}", path.stem)
    if len(text) > max_chars:
        return RecordError(
            str(path), 1, f"text has {len(text):,} characters (limit --max-chars {max_chars:,})", path.stem
        )
    return InputArticle(str(path), 1, path.stem, text)


def input_files(path: str | Path) -> list[Path]:
    """The files an input path stands for: itself, or a directory's ``*.jsonl``/``*.txt`` sorted by name."""
    p = Path(path)
    if p.is_dir():
        return sorted(f for f in p.iterdir() if f.is_file() and f.suffix in (".jsonl", ".txt"))
    if not p.exists():
        raise FileNotFoundError(f"no such input file or directory: {p}")
    return [p]


def iter_inputs(
    path: str | Path, max_chars: int = DEFAULT_MAX_CHARS, stdin: IO[bytes] | None = None
) -> Iterator[InputArticle | RecordError]:
    """Stream articles (or errors) from a JSONL/txt file, a directory of them, or ``-`` (stdin JSONL)."""
    if str(path) == "-":
        yield from _iter_jsonl(stdin if stdin is not None else sys.stdin.buffer, "<stdin>", max_chars)
        return
    for f in input_files(path):
        if f.suffix == ".txt":
            yield _read_txt(f, max_chars)
        else:
            with f.open("rb") as fh:
                yield from _iter_jsonl(fh, str(f), max_chars)


def errors_path(output: str | Path) -> Path:
    """``out.jsonl`` → ``out.errors.jsonl``."""
    p = Path(output)
    stem = p.name[: -len(".jsonl")] if p.name.endswith(".jsonl") else p.name
    return p.with_name(stem + ".errors.jsonl")


def _done_ids(output: Path, on_record: Any = None) -> set[str]:
    """Ids already in ``output`` (each line's records passed to ``on_record``).

    A torn last line left by an interrupted run is cut off so appending starts on a clean line.
    """
    ids: set[str] = set()
    pos = 0
    with output.open("rb") as fh:
        for raw in fh:
            try:
                obj = parse_line(raw)
            except ValueError:
                obj = None
            if not isinstance(obj, dict):
                obj = None
            if obj is None or not raw.endswith(b"\n"):
                if not raw.endswith(b"\n"):
                    logger.warning("%s: dropping an incomplete last line left by an interrupted run", output)
                    break
                logger.warning("%s: ignoring an unreadable line at byte %d", output, pos)
            else:
                ids.add(str(obj.get("id")))
                if on_record is not None:
                    for record in obj.get("records") or []:
                        on_record(record)
            pos += len(raw)
    if pos < output.stat().st_size:
        with output.open("r+b") as fh:
            fh.truncate(pos)
    return ids


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


def _tag_chunk(
    tagger: _TaggerLike, articles: list[InputArticle], batch_size: int
) -> list[TaggedDocument | RecordError]:
    """Tag a chunk; if the whole chunk fails, retry one by one so only the culprit is lost."""
    payload = [{"id": a.id, "text": a.text, **a.extra} for a in articles]
    try:
        return list(tagger.tag(payload, batch_size=batch_size, show_progress_bar=False))
    except Exception:  # noqa: BLE001 - isolate the failing article below
        if len(articles) == 1:
            a = articles[0]
            exc = sys.exc_info()[1]
            return [RecordError(a.source, a.line, f"tagging failed: {type(exc).__name__}: {exc}", a.id)]
    out: list[TaggedDocument | RecordError] = []
    for a in articles:
        out += _tag_chunk(tagger, [a], batch_size)
    return out


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
    start = time.perf_counter()
    to_stdout = str(output) == "-"
    if to_stdout and resume:
        raise ValueError("resume needs an output file, not stdout")
    output = Path(output)
    summary = JobSummary()
    with contextlib.ExitStack() as files:
        writer = None
        if records_path is not None:
            Path(records_path).parent.mkdir(parents=True, exist_ok=True)
            csv_fh = files.enter_context(Path(records_path).open("w", encoding="utf-8-sig", newline=""))
            writer = csv.DictWriter(csv_fh, fieldnames=list(CSV_COLUMNS), extrasaction="ignore")
            writer.writeheader()
        done: set[str] = set()
        if resume and output.exists():
            # The CSV is rewritten to mirror the records already in the output, then extended.
            done = _done_ids(output, None if writer is None else lambda r: writer.writerow(csv_row(r)))
            logger.info("resuming: %d articles already in %s", len(done), output)
        out_fh = files.enter_context(open_output(output, "a" if resume else "w"))
        err_fh = None if to_stdout else files.enter_context(open_output(errors_path(output)))

        def report(err: RecordError) -> None:
            summary.failures += 1
            logger.warning("skipped %s", err)
            if err_fh is not None:
                err_fh.write(json.dumps(err.to_dict(), ensure_ascii=False) + "\n")
                err_fh.flush()

        def wanted(items: Iterator[InputArticle | RecordError]) -> Iterator[InputArticle]:
            for item in items:
                if isinstance(item, RecordError):
                    report(item)
                elif item.id in done:
                    summary.skipped += 1
                else:
                    yield item

        bar = files.enter_context(
            tqdm(unit=" articles", desc="rasd tag", disable=not progress, dynamic_ncols=True)
        )
        for chunk in _chunks(wanted(iter_inputs(input_path, max_chars, stdin)), chunk_size):
            for result in _tag_chunk(tagger, chunk, batch_size):
                if isinstance(result, RecordError):
                    report(result)
                    continue
                out_fh.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
                if writer is not None:
                    writer.writerows(r.to_row() for r in result.records)
                summary.add(result)
            out_fh.flush()
            if writer is not None:
                csv_fh.flush()
            bar.update(len(chunk))
    summary.seconds = time.perf_counter() - start
    return summary
