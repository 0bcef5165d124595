"""Event records from hand-made entities and sentences (no model)."""

from __future__ import annotations

import pytest

from rasd.inference.records import acled_type, derive_records, weapon_classes
from rasd.inference.types import Entity, EventScore, TaggedSentence


def ent(text: str, phrase: str, label: str, score: float = 1.0) -> Entity:
    s = text.index(phrase)
    return Entity(s, s + len(phrase), label, phrase, score)


def sentence(text: str, part: str, *events: tuple[str, float] | str) -> TaggedSentence:
    s = text.index(part)
    evs = [EventScore(e, 0.9) if isinstance(e, str) else EventScore(*e) for e in events]
    return TaggedSentence(s, s + len(part), evs)


def one_record(text: str, entities, *events):
    records = derive_records("doc", text, entities, [sentence(text, text, *events)])
    assert len(records) == 1
    return records[0]


@pytest.mark.parametrize(
    ("weapon", "event", "expected"),
    [
        ("طائرة مسيّرة", "ATTACK", ("Explosions/Remote violence", "Air/drone strike")),
        ("طائرة بدون طيار", "ATTACK", ("Explosions/Remote violence", "Air/drone strike")),
        ("صواريخ كاتيوشا", "ATTACK", ("Explosions/Remote violence", "Shelling/artillery/missile attack")),
        ("قذائف الهاون", "ATTACK", ("Explosions/Remote violence", "Shelling/artillery/missile attack")),
        ("المدفعية", "ATTACK", ("Explosions/Remote violence", "Shelling/artillery/missile attack")),
        ("عبوة ناسفة", "ATTACK", ("Explosions/Remote violence", "Remote explosive/landmine/IED")),
        ("سيارة مفخخة", "EXPLOSION", ("Explosions/Remote violence", "Remote explosive/landmine/IED")),
        ("حزام ناسف", "ATTACK", ("Explosions/Remote violence", "Suicide bomb")),
        ("قنبلة يدوية", "ATTACK", ("Explosions/Remote violence", "Grenade")),
        ("أسلحة خفيفة", "ATTACK", ("Battles", "Armed clash")),
        ("طائرات حربية", "AIRSTRIKE", ("Explosions/Remote violence", "Air/drone strike")),
        ("طائرة مسيرة", "INTERCEPTION", ("Strategic developments", "Disrupted weapons use")),
    ],
)
def test_acled_mapping_by_weapon_entity(weapon, event, expected):
    text = f"استهدف مسلحون بـ{weapon} موقعا في بغداد."
    r = one_record(text, [ent(text, weapon, "WEAPON"), ent(text, "بغداد", "LOCATION")], event)
    assert (r.acled_event_type, r.acled_sub_event_type) == expected
    assert r.event_type == event
    assert [w.text for w in r.weapons] == [weapon]


def test_defaults_without_any_weapon():
    text = "هاجم مسلحون نقطة تفتيش في الموصل."
    assert one_record(text, [], "ATTACK").acled_sub_event_type == "Armed clash"
    text = "دوى انفجار في حي الكرادة."
    r = one_record(text, [], "EXPLOSION")
    assert (r.acled_event_type, r.acled_sub_event_type) == (
        "Explosions/Remote violence",
        "Remote explosive/landmine/IED",
    )
    assert r.weapon_classes == []


def test_weapon_keywords_in_the_sentence_when_no_weapon_entity():
    text = "وصفه المسؤولون بأنه هجوم صاروخي فاشل على القاعدة."
    r = one_record(text, [], "ATTACK")
    assert r.weapon_classes == ["missile"]
    assert r.acled_sub_event_type == "Shelling/artillery/missile attack"


def test_weapon_entity_takes_precedence_over_sentence_words():
    text = "أطلقت الميليشيات طائرة مسيرة بعد هجوم صاروخي."
    r = one_record(text, [ent(text, "طائرة مسيرة", "WEAPON")], "ATTACK")
    assert r.weapon_classes == ["drone"]
    assert r.acled_sub_event_type == "Air/drone strike"


def test_normalised_keyword_matching_and_priority():
    assert weapon_classes("طائرةٌ مُسيَّرة") == ["drone"]
    assert weapon_classes("الطائرات بدون طيّار") == ["drone"]
    assert weapon_classes("صـــواريخ غراد وقذائف هاون") == ["missile", "mortar", "artillery"]
    assert weapon_classes("إطلاق نار كثيف") == ["gunfire"]
    assert weapon_classes("اجتماع دبلوماسي") == []
    with pytest.raises(ValueError):
        acled_type("DIPLOMACY", [])


def test_record_fields_entities_casualties_and_confidence():
    text = (
        "التقى الوزير نظيره في بغداد. "
        "قتل جنديان عندما أطلقت كتائب حزب الله صواريخ على قاعدة عين الأسد في الأنبار مساء الأحد بحسب يحيى رسول."
    )
    second = text[text.index("قتل") :]
    entities = [
        ent(text, "بغداد", "LOCATION", 0.9),  # first sentence: must not leak into the record
        ent(text, "كتائب حزب الله", "ACTOR", 0.8),
        ent(text, "صواريخ", "WEAPON", 0.6),
        ent(text, "قاعدة عين الأسد", "SITE", 1.0),
        ent(text, "الأنبار", "LOCATION", 0.8),
        ent(text, "مساء الأحد", "TIME", 0.6),
        ent(text, "يحيى رسول", "PERSON", 0.8),
    ]
    sentences = [
        sentence(text, text[: text.index(".") + 1], "DIPLOMACY"),
        sentence(text, second, ("ATTACK", 0.8), ("CASUALTIES", 0.7)),
    ]
    (r,) = derive_records("a-1", text, entities, sentences)
    assert r.article_id == "a-1" and r.sentence_index == 1 and r.casualties is True
    assert text[r.sentence_start : r.sentence_end] == r.sentence_text == second
    assert [e.text for e in r.actors] == ["كتائب حزب الله"]
    assert [e.text for e in r.people] == ["يحيى رسول"]
    assert [e.text for e in r.sites] == ["قاعدة عين الأسد"]
    assert [e.text for e in r.locations] == ["الأنبار"]
    assert [e.text for e in r.times] == ["مساء الأحد"]
    for e in r.actors + r.weapons + r.sites:
        assert text[e.start : e.end] == e.text
    # confidence = event score × mean score of the record's entities (0.8+0.6+1.0+0.8+0.6+0.8)/6 = 0.7667
    assert r.confidence == pytest.approx(0.8 * 0.76667, abs=1e-4)
    row = r.to_row()
    assert row["actors"] == "كتائب حزب الله" and row["weapon_classes"] == "missile"
    assert r.to_dict()["sites"] == [
        {
            "start": r.sites[0].start,
            "end": r.sites[0].end,
            "label": "SITE",
            "text": "قاعدة عين الأسد",
            "score": 1.0,
        }
    ]


def test_one_record_per_violent_type_and_explosion_folded():
    text = "انفجرت عبوة ناسفة استهدفت دورية وأسقطت الدفاعات طائرة مسيرة."
    records = derive_records(
        "d", text, [], [sentence(text, text, "ATTACK", "EXPLOSION", "INTERCEPTION", "THREAT")]
    )
    assert [r.event_type for r in records] == ["ATTACK", "INTERCEPTION"]
    text2 = "سمع دوي انفجار ولم يصب أحد."
    assert derive_records("d", text2, [], [sentence(text2, text2, "EXPLOSION")])[0].casualties is False


def test_no_records_without_violent_events_and_plain_string_events():
    text = "حذرت واشنطن من رد قوي."
    assert derive_records("d", text, [], [sentence(text, text, "THREAT")]) == []

    class Plain:  # e.g. rasd.corpus.Sentence: events as strings
        start, end, events = 0, len(text), ["ATTACK"]

    (r,) = derive_records("d", text, [], [Plain()])
    assert r.event_score == 1.0 and r.confidence == 1.0
