"""BIO decoding, merging, word snapping and proclitic trimming (pure functions, no model)."""

from __future__ import annotations

import numpy as np
import pytest

from rasd.inference.decode import (
    TokenPrediction,
    article_events,
    bio_spans,
    decode_entities,
    first_subword_tags,
    sentence_events,
    snap_span,
    window_tokens,
)
from rasd.inference.types import EventScore
from rasd.schema import bio_labels

TAGS = bio_labels()
ID2LABEL = dict(enumerate(TAGS))


def tok(
    text: str,
    word: str,
    tag: str,
    *,
    nth: int = 0,
    sent: int = 0,
    score: float = 0.9,
    window: int = 0,
    part=None,
):
    """A token prediction over the ``nth`` occurrence of ``word`` in ``text`` (``part`` = slice of it)."""
    start = -1
    for _ in range(nth + 1):
        start = text.index(word, start + 1)
    s, e = (start, start + len(word)) if part is None else (start + part[0], start + part[1])
    return TokenPrediction(s, e, sent, tag, score, window)


def spans(text: str, tokens) -> list[tuple[str, str]]:
    return [(e.label, e.text) for e in decode_entities(text, tokens)]


def test_i_without_b_starts_a_span():
    text = "قال المتحدث يحيى رسول أمس"
    toks = [tok(text, "يحيى", "I-PERSON"), tok(text, "رسول", "I-PERSON")]
    assert spans(text, toks) == [("PERSON", "يحيى رسول")]


def test_b_b_across_a_space_are_two_entities_but_glued_subwords_merge():
    text = "العراق سوريا"
    two = [tok(text, "العراق", "B-LOCATION"), tok(text, "سوريا", "B-LOCATION")]
    assert spans(text, two) == [("LOCATION", "العراق"), ("LOCATION", "سوريا")]
    glued = [tok(text, "العراق", "B-LOCATION", part=(0, 3)), tok(text, "العراق", "B-LOCATION", part=(3, 6))]
    assert spans(text, glued) == [("LOCATION", "العراق")]


def test_label_change_and_o_close_spans():
    text = "القوات الأمريكية في بغداد"
    toks = [
        tok(text, "القوات", "B-ACTOR"),
        tok(text, "الأمريكية", "I-ACTOR"),
        tok(text, "في", "O"),
        tok(text, "بغداد", "I-LOCATION"),
    ]
    assert spans(text, toks) == [("ACTOR", "القوات الأمريكية"), ("LOCATION", "بغداد")]


def test_spans_never_cross_sentences():
    text = "وصل إلى بغداد. بغداد مدينة"
    toks = [tok(text, "بغداد", "B-LOCATION", sent=0), tok(text, "بغداد", "I-LOCATION", nth=1, sent=1)]
    assert [(e.start, e.end) for e in decode_entities(text, toks)] == [(8, 13), (15, 20)]


def test_window_border_b_continues_the_span():
    # The second chunk lost the left context and predicted B- for the continuation.
    text = "قاعدة عين الأسد الجوية"
    toks = [
        tok(text, "قاعدة", "B-SITE", window=0),
        tok(text, "عين", "I-SITE", window=0),
        tok(text, "الأسد", "B-SITE", window=1),
        tok(text, "الجوية", "I-SITE", window=1),
    ]
    assert spans(text, toks) == [("SITE", "قاعدة عين الأسد الجوية")]


def test_span_score_is_mean_of_token_probabilities():
    text = "القوات الأمريكية"
    toks = [tok(text, "القوات", "B-ACTOR", score=0.9), tok(text, "الأمريكية", "I-ACTOR", score=0.5)]
    (entity,) = decode_entities(text, toks)
    assert entity.score == pytest.approx(0.7)


@pytest.mark.parametrize(
    ("text", "word", "expected"),
    [
        ("هاجموا والقوات انسحبت", "والقوات", "القوات"),
        ("قدمت للقوات دعما", "للقوات", "لقوات"),
        ("وصلوا وبالقاعدة جنود", "وبالقاعدة", "القاعدة"),
        ("فالحرس الثوري", "فالحرس", "الحرس"),
        ("قصفوا بغداد ليلا", "بغداد", "بغداد"),  # a bare initial letter is part of the word
        ("زار واشنطن أمس", "واشنطن", "واشنطن"),
        ("وَالقُوّات", "وَالقُوّات", "القُوّات"),  # diacritics on the clitic
        # A clitic written apart with tatweel stays outside with its tatweel (GUIDELINES §2).
        ("قال المتحدث باسم جماعة لـأنصار الله", "لـأنصار الله", "أنصار الله"),
        ("هجوم بـطائرتين مسيرتين", "بـطائرتين مسيرتين", "طائرتين مسيرتين"),
        ("وبـطائرتين مسيرتين", "وبـطائرتين", "طائرتين"),
        ("القائد الأعلى لـ«كتائب حزب الله»", "لـ«كتائب حزب الله", "كتائب حزب الله"),
        ("الـقوات انسحبت", "الـقوات", "الـقوات"),  # tatweel after the article: nothing to trim
        ("سـوريا اليوم", "سـوريا", "سـوريا"),
    ],
)
def test_proclitic_trimming(text, word, expected):
    s = text.index(word)
    start, end = snap_span(text, s, s + len(word))
    assert text[start:end] == expected


def test_tatweel_proclitic_is_trimmed_from_a_decoded_span():
    text = "أعلنت التبعية لـأنصار الله اليوم"
    s = text.index("لـأنصار")
    toks = [tok(text, "لـأنصار", "B-ACTOR"), tok(text, "الله", "I-ACTOR")]
    (entity,) = decode_entities(text, toks)
    assert (entity.text, entity.start) == ("أنصار الله", s + 2)
    assert text[slice(*snap_span(text, s, s + 2))] == "أنصار"  # a token on the clitic: its word, trimmed
    alone = "قال لـ «كتائب»"
    assert snap_span(alone, 4, 6) is None  # the clitic alone is no entity


def test_snap_extends_to_word_boundaries_and_strips_punctuation():
    text = "قالت «القوات الأمريكية»، إن"
    s = text.index("القوات")
    # Starts after «ال», ends inside «الأمريكية».
    start, end = snap_span(text, s + 2, text.index("الأمريكية") + 4)
    assert text[start:end] == "القوات الأمريكية"
    start, end = snap_span(text, text.index("«"), text.index("،") + 1)
    assert text[start:end] == "القوات الأمريكية"
    assert snap_span(text, text.index("»"), text.index("،") + 1) is None


def test_snap_strips_bidi_marks_but_keeps_final_diacritics():
    text = "\u200fالقواتُ\u200f هنا"
    start, end = snap_span(text, 0, 8)
    assert text[start:end] == "القواتُ"


def test_overlapping_spans_after_snapping():
    text = "القوات الأمريكية"
    same = [tok(text, "القوات", "B-ACTOR", part=(0, 3)), tok(text, "القوات", "B-ACTOR", part=(4, 6))]
    assert spans(text, same) == [("ACTOR", "القوات")]
    clash = [
        tok(text, "القوات", "B-ACTOR", part=(0, 3), score=0.4),
        TokenPrediction(3, 6, 0, "B-SITE", 0.9, 0),
    ]
    assert spans(text, clash) == [("SITE", "القوات")]


def test_window_tokens_drops_specials_and_unowned_tokens():
    offsets = [(0, 0), (0, 3), (3, 6), (0, 0), (0, 0)]
    sentence_index = [-1, 0, 0, -1, -1]
    logits = np.full((5, len(TAGS)), -5.0)
    logits[1, TAGS.index("B-ACTOR")] = 5.0
    logits[2, TAGS.index("I-ACTOR")] = 5.0
    toks = window_tokens(offsets, sentence_index, logits, ID2LABEL, owned=[False, True, False, False, False])
    assert [(t.start, t.end, t.tag) for t in toks] == [(0, 3, "B-ACTOR")]
    assert 0.99 < toks[0].score <= 1.0


def test_first_subword_tags():
    toks = [
        TokenPrediction(0, 3, 0, "B-ACTOR", 0.8, 0, word=0),
        TokenPrediction(3, 6, 0, "O", 0.6, 0, word=0),
        TokenPrediction(7, 9, 0, "O", 0.9, 0, word=1),
    ]
    out = first_subword_tags(toks)
    assert [(t.tag, t.score) for t in out] == [("B-ACTOR", 0.8), ("I-ACTOR", 0.8), ("O", 0.9)]


def test_first_subword_tags_keep_a_span_that_begins_mid_word():
    """As in training (tags_to_ids labels a continuation sub-word when a span begins on it): a
    sentencepiece word «▁|باك|ستان» whose marker token is O and whose first letters are B-LOC
    decodes to the span, not to O copied from the marker."""
    toks = [
        TokenPrediction(0, 1, 0, "O", 1.0, 0, word=0),  # the standalone «▁» piece, offsets on the first letter
        TokenPrediction(0, 3, 0, "B-LOC", 0.9, 0, word=0),
        TokenPrediction(3, 7, 0, "B-LOC", 0.6, 0, word=0),  # untrained continuation: follows the one before
        TokenPrediction(8, 10, 0, "I-LOC", 0.7, 0, word=1),
    ]
    out = first_subword_tags(toks)
    assert [t.tag for t in out] == ["O", "B-LOC", "B-LOC", "I-LOC"]
    assert [(s.start, s.end, s.label) for s in bio_spans(out)] == [(0, 10, "LOC")]  # the marker does not hide it


def test_bio_spans_ignores_duplicated_tokens():
    toks = [TokenPrediction(0, 3, 0, "B-TIME", 0.9, 0), TokenPrediction(0, 3, 0, "B-TIME", 0.9, 1)]
    assert len(bio_spans(toks)) == 1


def test_events_thresholds_and_article_union():
    types = ["ATTACK", "CASUALTIES"]
    s0 = sentence_events(np.array([0.7, 0.3]), types, {"ATTACK": 0.6, "CASUALTIES": 0.2})
    s1 = sentence_events(np.array([0.55, 0.1]), types, {"ATTACK": 0.6})
    s2 = sentence_events(np.array([0.9, 0.6]), types, {})
    assert [e.label for e in s0] == ["ATTACK", "CASUALTIES"]
    assert s1 == []
    assert [e.label for e in s2] == ["ATTACK", "CASUALTIES"]
    assert sentence_events(None, types, {}) == []
    events = article_events([s0, s1, s2], types)
    assert [(e.label, round(e.score, 2), e.sentences) for e in events] == [
        ("ATTACK", 0.9, [0, 2]),
        ("CASUALTIES", 0.6, [0, 2]),
    ]
    assert isinstance(s0[0], EventScore)
