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
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any
from xml.sax.saxutils import quoteattr

from rasd.corpus import Document, Sentence, Span
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
    """A task that cannot be read back into a document."""


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


def _offsets(text: str, value: dict[str, Any], where: str) -> tuple[int, int]:
    start, end = value.get("start"), value.get("end")
    if not (isinstance(start, int) and isinstance(end, int)):
        raise LabelStudioError(f"{where}: region without integer start/end: {value!r}")
    quoted = value.get("text")
    if quoted is None or text[start:end] == quoted:
        return start, end
    s16, e16 = _utf16_to_cp(text, start), _utf16_to_cp(text, end)
    if text[s16:e16] == quoted:
        return s16, e16
    raise LabelStudioError(
        f"{where}: region {start}-{end} text {quoted!r} does not match the task text {text[start:end]!r}"
    )


def _pick_result(task: dict[str, Any]) -> list[dict[str, Any]]:
    for key in ("annotations", "completions", "predictions"):
        for ann in task.get(key) or []:
            if isinstance(ann, dict) and not ann.get("was_cancelled"):
                return list(ann.get("result") or [])
    return []


def task_to_document(task: dict[str, Any], index: int = 0) -> Document:
    """Read one task (ours or a Label Studio export) back into a :class:`Document`."""
    data = task.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("text"), str):
        raise LabelStudioError(f"task #{index}: no data.text")
    text = data["text"]
    doc_id = str(data.get("id") or (f"ls-{task['id']}" if "id" in task else f"ls-{index:05d}"))
    where = f"task #{index} [{doc_id}]"
    entities: list[Span] = []
    sentences: dict[str, Sentence] = {}
    events: list[tuple[dict[str, Any], list[str]]] = []
    for res in _pick_result(task):
        kind, value, name = res.get("type"), res.get("value") or {}, res.get("from_name")
        if kind == "labels" or (kind is None and "labels" in value):
            labels = value.get("labels") or []
            start, end = _offsets(text, value, where)
            if name == SENTENCE_FROM:
                sentences[str(res.get("id", f"_{start}"))] = Sentence(start, end, [])
                continue
            if not labels:
                raise LabelStudioError(f"{where}: entity region {start}-{end} without a label")
            if len(labels) > 1:
                log.warning(
                    "%s: region %d-%d has labels %s; keeping %s", where, start, end, labels, labels[0]
                )
            entities.append(Span(start, end, str(labels[0])))
        elif kind == "choices" and name == EVENTS_FROM:
            events.append((res, [str(c) for c in value.get("choices") or []]))
        else:
            log.warning("%s: ignoring result of type %r from %r", where, kind, name)
    by_offsets = {(s.start, s.end): s for s in sentences.values()}
    for res, types in events:
        sent = sentences.get(str(res.get("id")))
        value = res.get("value") or {}
        if sent is None and "start" in value:
            sent = by_offsets.get(_offsets(text, value, where))
        if sent is None:
            raise LabelStudioError(f"{where}: event choices {types} not attached to a sentence region")
        sent.events.extend(t for t in types if t not in sent.events)
    ordered = sorted(sentences.values(), key=lambda s: (s.start, s.end))
    if not ordered:
        ordered = [Sentence(s, e, []) for s, e in split_sentences(text)]
    extra = data.get("extra") if isinstance(data.get("extra"), dict) else {}
    return Document(
        id=doc_id,
        text=text,
        source=str(data.get("source", "")),
        synthetic=bool(data.get("synthetic", False)),
        entities=sorted(entities),
        sentences=ordered,
        extra=dict(extra),
    )


def tasks_to_documents(tasks: Any) -> list[Document]:
    """Read a Label Studio JSON export (a list of tasks, or one task)."""
    if isinstance(tasks, dict):
        tasks = [tasks]
    if not isinstance(tasks, list):
        raise LabelStudioError("expected a JSON list of tasks")
    return [task_to_document(t, i) for i, t in enumerate(tasks)]


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
