"""The ``rasd tag`` job: stream articles in, tag them in chunks, write JSONL (and CSV records) out.

:class:`TagJob` wires the parts together: :mod:`~rasd.inference.tag_inputs` (what is read, and
which records are refused), :mod:`~rasd.inference.tag_outputs` (the path checks, locked output
files, line encoding) and :mod:`~rasd.inference.tag_resume` (``--resume``).

**Bad records.** Anything that fails for one record — reading it, tagging it (any exception),
serialising or encoding its result — is a :class:`~rasd.jsonl.RecordError`: logged and written
to ``OUT.errors.jsonl`` (``{"file", "line", "id", "reason"}``), and the job goes on. Only
failures of the job itself (the output cannot be written) stop it, after every finished chunk
has been written.

**Output.** One JSON line per good article, in input order: ``id`` (the input's, of the same JSON
type, or an automatic ``STEM:LINE``), ``entities``, ``sentences``, ``events``, ``records``, the
other input fields unchanged, and ``_source: {"file", "line"}`` (the file's name — inside the
input directory for a directory, ``-`` for stdin — and the line it was read from). An input field
named like an output field (``entities``, ``sentences``, ``events``, ``records``, ``input``,
``_source``) is kept, unchanged, under ``input`` (:data:`rasd.inference.types.OUTPUT_FIELDS`);
the output's wins. A non-empty ``sentences`` list (``[start, end]`` pairs or ``{start, end}``
objects, e.g. a corpus record's) is also used as the sentence boundaries; empty or ``null``:
the sentence splitter. Articles are tagged :data:`DEFAULT_CHUNK` at a time; each chunk's lines
are written whole and flushed together, appended to the file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from tqdm.auto import tqdm

from rasd.cli import RasdError
from rasd.inference.tag_inputs import (
    BOM,
    DEFAULT_MAX_CHARS,
    STDIN,
    InputArticle,
    display,
    input_files,
    one_line,
    read_input,
)
from rasd.inference.tag_outputs import (
    SOURCE_FIELD,
    Sink,
    StdoutSink,
    check_paths,
    csv_rows,
    error_line,
    errors_path,
    json_line,
)
from rasd.inference.tag_resume import Carried, Done, scan_output
from rasd.inference.types import TaggedDocument, csv_row
from rasd.jsonl import RecordError

logger = logging.getLogger(__name__)

DEFAULT_CHUNK = 256


class _TaggerLike(Protocol):
    def tag(
        self, items: list[Any], batch_size: int = ..., show_progress_bar: bool = ...
    ) -> list[TaggedDocument]: ...


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
                RecordError(a.source, a.line, f"tagging failed: {type(exc).__name__}: {one_line(exc)}", a.id)
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
    line = json_line(out)
    rows = [csv_row(r) for r in out["records"]]
    csv_rows(rows)  # encodable
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
        check_paths(self.inputs, self.input_arg, self.roles, stdin)
        if resume and self.output.exists() and not self.output.is_file():
            raise RasdError(f"--resume needs --output to be a regular file, not {display(str(self.output))}")
        self._sinks: dict[str, Any] = {}
        self._ran = False
        self._summary = JobSummary()

    def __enter__(self) -> TagJob:
        try:
            self._sinks["out"] = StdoutSink() if self.output is None else Sink("--output", self.output)
            if self.output is not None:
                self._sinks["errors"] = Sink("the errors file", errors_path(self.output))
            if self.records_path is not None:
                self._sinks["records"] = Sink("--records", self.records_path)
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
        self._summary = summary = JobSummary()
        with contextlib.ExitStack() as stack:
            done = self._start(stack)
            bar = stack.enter_context(
                tqdm(unit=" articles", desc="rasd tag", disable=not progress, dynamic_ncols=True)
            )
            for chunk in _chunks(self._wanted(done), chunk_size):
                articles = [a for a in chunk if isinstance(a, InputArticle)]
                self._write_chunk(chunk, _tag_chunk(tagger, articles, batch_size) if articles else [])
                bar.update(len(chunk))
        summary.seconds = time.perf_counter() - start
        return summary

    def _start(self, stack: contextlib.ExitStack) -> Done | None:
        """Truncate the outputs (a resumed ``OUT`` after what it keeps); the articles already done."""
        out, errors, records = (self._sinks.get(k) for k in ("out", "errors", "records"))
        if errors is not None:
            errors.reset()
        if records is not None:
            records.reset()
            records.write(BOM + csv_rows([], header=True))
        if not (self.resume and self.output is not None):
            out.reset()
            return None
        done = Done(stack.enter_context(tempfile.TemporaryFile(dir=self.output.parent)))
        out.reset(scan_output(self.output, done, records))
        logger.info("resuming %s", display(str(self.output)))
        return done

    def _report(self, err: RecordError) -> None:
        self._summary.failures += 1
        logger.warning("skipped %s", one_line(err))
        if (errors := self._sinks.get("errors")) is not None:
            errors.write(error_line(err))

    def _wanted(self, done: Done | None) -> Iterator[InputArticle | Carried]:
        """The input articles to tag, and the lines a repaired ``OUT`` carries over, in input order."""
        for src in self.inputs:
            for item in read_input(src, self.max_chars, self.stdin):
                if isinstance(item, RecordError):
                    self._report(item)
                    continue
                found, carried = done.take(item) if done is not None else (False, None)
                if not found:
                    yield item
                elif carried is None:
                    self._summary.skipped += 1
                else:
                    yield carried

    def _write_chunk(
        self, chunk: list[InputArticle | Carried], results: list[TaggedDocument | RecordError]
    ) -> None:
        """Write a chunk's lines (and CSV rows) together: its tagged articles' (``results``, in
        order) and the carried-over ones."""
        tagged = iter(results)
        lines, rows = [], []
        for item in chunk:
            if isinstance(item, Carried):
                self._summary.skipped += 1
                lines.append(item.line)
                rows += [csv_row(r) for r in item.records]
                continue
            result = next(tagged)
            if isinstance(result, RecordError):
                self._report(result)
                continue
            try:
                line, doc_rows = _render(item, result)
            except Exception as exc:  # noqa: BLE001 - one result that cannot be written
                reason = f"cannot write the result: {type(exc).__name__}: {one_line(exc)}"
                self._report(RecordError(item.source, item.line, reason, item.id))
                continue
            lines.append(line)
            rows += doc_rows
            self._summary.add(result)
        self._sinks["out"].write(b"".join(lines))
        if (records := self._sinks.get("records")) is not None:
            records.write(csv_rows(rows))


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
