"""rasd.text: sentence splitter, normalisation offset map, proclitic rule."""

from __future__ import annotations

import pytest

from rasd.text import NormalizationOptions, is_arabic, normalize, proclitic_length, split_sentences


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("قال المسؤول. وأضاف: «لن نرد. أبدا».\nعاجل", ["قال المسؤول.", "وأضاف: «لن نرد. أبدا».", "عاجل"]),
        ("ارتفع بنسبة 3.5 في المئة. ثم توقف", ["ارتفع بنسبة 3.5 في المئة.", "ثم توقف"]),
        ("رقم ١٫٥ مليون. ثم", ["رقم ١٫٥ مليون.", "ثم"]),
        ("قالت U.S. إن الهجوم فشل. وأكد د. محمد ذلك.", ["قالت U.S. إن الهجوم فشل.", "وأكد د. محمد ذلك."]),
        ("Dr. Smith met Gen. Jones. Then left.", ["Dr. Smith met Gen. Jones.", "Then left."]),
        ("زوروا www.example.com للمزيد. شكرا", ["زوروا www.example.com للمزيد.", "شكرا"]),
        ("هل انتهى؟ نعم!! انتهى...", ["هل انتهى؟", "نعم!!", "انتهى..."]),
        ("عاجل… التفاصيل لاحقا", ["عاجل…", "التفاصيل لاحقا"]),
        ('قال "لن نتراجع. أبدا" ثم غادر. انتهى', ['قال "لن نتراجع. أبدا" ثم غادر.', "انتهى"]),
        ("قال «لن نتراجع. وسنرد» ثم غادر. انتهى", ["قال «لن نتراجع. وسنرد» ثم غادر.", "انتهى"]),
        # an unclosed quotation does not swallow the rest of the line
        ("قال «لن نتراجع. وسنرد ثم غادر. انتهى", ["قال «لن نتراجع.", "وسنرد ثم غادر.", "انتهى"]),
        # a quote closed right after the terminator ends the quotation (regression)
        ('قال "لن نتراجع." ثم "سنرد." انتهى', ['قال "لن نتراجع."', 'ثم "سنرد."', "انتهى"]),
        ("قال «لن نتراجع.» ثم «سنرد.» انتهى", ["قال «لن نتراجع.»", "ثم «سنرد.»", "انتهى"]),
        ("في عام 300 ق.م. بنيت المدينة. ثم", ["في عام 300 ق.م. بنيت المدينة.", "ثم"]),
        ("قال (أ ف ب). ثم", ["قال (أ ف ب).", "ثم"]),
        ("سطر أول\r\nسطر ثان\u2029ثالث", ["سطر أول", "سطر ثان", "ثالث"]),
        ("  مسافة  في البداية.   ", ["مسافة  في البداية."]),
        ("انتهى.«بداية» جديدة", ["انتهى.«بداية» جديدة"]),
        ("", []),
        ("\n \n", []),
    ],
)
def test_split_sentences(text, expected):
    assert sentences(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "قال المسؤول. وأضاف: «لن نرد. أبدا».\nعاجل",
        " أ. ب؟ ج!\n\n  د… ه",
        "a.b. c? «d. e» f.\r\ng",
        "...!!! ؟؟",
    ],
)
def test_split_sentences_cover_every_non_space_character(text):
    spans = split_sentences(text)
    covered = set()
    prev_end = 0
    for s, e in spans:
        assert prev_end <= s < e and not text[s].isspace() and not text[e - 1].isspace()
        covered.update(range(s, e))
        prev_end = e
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


def test_normalize_default_offsets():
    raw = "الـقُوّاتُ ١٢٣\u200bأ"
    n = normalize(raw)
    assert n.text == "القوات 123أ"
    assert len(n.offsets) == len(n.text)
    for i, ch in enumerate(n.text):
        if ch.isdigit():
            assert raw[n.offsets[i]] in "١٢٣"
        else:
            assert raw[n.offsets[i]] == ch
    # the final damma belongs to the word's last letter
    assert n.to_original(0, 6) == (0, 10)
    assert raw[slice(*n.to_original(7, 10))] == "١٢٣"
    assert n.to_original(len(n.text), len(n.text)) == (len(raw), len(raw))
    assert n.to_original(2, 2) == (3, 3)


def test_normalize_optional_unifications_keep_length():
    raw = "إلى القاعدة أآ"
    n = normalize(raw, NormalizationOptions(unify_alef=True, unify_yeh=True, unify_teh_marbuta=True))
    assert n.text == "الي القاعده اا"
    assert n.offsets == tuple(range(len(raw)))


def test_normalize_kept_diacritics_are_not_extended():
    n = normalize("القواتُ", NormalizationOptions(strip_diacritics=False))
    assert n.text == "القواتُ" and n.to_original(0, 6) == (0, 6)


def _normalize_by_character(text: str, opts: NormalizationOptions) -> tuple[str, tuple[int, ...]]:
    """The normalisation rules applied one character at a time: the reference for the run-based code."""
    import unicodedata

    out, offsets = [], []
    for i, ch in enumerate(text):
        diacritic = "\u0610" <= ch <= "\u061a" or "\u064b" <= ch <= "\u065f" or ch == "\u0670" or "\u06d6" <= ch <= "\u06ed"
        invisible = ch in "\u061c\u00ad\ufeff" or "\u200b" <= ch <= "\u200f" or "\u202a" <= ch <= "\u202e" or "\u2060" <= ch <= "\u2069"
        if (opts.strip_diacritics and diacritic) or (opts.strip_tatweel and ch == "\u0640") or (opts.strip_invisible and invisible):
            continue
        if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r" and ord(ch) < 0x80:
            ch = " "
        if opts.arabic_digits and ("\u0660" <= ch <= "\u0669" or "\u06f0" <= ch <= "\u06f9"):
            ch = str(int(unicodedata.digit(ch)))
        if opts.unify_alef and ch in "أإآٱ":
            ch = "ا"
        if opts.unify_yeh and ch == "ى":
            ch = "ي"
        if opts.unify_teh_marbuta and ch == "ة":
            ch = "ه"
        out.append(ch)
        offsets.append(i)
    return "".join(out), tuple(offsets)


@pytest.mark.parametrize("seed", range(6))
def test_normalize_matches_the_character_rules(seed):
    import random

    rng = random.Random(seed)
    alphabet = "قواتالأإآٱىة ٠١٢۳۴ـ\u064e\u0651\u0670\u200f\ufeff\u00ad\x00\x07\t\n\x7fab.,«»"
    flags = [rng.random() < 0.5 for _ in range(7)]
    opts = NormalizationOptions(*flags)
    for _ in range(50):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        norm = normalize(text, opts)
        assert (norm.text, norm.offsets) == _normalize_by_character(text, opts), (text, opts)
        assert norm.original_length == len(text)


def test_normalize_control_characters_become_spaces():
    n = normalize("a\x00b\tc")
    assert n.text == "a b\tc" and n.offsets == (0, 1, 2, 3, 4)


@pytest.mark.parametrize(
    ("word", "n"),
    [
        ("والقوات", 1),
        ("فالجيش", 1),
        ("بالعراق", 1),
        ("كالقوات", 1),
        ("وبالقاعدة", 2),
        ("للقوات", 1),  # لل: only the preposition leaves → «لقوات»
        ("للبنان", 1),
        ("وللأمم", 2),
        ("فللقوات", 2),
        ("بغداد", 0),  # a bare initial letter is part of the word
        ("واشنطن", 0),
        ("القوات", 0),
        ("الله", 0),
        ("لله", 0),
        ("وال", 0),
        ("والي", 0),  # too short after the clitic to be sure
        ("", 0),
        # A clitic written apart with tatweel leaves with its tatweel (GUIDELINES §2).
        ("لـأنصار", 2),
        ("بـطائرتين", 2),
        ("وبـطائرتين", 3),
        ("كـالقوات", 2),
        ("لـــأنصار", 4),  # a longer kashida
        ("لِـأنصار", 3),  # a diacritic on the clitic
        ("لـ", 2),  # the clitic alone, e.g. before «كتائب»
        ("لـه", 0),  # a pronoun suffix, not a name
        ("ـقوات", 0),  # a tatweel with no clitic letter
        ("الـقوات", 0),  # tatweel after the article: no clitic
        ("سـوريا", 0),  # a stretched name, not the future marker
    ],
)
def test_proclitic_length(word, n):
    assert proclitic_length(word) == n


def test_is_arabic():
    assert is_arabic("US قوات") and not is_arabic("U.S. 2024")
