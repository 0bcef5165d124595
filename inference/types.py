"""Result dataclasses of the tagger: entities, sentences, article events, event records.

Every offset indexes the caller's original string, so ``text[e.start:e.end] == e.text``.

>>> e = Entity(start=4, end=10, label="ACTOR", text="القوات", score=0.91234)
>>> e.to_dict()
{'start': 4, 'end': 10, 'label': 'ACTOR', 'text': 'القوات', 'score': 0.9123}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rasd.schema import RECORD_ENTITY_FIELDS


def _r(x: float) -> float:
    return round(float(x), 4)


@dataclass(frozen=True)
class Entity:
    """An entity span ``text[start:end]`` with its label and confidence (mean token probability)."""

    start: int
    end: int
    label: str
    text: str
    score: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "label": self.label,
            "text": self.text,
            "score": _r(self.score),
        }


@dataclass(frozen=True)
class EventScore:
    """An event type with its probability."""

    label: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "score": _r(self.score)}


@dataclass
class TaggedSentence:
    """A sentence ``text[start:end]`` and the event types scoring above the model's thresholds."""

    start: int
    end: int
    events: list[EventScore] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        return [e.label for e in self.events]

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "events": [e.to_dict() for e in self.events]}


@dataclass
class ArticleEvent:
    """An article-level event type: max sentence score and the sentences carrying it."""

    label: str
    score: float
    sentences: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "score": _r(self.score), "sentences": list(self.sentences)}


@dataclass
class EventRecord:
    """One ACLED-style event record derived from a sentence (see docs/records.md)."""

    article_id: str
    event_type: str
    acled_event_type: str
    acled_sub_event_type: str
    weapon_classes: list[str]
    actors: list[Entity]
    people: list[Entity]
    weapons: list[Entity]
    sites: list[Entity]
    locations: list[Entity]
    times: list[Entity]
    casualties: bool
    sentence_index: int
    sentence_start: int
    sentence_end: int
    sentence_text: str
    event_score: float
    confidence: float

    ENTITY_FIELDS = tuple(RECORD_ENTITY_FIELDS.values())

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "article_id": self.article_id,
            "event_type": self.event_type,
            "acled_event_type": self.acled_event_type,
            "acled_sub_event_type": self.acled_sub_event_type,
            "weapon_classes": list(self.weapon_classes),
        }
        for name in self.ENTITY_FIELDS:
            out[name] = [e.to_dict() for e in getattr(self, name)]
        out.update(
            casualties=self.casualties,
            sentence_index=self.sentence_index,
            sentence_start=self.sentence_start,
            sentence_end=self.sentence_end,
            sentence_text=self.sentence_text,
            event_score=_r(self.event_score),
            confidence=_r(self.confidence),
        )
        return out

    def to_row(self) -> dict[str, Any]:
        """Flat CSV row (:func:`csv_row` of :meth:`to_dict`)."""
        return csv_row(self.to_dict())


def csv_row(record: dict[str, Any]) -> dict[str, Any]:
    """Flat CSV row of a record's JSON form (:meth:`EventRecord.to_dict`, or a record read back
    from ``rasd tag`` output): lists joined with `` | ``, entities by their text.

    >>> csv_row({"event_type": "ATTACK", "weapon_classes": ["missile", "drone"],
    ...          "actors": [{"text": "الجيش", "start": 0}], "sites": []})
    {'event_type': 'ATTACK', 'weapon_classes': 'missile | drone', 'actors': 'الجيش', 'sites': ''}
    """
    row = dict(record)
    for key, value in row.items():
        if isinstance(value, list):
            row[key] = " | ".join(v["text"] if isinstance(v, dict) else str(v) for v in value)
    return row


CSV_COLUMNS: tuple[str, ...] = (
    "article_id",
    "event_type",
    "acled_event_type",
    "acled_sub_event_type",
    "weapon_classes",
    "actors",
    "people",
    "weapons",
    "sites",
    "locations",
    "times",
    "casualties",
    "sentence_index",
    "sentence_start",
    "sentence_end",
    "event_score",
    "confidence",
    "sentence_text",
)


@dataclass
class TaggedDocument:
    """The tagger's result for one article."""

    id: str
    text: str
    entities: list[Entity] = field(default_factory=list)
    sentences: list[TaggedSentence] = field(default_factory=list)
    events: list[ArticleEvent] = field(default_factory=list)
    records: list[EventRecord] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self, include_text: bool = False) -> dict[str, Any]:
        """The output JSON of ``rasd tag``: the tagger's fields, then the extra input fields.

        An extra field named like an output field (:data:`OUTPUT_FIELDS`: ``entities``,
        ``sentences``, ``events``, ``records``, ...) is never dropped: the output's wins and the
        input's is kept, unchanged, under ``input``.

        >>> TaggedDocument("a", "x", extra={"source": "wire", "entities": [1]}).to_dict()
        {'id': 'a', 'entities': [], 'sentences': [], 'events': [], 'records': [], 'source': 'wire', 'input': {'entities': [1]}}
        """
        out: dict[str, Any] = {"id": self.id}
        if include_text:
            out["text"] = self.text
        out["entities"] = [e.to_dict() for e in self.entities]
        out["sentences"] = [s.to_dict() for s in self.sentences]
        out["events"] = [e.to_dict() for e in self.events]
        out["records"] = [r.to_dict() for r in self.records]
        moved: dict[str, Any] = {}
        for k, v in self.extra.items():
            if k in OUTPUT_FIELDS:
                moved[k] = v
            else:
                out[k] = v
        if moved:
            out["input"] = moved
        return out


# The top-level names of a ``rasd tag`` output line (``_source``: where the article was read,
# written by :mod:`rasd.inference.batch`); extra input fields with these names go under ``input``.
OUTPUT_FIELDS: frozenset[str] = frozenset(
    ("id", "text", "entities", "sentences", "events", "records", "input", "_source")
)
