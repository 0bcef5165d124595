"""Label Studio tasks ⇄ corpus documents, losslessly, and the matching labeling config.

A task holds the document in ``data`` (``text``, ``id``, ``source``,
``synthetic`` and ``extra`` for any other fields) and its annotation in
``annotations[0].result``:

* entities: ``labels`` regions from ``label`` (``value``: start, end, text, labels);
* sentences: ``labels`` regions from ``sentence`` with the single label ``SENTENCE``;
* events: a per-region ``choices`` result from ``events`` sharing the sentence
  region's ``id`` (written only when the sentence has events).

Reading also accepts tasks exported by Label Studio itself: any ``labels``
result whose ``from_name`` is not ``sentence`` is an entity, the first
non-cancelled annotation is used (``predictions`` when there is none), and
tasks without sentence regions are segmented with the project splitter.
Offsets are code points; an export whose offsets only match the text as
UTF-16 units (older Label Studio with astral characters) is converted back.

What the corpus format forbids is refused, not written: offsets that are not integers
(booleans and floats included) or not within ``0 <= start < end <= len(text)``, entity
labels and event types outside the schema, ``labels``/``choices`` that are not lists of
strings, tasks or results that are not objects. :func:`load_tasks` reads a file (a JSON
list of tasks, one task, or one task per line) and names the file, the task's line and id.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from rasd.corpus import Document, Sentence, Span, check_offsets, is_int, short_repr
from rasd.jsonl import MAX_DEPTH, RecordError, decode_file, parse_line
from rasd.schema import ENTITY_DEFINITIONS, ENTITY_LABELS, EVENT_DEFINITIONS, EVENT_TYPES
from rasd.text import split_sentences

log = logging.getLogger(__name__)

ENTITY_FROM = "label"
SENTENCE_FROM = "sentence"
EVENTS_FROM = "events"
TO_NAME = "text"
SENTENCE_LABEL = "SENTENCE"

_COLOURS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45"]


class LabelStudioError(ValueError):
    """A task that cannot be read back into a document: ``task #INDEX [ID]: reason``."""

    def __init__(self, message: str, reason: str | None = None, doc_id: str | None = None):
        super().__init__(message)
        self.reason = message if reason is None else reason
        self.doc_id = doc_id

    def __reduce__(self):
        return type(self), (str(self), self.reason, self.doc_id)


def _region(
    rid: str, from_name: str, kind: str, text: str, start: int, end: int, key: str, values: list[str]
):
    return {
        "id": rid,
        "from_name": from_name,
        "to_name": TO_NAME,
        "type": kind,
        "value": {"start": start, "end": end, "text": text[start:end], key: values},
    }


def document_to_task(doc: Document) -> dict[str, Any]:
    """One Label Studio task carrying everything of ``doc``."""
    result: list[dict[str, Any]] = []
    for i, span in enumerate(sorted(doc.entities)):
        result.append(
            _region(f"e{i}", ENTITY_FROM, "labels", doc.text, span.start, span.end, "labels", [span.label])
        )
    for i, sent in enumerate(doc.sentences):
        rid = f"s{i}"
        result.append(
            _region(rid, SENTENCE_FROM, "labels", doc.text, sent.start, sent.end, "labels", [SENTENCE_LABEL])
        )
        if sent.events:
            result.append(
                _region(
                    rid, EVENTS_FROM, "choices", doc.text, sent.start, sent.end, "choices", list(sent.events)
                )
            )
    data: dict[str, Any] = {"text": doc.text, "id": doc.id, "source": doc.source, "synthetic": doc.synthetic}
    if doc.extra:
        data["extra"] = doc.extra
    return {"data": data, "annotations": [{"result": result}]}


def documents_to_tasks(docs: Iterable[Document]) -> list[dict[str, Any]]:
    return [document_to_task(d) for d in docs]


def _utf16_to_cp(text: str, offset: int) -> int:
    """Code-point index of a UTF-16 code-unit offset into ``text``."""
    units = 0
    for i, ch in enumerate(text):
        if units >= offset:
            return i
        units += 2 if ord(ch) > 0xFFFF else 1
    return len(text)


def _offsets(text: str, value: dict[str, Any], fail) -> tuple[int, int]:
    """The code-point ``(start, end)`` of a region: integers (not booleans or floats) with
    ``0 <= start < end <= len(text)``, matching the region's ``text`` when it quotes one."""
    start, end = value.get("start"), value.get("end")
    if not (is_int(start) and is_int(end)):
        raise fail(f"region without integer start/end: got {short_repr(start)}, {short_repr(end)}")
    quoted = value.get("text")
    if quoted is not None and not isinstance(quoted, str):
        raise fail(f"region {start}-{end}: 'text' must be a string, got {short_repr(quoted)}")
    if quoted is not None and 0 <= start <= end and text[start:end] != quoted:
        s16, e16 = _utf16_to_cp(text, start), _utf16_to_cp(text, end)
        if text[s16:e16] != quoted:
            raise fail(
                f"region {start}-{end} text {short_repr(quoted)} does not match the task text "
                f"{short_repr(text[start:end])}"
            )
        start, end = s16, e16
    reason = check_offsets(start, end, len(text))
    if reason is not None:
        raise fail(f"region {reason}")
    return start, end


def _strings(value: Any, key: str, fail) -> list[str]:
    """``value[key]`` as a list of strings (``"labels": "ACTOR"`` is refused, not read as letters)."""
    items = value.get(key)
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
        raise fail(f"region '{key}' must be a list of strings, got {short_repr(items)}")
    return items


def _pick_result(task: dict[str, Any], fail) -> list[Any]:
    for key in ("annotations", "completions", "predictions"):
        anns = task.get(key)
        if anns is None:
            continue
        if not isinstance(anns, list):
            raise fail(f"'{key}' must be a list, got {type(anns).__name__}")
        for ann in anns:
            if isinstance(ann, dict) and not ann.get("was_cancelled"):
                result = ann.get("result")
                if result is None:
                    return []
                if not isinstance(result, list):
                    raise fail(f"'{key}[].result' must be a list, got {type(result).__name__}")
                return result
    return []


def _doc_id(data: dict[str, Any], task: dict[str, Any], index: int) -> str:
    for value, prefix in ((data.get("id"), ""), (task.get("id"), "ls-")):
        if isinstance(value, str) and value:
            return prefix + value
        if is_int(value):
            return f"{prefix}{value}"
    return f"ls-{index:05d}"


_Fail = Callable[[str], LabelStudioError]
_EventChoices = tuple[dict[str, Any], list[str]]  # (the ``choices`` result, its event types)


def _task_data(task: Any, index: int) -> dict[str, Any]:
    """The ``data`` of a task, checked to be an object holding a string ``text``."""
    if not isinstance(task, dict):
        raise LabelStudioError(
            f"task #{index}: expected a JSON object, got {type(task).__name__}",
            f"expected a JSON object, got {type(task).__name__}",
        )
    data = task.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("text"), str):
        raise LabelStudioError(f"task #{index}: no data.text", "no data.text")
    return data


def _check_data_fields(data: dict[str, Any], fail: _Fail) -> None:
    """Refuse a ``data.id``, ``data.source`` or ``data.synthetic`` of the wrong type."""
    if data.get("id") is not None and not (isinstance(data["id"], str) or is_int(data["id"])):
        raise fail(f"data.id must be a string or an integer, got {short_repr(data['id'])}")
    if not isinstance(data.get("source", ""), str):
        raise fail("data.source must be a string")
    if not isinstance(data.get("synthetic", False), bool):
        raise fail("data.synthetic must be true or false")


def _entity_label(labels: list[str], start: int, end: int, where: str, fail: _Fail) -> str:
    """The schema label of an entity region (the first one, with a warning when it has several)."""
    if not labels:
        raise fail(f"entity region {start}-{end} without a label")
    if len(labels) > 1:
        log.warning("%s: region %d-%d has labels %s; keeping %s", where, start, end, labels, labels[0])
    if labels[0] not in ENTITY_LABELS:
        raise fail(
            f"entity region {start}-{end}: unknown label {short_repr(labels[0])} "
            f"(known: {', '.join(ENTITY_LABELS)})"
        )
    return labels[0]


def _read_results(
    results: list[Any], text: str, where: str, fail: _Fail
) -> tuple[list[Span], dict[str, Sentence], list[_EventChoices]]:
    """The entities, sentence regions (by region id) and event choices of a task's results."""
    entities: list[Span] = []
    sentences: dict[str, Sentence] = {}
    events: list[_EventChoices] = []
    for res in results:
        if not isinstance(res, dict):
            raise fail(f"result must be an object, got {short_repr(res)}")
        kind, value, name = res.get("type"), res.get("value") or {}, res.get("from_name")
        if not isinstance(value, dict):
            raise fail(f"result 'value' must be an object, got {short_repr(value)}")
        if kind == "labels" or (kind is None and "labels" in value):
            labels = _strings(value, "labels", fail)
            start, end = _offsets(text, value, fail)
            if name == SENTENCE_FROM:
                sentences[str(res.get("id", f"_{start}"))] = Sentence(start, end, [])
            else:
                entities.append(Span(start, end, _entity_label(labels, start, end, where, fail)))
        elif kind == "choices" and name == EVENTS_FROM:
            types = _strings(value, "choices", fail)
            unknown = [t for t in types if t not in EVENT_TYPES]
            if unknown:
                raise fail(f"unknown event type {short_repr(unknown[0])} (known: {', '.join(EVENT_TYPES)})")
            events.append((res, types))
        else:
            log.warning("%s: ignoring result of type %r from %r", where, kind, name)
    return entities, sentences, events


def _attach_events(text: str, sentences: dict[str, Sentence], events: list[_EventChoices], fail: _Fail) -> None:
    """Add each event choice's types to its sentence region (by region id, else by offsets)."""
    by_offsets = {(s.start, s.end): s for s in sentences.values()}
    for res, types in events:
        sent = sentences.get(str(res.get("id")))
        value = res.get("value") or {}
        if sent is None and "start" in value:
            sent = by_offsets.get(_offsets(text, value, fail))
        if sent is None:
            raise fail(f"event choices {types} not attached to a sentence region")
        sent.events.extend(t for t in types if t not in sent.events)


def task_to_document(task: Any, index: int = 0) -> Document:
    """Read one task (ours or a Label Studio export) back into a :class:`Document`.

    Raise :class:`LabelStudioError` for anything the corpus format forbids instead of writing it:
    offsets that are not integers or not within ``0 <= start < end <= len(text)``, entity labels
    not in the schema, event types not in the schema, results that are not objects.
    """
    data = _task_data(task, index)
    text = data["text"]
    doc_id = _doc_id(data, task, index)
    where = f"task #{index} [{doc_id}]"

    def fail(reason: str) -> LabelStudioError:
        return LabelStudioError(f"{where}: {reason}", reason, doc_id)

    _check_data_fields(data, fail)
    entities, sentences, events = _read_results(_pick_result(task, fail), text, where, fail)
    _attach_events(text, sentences, events, fail)
    ordered = sorted(sentences.values(), key=lambda s: (s.start, s.end))
    if not ordered:
        ordered = [Sentence(s, e, []) for s, e in split_sentences(text)]
    extra = data.get("extra") if isinstance(data.get("extra"), dict) else {}
    return Document(
        id=doc_id,
        text=text,
        source=data.get("source", ""),
        synthetic=data.get("synthetic", False),
        entities=sorted(entities),
        sentences=ordered,
        extra=dict(extra),
    )


def tasks_to_documents(tasks: Any) -> list[Document]:
    """Read a parsed Label Studio JSON export (a list of tasks, or one task)."""
    if isinstance(tasks, dict):
        tasks = [tasks]
    if not isinstance(tasks, list):
        raise LabelStudioError("expected a JSON list of tasks")
    return [task_to_document(t, i) for i, t in enumerate(tasks)]


_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _value_at(text: str, pos: int, name: str) -> tuple[Any, int]:
    """The JSON value starting at ``pos`` and where it ends, checked by :func:`rasd.jsonl.parse_line`
    (nesting depth, huge integers, lone surrogates) like every JSONL line."""
    line = _line(text, pos)
    try:
        _, end = _DECODER.raw_decode(text, pos)
    except json.JSONDecodeError as exc:
        raise RecordError(name, exc.lineno, f"invalid JSON: {exc.msg} (column {exc.colno})") from None
    except RecursionError:
        raise RecordError(name, line, f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # an integer over sys.get_int_max_str_digits() digits
        raise RecordError(name, line, "invalid JSON: " + " ".join(str(exc).split())) from None
    try:
        return parse_line(text[pos:end].encode("utf-8")), end
    except ValueError as exc:
        raise RecordError(name, line, str(exc)) from None


def read_tasks(raw: bytes, name: str = "<tasks>") -> Iterator[tuple[int, Any]]:
    """Yield ``(line, task)`` for each task of a Label Studio JSON export, ``line`` being where the
    task starts: a JSON list of tasks, one task, or one task per line (JSON Lines).

    A problem with the file (invalid UTF-8 or JSON, JSON nested too deep, ...) raises
    :class:`~rasd.jsonl.RecordError` naming ``name`` and the line.

    >>> [line for line, _ in read_tasks(b'[\\n {"data": {}},\\n {"data": {}}\\n]')]
    [2, 3]
    """
    text = decode_file(raw, name)

    def skip(at: int) -> int:
        return _WS.match(text, at).end()

    pos = skip(0)
    if pos == len(text):
        raise RecordError(name, None, "empty file: expected a JSON list of Label Studio tasks")
    if text[pos] != "[":  # one task, or JSON Lines
        while pos < len(text):
            task, end = _value_at(text, pos, name)
            yield _line(text, pos), task
            pos = skip(end)
        return
    pos = skip(pos + 1)
    if text.startswith("]", pos):
        pos = skip(pos + 1)
    else:
        while True:
            if pos == len(text):
                raise RecordError(name, _line(text, pos), "invalid JSON: the list of tasks is not closed")
            task, end = _value_at(text, pos, name)
            yield _line(text, pos), task
            pos = skip(end)
            if text.startswith(",", pos):
                pos = skip(pos + 1)
            elif text.startswith("]", pos):
                pos = skip(pos + 1)
                break
            elif pos == len(text):
                raise RecordError(name, _line(text, pos), "invalid JSON: the list of tasks is not closed")
            else:
                raise RecordError(name, _line(text, pos), "invalid JSON: expected ',' or ']' after a task")
    if pos < len(text):
        raise RecordError(name, _line(text, pos), "invalid JSON: extra data after the list of tasks")


def load_tasks(path: str | Path) -> list[Document]:
    """The documents of a Label Studio export file; the first bad task raises
    :class:`~rasd.jsonl.RecordError` naming the file, the task's line and id."""
    docs = []
    for i, (line, task) in enumerate(read_tasks(Path(path).read_bytes(), str(path))):
        try:
            docs.append(task_to_document(task, i))
        except LabelStudioError as exc:
            raise RecordError(path, line, f"task #{i}: {exc.reason}", exc.doc_id) from None
    return docs


def labeling_config() -> str:
    """Label Studio labeling config XML with the schema's labels and event types."""
    ents = "\n".join(
        f"    <Label value={quoteattr(lab)} background={quoteattr(_COLOURS[i % len(_COLOURS)])} "
        f"hint={quoteattr(ENTITY_DEFINITIONS.get(lab, ''))}/>"
        for i, lab in enumerate(ENTITY_LABELS)
    )
    evs = "\n".join(
        f"    <Choice value={quoteattr(ev)} hint={quoteattr(EVENT_DEFINITIONS.get(ev, ''))}/>"
        for ev in EVENT_TYPES
    )
    return f"""<View>
  <Header value="Entities"/>
  <Labels name="{ENTITY_FROM}" toName="{TO_NAME}">
{ents}
  </Labels>
  <Header value="Sentences (select a sentence region, then its event types)"/>
  <Labels name="{SENTENCE_FROM}" toName="{TO_NAME}">
    <Label value="{SENTENCE_LABEL}" background="#cccccc"/>
  </Labels>
  <View style="direction: rtl; text-align: right">
    <Text name="{TO_NAME}" value="$text" granularity="symbol"/>
  </View>
  <Choices name="{EVENTS_FROM}" toName="{TO_NAME}" perRegion="true" choice="multiple" showInline="true">
{evs}
  </Choices>
</View>
"""
