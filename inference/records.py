"""ACLED-style event records derived from tagged sentences (the table is in docs/records.md).

One record per sentence and violent event type (ATTACK, AIRSTRIKE, INTERCEPTION,
EXPLOSION; EXPLOSION is folded into ATTACK/AIRSTRIKE when the sentence carries
either). The ACLED event and sub-event type follow from the event type and the
weapon classes named in the sentence: the WEAPON entities' text when they name
a class, otherwise Arabic/English keywords in the sentence itself, matched on a
normalised view (no diacritics or tatweel, one alef, ي for ى, ه for ة).

>>> from rasd.inference.types import Entity, EventScore, TaggedSentence
>>> text = "أطلقت الميليشيات صواريخ كاتيوشا على قاعدة عين الأسد."
>>> ents = [Entity(6, 16, "ACTOR", "الميليشيات", 0.9), Entity(17, 31, "WEAPON", "صواريخ كاتيوشا", 0.8),
...         Entity(36, 51, "SITE", "قاعدة عين الأسد", 1.0)]
>>> sents = [TaggedSentence(0, 52, [EventScore("ATTACK", 0.95)])]
>>> r = derive_records("a1", text, ents, sents)[0]
>>> r.acled_event_type, r.acled_sub_event_type, r.weapon_classes, round(r.confidence, 3)
('Explosions/Remote violence', 'Shelling/artillery/missile attack', ['missile'], 0.855)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rasd.inference.types import Entity, EventRecord
from rasd.schema import RECORD_ENTITY_FIELDS, RECORD_EVENT_TYPES
from rasd.text import NormalizationOptions, normalize

EXPLOSIONS = "Explosions/Remote violence"
BATTLES = "Battles"
STRATEGIC = "Strategic developments"

# Weapon classes in priority order (the first class found decides the sub-event type).
WEAPON_KEYWORDS: dict[str, tuple[str, ...]] = {
    "chemical": (
        "كيميائي",
        "كيماوي",
        "غاز سام",
        "غازات سامة",
        "الكلور",
        "السارين",
        "chemical",
        "sarin",
        "chlorine",
    ),
    "suicide": ("انتحاري", "انتحارية", "حزام ناسف", "أحزمة ناسفة", "suicide"),
    "drone": (
        "مسيرة",
        "مسيرات",
        "مسيّرة",
        "طائرة بدون طيار",
        "طائرات بدون طيار",
        "دون طيار",
        "بلا طيار",
        "درون",
        "درونز",
        "drone",
        "uav",
    ),
    "aircraft": (
        "طائرة حربية",
        "طائرات حربية",
        "طائرة مقاتلة",
        "طائرات مقاتلة",
        "مقاتلات",
        "الطيران الحربي",
        "مروحية",
        "مروحيات",
        "أباتشي",
        "إف-16",
        "إف-15",
        "إف-35",
        "بي-52",
        "warplane",
        "fighter jet",
        "helicopter",
        "f-16",
        "f-15",
        "f-35",
        "b-52",
    ),
    "missile": (
        "صاروخ",
        "صواريخ",
        "كاتيوشا",
        "غراد",
        "باليستي",
        "كروز",
        "rocket",
        "missile",
        "katyusha",
        "grad",
    ),
    "mortar": ("هاون", "mortar"),
    "artillery": ("مدفعية", "مدفعي", "المدافع", "هاوتزر", "قذيفة", "قذائف", "artillery", "howitzer", "shell"),
    "ied": (
        "عبوة ناسفة",
        "عبوات ناسفة",
        "عبوة",
        "عبوات",
        "مفخخة",
        "مفخخات",
        "مفخخ",
        "لغم",
        "ألغام",
        "متفجرات",
        "ناسفة",
        "ied",
        "car bomb",
        "landmine",
        "explosive",
    ),
    "grenade": ("قنبلة يدوية", "قنابل يدوية", "grenade"),
    "gunfire": (
        "إطلاق نار",
        "إطلاق النار",
        "رصاص",
        "أسلحة خفيفة",
        "أسلحة رشاشة",
        "رشاش",
        "بنادق",
        "بندقية",
        "قناص",
        "قناصة",
        "كلاشنكوف",
        "اشتباك",
        "اشتباكات",
        "gunfire",
        "gunmen",
        "shooting",
        "clash",
    ),
}

# Sub-event type for a weapon class when the event is an attack (or an explosion with a known weapon).
CLASS_SUB_EVENT: dict[str, tuple[str, str]] = {
    "chemical": (EXPLOSIONS, "Chemical weapon"),
    "suicide": (EXPLOSIONS, "Suicide bomb"),
    "drone": (EXPLOSIONS, "Air/drone strike"),
    "aircraft": (EXPLOSIONS, "Air/drone strike"),
    "missile": (EXPLOSIONS, "Shelling/artillery/missile attack"),
    "mortar": (EXPLOSIONS, "Shelling/artillery/missile attack"),
    "artillery": (EXPLOSIONS, "Shelling/artillery/missile attack"),
    "ied": (EXPLOSIONS, "Remote explosive/landmine/IED"),
    "grenade": (EXPLOSIONS, "Grenade"),
    "gunfire": (BATTLES, "Armed clash"),
}
ATTACK_DEFAULT = (BATTLES, "Armed clash")
EXPLOSION_DEFAULT = (EXPLOSIONS, "Remote explosive/landmine/IED")
AIRSTRIKE_TYPE = (EXPLOSIONS, "Air/drone strike")
INTERCEPTION_TYPE = (STRATEGIC, "Disrupted weapons use")

_MATCH_OPTIONS = NormalizationOptions(unify_alef=True, unify_yeh=True, unify_teh_marbuta=True)


def _norm(s: str) -> str:
    return normalize(s, _MATCH_OPTIONS).text.lower()


_NORMALISED_KEYWORDS = {cls: tuple(_norm(k) for k in kws) for cls, kws in WEAPON_KEYWORDS.items()}


def weapon_classes(text: str) -> list[str]:
    """Weapon classes named in ``text``, in priority order (normalised keyword match).

    >>> weapon_classes("سقطت قذيفتا هاون وطائرةٌ مسيّرة")
    ['drone', 'mortar']
    """
    norm = _norm(text)
    return [cls for cls, kws in _NORMALISED_KEYWORDS.items() if any(k in norm for k in kws)]


def acled_type(event_type: str, classes: Sequence[str]) -> tuple[str, str]:
    """ACLED ``(event type, sub-event type)`` for a rasd event type and the sentence's weapon classes.

    >>> acled_type("ATTACK", ["gunfire"])
    ('Battles', 'Armed clash')
    >>> acled_type("EXPLOSION", [])
    ('Explosions/Remote violence', 'Remote explosive/landmine/IED')
    """
    if event_type == "AIRSTRIKE":
        return AIRSTRIKE_TYPE
    if event_type == "INTERCEPTION":
        return INTERCEPTION_TYPE
    if event_type == "ATTACK":
        return CLASS_SUB_EVENT[classes[0]] if classes else ATTACK_DEFAULT
    if event_type == "EXPLOSION":
        top = classes[0] if classes else None
        if top is None or top == "gunfire":
            return EXPLOSION_DEFAULT
        return CLASS_SUB_EVENT[top]
    raise ValueError(f"no event record for event type {event_type!r}")


def _event_items(sentence: Any) -> list[tuple[str, float]]:
    """``(label, score)`` pairs of a sentence's events (:class:`EventScore` or plain strings)."""
    out = []
    for ev in getattr(sentence, "events", []):
        if isinstance(ev, str):
            out.append((ev, 1.0))
        else:
            out.append((ev.label, float(ev.score)))
    return out


def derive_records(
    doc_id: str, text: str, entities: Iterable[Entity], sentences: Sequence[Any]
) -> list[EventRecord]:
    """Event records of one article (pure function: no model needed).

    ``sentences`` are objects with ``start``, ``end`` and ``events`` (:class:`EventScore` or
    strings, score 1.0). An entity belongs to the sentence it overlaps. Confidence is the event
    score times the mean score of the record's entities (the event score alone when it has none).
    """
    ents = sorted(entities, key=lambda e: (e.start, e.end))
    records: list[EventRecord] = []
    for idx, sent in enumerate(sentences):
        events = dict(_event_items(sent))
        wanted = [t for t in RECORD_EVENT_TYPES if t in events]
        if "EXPLOSION" in wanted and ("ATTACK" in wanted or "AIRSTRIKE" in wanted):
            wanted.remove("EXPLOSION")
        if not wanted:
            continue
        inside = [e for e in ents if e.start < sent.end and e.end > sent.start]
        roles: dict[str, list[Entity]] = {f: [] for f in RECORD_ENTITY_FIELDS.values()}
        for e in inside:
            if e.label in RECORD_ENTITY_FIELDS:
                roles[RECORD_ENTITY_FIELDS[e.label]].append(e)
        classes: list[str] = []
        for w in roles["weapons"]:
            classes += [c for c in weapon_classes(w.text) if c not in classes]
        if not classes:
            classes = weapon_classes(text[sent.start : sent.end])
        order = list(WEAPON_KEYWORDS)
        classes.sort(key=order.index)
        role_entities = [e for f in RECORD_ENTITY_FIELDS.values() for e in roles[f]]
        mean_entity = sum(e.score for e in role_entities) / len(role_entities) if role_entities else 1.0
        for event_type in wanted:
            acled, sub = acled_type(event_type, classes)
            score = events[event_type]
            records.append(
                EventRecord(
                    article_id=doc_id,
                    event_type=event_type,
                    acled_event_type=acled,
                    acled_sub_event_type=sub,
                    weapon_classes=list(classes),
                    casualties="CASUALTIES" in events,
                    sentence_index=idx,
                    sentence_start=sent.start,
                    sentence_end=sent.end,
                    sentence_text=text[sent.start : sent.end],
                    event_score=score,
                    confidence=score * mean_entity,
                    **roles,
                )
            )
    return records
