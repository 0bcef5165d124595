"""Character spans → IOB2 token labels through real tokenizer offsets."""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("torch")

from rasd.corpus import Document, Sentence, Span  # noqa: E402
from rasd.schema import bio_labels  # noqa: E402
from rasd.training.alignment import IGNORE, align_spans, tags_to_ids  # noqa: E402
from rasd.training.dataset import encode_documents, window_features  # noqa: E402
from rasd.training.tiny import train_tokenizer  # noqa: E402
from rasd.windows import tokenize_document  # noqa: E402

LABEL2ID = {t: i for i, t in enumerate(bio_labels())}
CORPUS = [
    "والقوات الأمريكية في العراق. والقوات والقوات والقوات",
    "Patrick Ryder said on November 5, 2023 that 2023 was hard.",
    "قتل 3 جنود في سوريا يوم ٥ فبراير ٢٠٢٣.",
]


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(CORPUS * 3, vocab_size=300)


def tags_for(tokenizer, text: str, spans: list[Span]):
    toks = tokenize_document(tokenizer, text, [(0, len(text))])
    tags, issues = align_spans(toks.offsets, spans, text)
    return toks, tags, issues


def test_span_after_proclitic_inside_a_token():
    # «والقوات» is one token; the span starts after و, inside it.
    text = "والقوات الأمريكية"
    offsets = [(0, 7), (8, 17)]
    tags, issues = align_spans(offsets, [Span(1, 17, "ACTOR")], text)
    assert tags == ["B-ACTOR", "I-ACTOR"]
    assert [(i.reason, i.text) for i in issues] == [("inside_token", "القوات الأمريكية")]


def test_proclitic_with_real_tokenizer(tokenizer):
    text = "والقوات الأمريكية في العراق."
    toks, tags, issues = tags_for(tokenizer, text, [Span(1, 17, "ACTOR"), Span(21, 27, "LOCATION")])
    first = next(i for i, (s, e) in enumerate(toks.offsets) if s <= 1 < e)
    assert tags[first] == "B-ACTOR"
    assert all(t == "I-ACTOR" for t, (s, e) in zip(tags, toks.offsets, strict=True) if s > 1 and e <= 17)
    loc = [t for t, (s, e) in zip(tags, toks.offsets, strict=True) if s >= 21 and e <= 27]
    assert loc[0] == "B-LOCATION" and all(t == "I-LOCATION" for t in loc[1:])
    assert tags[-1] == "O"  # the full stop
    # The span starting inside «والقوات» (one token here) is reported as inexact, not dropped.
    assert toks.offsets[first][0] == 0
    assert [i.reason for i in issues] == ["inside_token"]


def test_latin_names_and_digits_align_exactly(tokenizer):
    text = "Patrick Ryder said on November 5, 2023 that 2023 was hard."
    spans = [Span(0, 13, "PERSON"), Span(22, 38, "TIME")]
    toks, tags, issues = tags_for(tokenizer, text, spans)
    assert issues == []
    words = {text[s:e]: t for (s, e), t in zip(toks.offsets, tags, strict=True)}
    assert words["Patrick"] == "B-PERSON" and words["Ryder"] == "I-PERSON"
    time_tags = [t for (s, e), t in zip(toks.offsets, tags, strict=True) if 22 <= s < 38]
    assert time_tags[0] == "B-TIME" and set(time_tags[1:]) == {"I-TIME"}
    second_2023 = next(t for (s, e), t in zip(toks.offsets, tags, strict=True) if s == 44)
    assert second_2023 == "O"


def test_arabic_indic_digits_through_normalisation(tokenizer):
    text = "قتل 3 جنود في سوريا يوم ٥ فبراير ٢٠٢٣."
    start = text.index("يوم")
    span = Span(start, text.index("."), "TIME")
    toks, tags, issues = tags_for(tokenizer, text, [span])
    assert issues == []
    covered = [(s, e) for (s, e), t in zip(toks.offsets, tags, strict=True) if t != "O"]
    assert covered[0][0] == span.start and covered[-1][1] == span.end
    assert text[covered[-1][0] : covered[-1][1]] in "٢٠٢٣"


def test_unalignable_span_is_reported(tokenizer, caplog):
    text = "في العراق   ."
    doc = Document("d", text, entities=[Span(9, 11, "LOCATION")], sentences=[Sentence(0, len(text))])
    with caplog.at_level(logging.WARNING):
        (enc,) = encode_documents([doc], tokenizer, LABEL2ID, 32)
    assert [(i.reason, i.doc_id) for i in enc.issues] == [("no_token", "d")]
    assert "could not be aligned" in caplog.text


def test_first_subword_only_option():
    tags = ["B-ACTOR", "I-ACTOR", "I-ACTOR", "O", "B-TIME"]
    word_ids = [0, 0, 1, 2, 2]
    ids = tags_to_ids(tags, LABEL2ID, word_ids, label_all_subwords=False)
    assert ids == [LABEL2ID["B-ACTOR"], IGNORE, LABEL2ID["I-ACTOR"], LABEL2ID["O"], LABEL2ID["B-TIME"]]
    assert tags_to_ids(tags, LABEL2ID, word_ids) == [LABEL2ID[t] for t in tags]


def test_span_cut_by_a_chunk_border(tokenizer):
    # One long sentence: the entity straddles the border between two chunks.
    # 18 tokens per chunk, next chunk from token 14: the span (tokens 12..) crosses that start.
    words = ["في"] * 12 + ["القوات", "الأمريكية", "في", "العراق"] + ["في"] * 14
    text = " ".join(words) + "."
    start = text.index("القوات")
    span = Span(start, start + len("القوات الأمريكية في العراق"), "ACTOR")
    doc = Document("long", text, entities=[span], sentences=[Sentence(0, len(text), ["ATTACK"])])
    (enc,) = encode_documents([doc], tokenizer, LABEL2ID, max_length=20, stride=4)
    assert len(enc.windows) > 1
    # Labels per window: B only where the span really starts; a chunk starting mid-span opens with I.
    b_id, i_id = LABEL2ID["B-ACTOR"], LABEL2ID["I-ACTOR"]
    seen_b = seen_i_start = 0
    for w in enc.windows:
        feats = window_features(enc, w, ["ATTACK"])
        labels = [label for label in feats["labels"] if label != IGNORE]
        if b_id in labels:
            seen_b += 1
            assert w.offsets[w.positions.index(next(p for p in w.positions if p >= 0 and enc.label_ids[p] == b_id))][0] == start
        entity = [label for label in labels if label in (b_id, i_id)]
        if entity and entity[0] == i_id:
            first = next(j for j, label in enumerate(feats["labels"]) if label == i_id)
            assert w.offsets[first][0] > start
            seen_i_start += 1
        assert feats["event_labels"] == [[1.0]]
    assert seen_b >= 1 and seen_i_start >= 1
    # Over the owned tokens the span is learned exactly once, in order.
    owned = sorted((p for w in enc.windows for p, o in zip(w.positions, w.owned, strict=True) if o))
    entity_tags = [enc.tags[p] for p in owned if enc.tags[p] != "O"]
    assert entity_tags[0] == "B-ACTOR" and set(entity_tags[1:]) == {"I-ACTOR"}
