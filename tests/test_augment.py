"""Augmentation keeps offsets exact, labels unchanged, and passes the validator."""

from __future__ import annotations

from rasd.corpus import Document, Sentence, Span
from rasd.training.augment import (
    AugmentConfig,
    augment_corpus,
    mention_pool,
    orthographic_noise,
    replace_mentions,
)
from rasd.validate import validate_documents


def _check_same_structure(orig: Document, aug: Document) -> None:
    assert [e.label for e in sorted(aug.entities)] == [e.label for e in sorted(orig.entities)]
    assert [s.events for s in aug.sentences] == [s.events for s in orig.sentences]
    assert aug.source == orig.source and aug.synthetic == orig.synthetic


def test_replace_mentions_offsets_exact(corpus):
    augmented = replace_mentions(corpus, copies=2, prob=1.0, seed=3)
    assert augmented, "prob=1 must change every document"
    by_id = {d.id: d for d in corpus}
    pool = mention_pool(corpus)
    changed = 0
    for aug in augmented:
        orig_id, _, k = aug.id.partition("#aug")
        assert k in {"1", "2"}
        orig = by_id[orig_id]
        _check_same_structure(orig, aug)
        assert aug.extra["augmented"] == {"of": orig_id, "kind": "mentions"}
        for old, new in zip(orig.entities, aug.entities, strict=True):
            mention = aug.span_text(new)
            # the new span text is a corpus mention of the same label (contracted after «ل»)
            assert mention in pool[new.label] or "ا" + mention in pool[new.label]
            changed += mention != orig.span_text(old)
        # the text between entities is untouched
        assert aug.text[: aug.entities[0].start] == orig.text[: orig.entities[0].start]
    assert changed > 10
    report = validate_documents(augmented)
    assert report.ok(strict=True), [str(i) for i in report.issues]


def test_replacement_contracts_after_lam():
    text = "دورية للقوات الأمريكية قرب الجيش."
    doc = Document(
        "d",
        text,
        entities=[Span(7, 22, "ACTOR"), Span(27, 32, "ACTOR")],
        sentences=[Sentence(0, len(text), ["ATTACK"])],
    )
    assert doc.span_text(doc.entities[0]) == "لقوات الأمريكية"
    other = Document("o", "الجيش العراقي.", entities=[Span(0, 13, "ACTOR")], sentences=[Sentence(0, 14, [])])
    pool = mention_pool([doc, other])
    assert pool["ACTOR"] == ["الجيش", "الجيش العراقي"]  # the contracted form is not pooled
    (aug,) = replace_mentions([doc, other], prob=1.0, seed=0)[:1]
    first = aug.span_text(aug.entities[0])
    assert first.startswith("لجيش")  # «ل» + «الجيش…» → «للجيش…», span «لجيش…»
    assert aug.text.startswith("دورية للجيش")
    assert validate_documents([aug]).ok(strict=True)


def test_replace_mentions_deterministic_and_order_free(corpus):
    a = replace_mentions(corpus, prob=0.5, seed=7)
    b = replace_mentions(list(reversed(corpus)), prob=0.5, seed=7)
    assert sorted(d.to_dict()["text"] for d in a) == sorted(d.to_dict()["text"] for d in b)
    c = replace_mentions(corpus, prob=0.5, seed=8)
    assert [d.to_dict() for d in a] != [d.to_dict() for d in c]


def test_min_count_limits_pool(corpus):
    assert mention_pool(corpus, min_count=2) == {}
    assert replace_mentions(corpus, prob=1.0, min_count=2) == []


def test_orthographic_noise_keeps_offsets(corpus):
    for doc in corpus:
        noisy = orthographic_noise(doc, prob=1.0, seed=1)
        assert noisy.text != doc.text
        _check_same_structure(doc, noisy)
        for old, new in zip(doc.entities, noisy.entities, strict=True):
            before, after = doc.span_text(old), noisy.span_text(new)
            # same mention up to the variants: strip insertions and undo substitutions
            assert _canon(after) == _canon(before), (before, after)
        assert validate_documents([noisy]).ok(), [str(i) for i in validate_documents([noisy]).issues]


def _canon(s: str) -> str:
    table = str.maketrans(
        {"أ": "ا", "إ": "ا", "آ": "ا", "ى": "ي", "ة": "ه", **{chr(0x660 + d): str(d) for d in range(10)}}
    )
    return "".join(c for c in s if c not in "\u0640\u064e\u064f\u0650\u0651\u0652").translate(table)


def test_orthographic_noise_variants():
    text = "أطلق 3 صواريخ على قاعدة في إربيل."
    doc = Document(
        "v",
        text,
        entities=[Span(7, 13, "WEAPON"), Span(18, 23, "SITE"), Span(27, 32, "LOCATION")],
        sentences=[Sentence(0, len(text), ["ATTACK"])],
    )
    assert [doc.span_text(e) for e in doc.entities] == ["صواريخ", "قاعدة", "إربيل"]
    seen: set[str] = set()
    for seed in range(40):
        noisy = orthographic_noise(doc, prob=1.0, seed=seed)
        assert [_canon(noisy.span_text(e)) for e in noisy.entities] == [
            _canon(doc.span_text(e)) for e in doc.entities
        ]
        assert noisy.sentences[0].end == len(noisy.text) and noisy.text.endswith(".")
        seen.update(noisy.text)
    assert "\u0640" in seen  # tatweel inserted somewhere
    assert "٣" in seen  # Western → Arabic-Indic digit
    assert "ه" in seen  # final ة → ه
    assert any(c in seen for c in "\u064e\u064f\u0650\u0651\u0652")
    assert orthographic_noise(doc, prob=0.0, seed=0).text == text


def test_noise_insertion_next_to_span_boundaries():
    # «بالقاعدة»: span starts after «ب»; a tatweel after «ب» must stay outside the span.
    text = "بالقاعدة"
    doc = Document("t", text, entities=[Span(1, 8, "SITE")], sentences=[Sentence(0, 8, [])])
    for seed in range(30):
        noisy = orthographic_noise(doc, prob=1.0, seed=seed)
        span = noisy.span_text(noisy.entities[0])
        assert not span.startswith("\u0640") and _canon(span) == _canon("القاعدة")
        assert validate_documents([noisy]).ok()


def test_augment_corpus(corpus):
    cfg = AugmentConfig(enabled=True, copies=2, mention_prob=0.7, noise_prob=0.3, seed=5)
    out = augment_corpus(corpus, cfg)
    assert out[: len(corpus)] == corpus
    extra = out[len(corpus) :]
    assert extra and all("#aug" in d.id for d in extra)
    assert len({d.id for d in out}) == len(out)
    assert {d.extra["augmented"]["kind"] for d in extra} <= {"mentions+noise", "noise", "mentions"}
    assert validate_documents(out).ok(), [str(i) for i in validate_documents(out).issues]
    assert [d.to_dict() for d in augment_corpus(corpus, cfg)] == [d.to_dict() for d in out]
    assert augment_corpus(corpus, AugmentConfig(enabled=False)) == corpus


def test_furniture_block_has_entities_and_no_events(corpus):
    from rasd.training.augment import add_furniture, furniture_donors

    donors = furniture_donors(corpus)
    assert donors and all(text.strip() == text for _, text, _ in donors)
    import random

    doc = corpus[0]
    out = add_furniture(doc, donors, random.Random(0), max_items=3)
    assert out.text.startswith(doc.text.rstrip()) and out.entities[: len(doc.entities)] == doc.entities
    block = out.sentences[len(doc.sentences) :]
    assert block and all(s.events == [] for s in block)
    assert [s.events for s in out.sentences[: len(doc.sentences)]] == [s.events for s in doc.sentences]
    lines = out.text[len(doc.text.rstrip()) :].strip().split("\n")
    assert len(block) == len(lines) and all(line.startswith("• ") for line in lines[1:])
    # borrowed entities keep their text and label
    borrowed = out.entities[len(doc.entities) :]
    assert borrowed  # the fixture's event sentences carry entities
    for e in borrowed:
        assert any(out.text[e.start : e.end] == t[s.start : s.end] and s.label == e.label
                   for _, t, spans in donors for s in spans)
    report = validate_documents([out])
    assert not [i for i in report.issues if i.level == "error"], report.issues


def test_augment_corpus_furniture_only_on_synthetic(corpus):
    config = AugmentConfig(enabled=True, copies=0, furniture_prob=1.0, seed=1)
    out = augment_corpus(corpus, config)
    assert [d.id for d in out] == [d.id for d in corpus]  # no copies, same documents
    for before, after in zip(corpus, out, strict=True):
        assert ("furniture" in after.extra) == before.synthetic
        assert (after.text != before.text) == before.synthetic
    assert augment_corpus(corpus, config) == out  # seeded
