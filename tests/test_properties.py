"""Property-based tests (hypothesis): the JSONL reader and the offset maps, on generated input.

Each property runs twice: a small deterministic sample in the default suite
(``derandomize=True``, no example database, so every run tests the same inputs and writes
nothing), and a bigger one under ``@pytest.mark.slow`` (``pytest -m slow``).
"""

from __future__ import annotations

import io
import json
from dataclasses import fields

import pytest

hypothesis = pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from rasd.jsonl import MAX_DEPTH, RecordError, parse_line, read_jsonl  # noqa: E402
from rasd.text import NormalizationOptions, normalize  # noqa: E402

FAST = settings(
    deadline=None,
    derandomize=True,
    database=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SLOW = settings(FAST, max_examples=1500)

# ----------------------------------------------------------------------------- the JSONL reader

_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)  # hypothesis text has no surrogates: valid UTF-8 once encoded
)
_values = st.recursive(
    _scalars,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=6), kids, max_size=4),
    max_leaves=15,
)
_objects = st.dictionaries(st.text(max_size=8), _values, max_size=5)

# Lines the reader must refuse (a RecordError), whatever their neighbours.
_POISON = [
    b"[" * 3000 + b"]" * 3000,  # too deep for json's parser (RecursionError)
    b"[" * (MAX_DEPTH + 5) + b"]" * (MAX_DEPTH + 5),  # parses, but deeper than MAX_DEPTH
    b'{"n": ' + b"7" * 5000 + b"}",  # over the 4300-digit integer limit
    b'{"s": "a\\udc80b"}',  # a lone surrogate
    b'{"s": "\\ud800"}',
    b"\xff\xfe{}",  # invalid UTF-8
    b'{"a": ',  # broken JSON
    b"{'a': 1}",
    b"NaN-ish",
]
_BLANK = [b"", b"  ", b"\r", b" \t\r"]


@st.composite
def _jsonl_files(draw) -> tuple[bytes, dict[int, object], set[int], set[int]]:
    """``(file bytes, {line: good object}, poison lines, blank lines)``."""
    kinds = draw(st.lists(st.sampled_from(["good", "poison", "blank", "junk"]), max_size=12))
    raw_lines: list[bytes] = []
    good: dict[int, object] = {}
    poison: set[int] = set()
    blank: set[int] = set()
    for lineno, kind in enumerate(kinds, start=1):
        if kind == "good":
            obj = draw(_objects)
            good[lineno] = obj
            line = json.dumps(obj, ensure_ascii=draw(st.booleans())).encode("utf-8")
        elif kind == "poison":
            poison.add(lineno)
            line = draw(st.sampled_from(_POISON))
        elif kind == "blank":
            blank.add(lineno)
            line = draw(st.sampled_from(_BLANK))
        else:  # arbitrary bytes: parsed or refused, never a crash
            line = draw(st.binary(max_size=40)).replace(b"\n", b"")
            if not line.strip():
                blank.add(lineno)
        if lineno == 1 and draw(st.booleans()):
            line = b"\xef\xbb\xbf" + line  # a byte-order mark is skipped on the first line
            if lineno in blank:
                blank.discard(lineno)  # a BOM alone is not blank: the reader reports it
        raw_lines.append(line + draw(st.sampled_from([b"\n", b"\r\n"])))
    if raw_lines and draw(st.booleans()):
        raw_lines[-1] = raw_lines[-1].rstrip(b"\r\n")  # no final newline
    return b"".join(raw_lines), good, poison, blank


def _check_reader(case) -> None:
    data, good, poison, blank = case
    items = list(read_jsonl(io.BytesIO(data), "in.jsonl"))  # never raises
    expected_lines = [i + 1 for i, piece in enumerate(data.split(b"\n")) if piece.strip()]
    assert [line for line, _ in items] == expected_lines  # one item per non-blank line, in order
    assert not blank & {line for line, _ in items}
    for line, item in items:
        if isinstance(item, RecordError):
            assert (item.path, item.line) == ("in.jsonl", line)
            assert str(item).startswith(f"in.jsonl:{line}: ") and "\n" not in str(item)
            assert line not in good
        else:
            assert line not in poison
            json.dumps(item, ensure_ascii=False).encode("utf-8")  # usable: writable as UTF-8 JSON
            if line in good:
                assert item == good[line]  # good lines round-trip
    assert poison <= {line for line, item in items if isinstance(item, RecordError)}


@FAST
@given(_jsonl_files())
def test_jsonl_reader_never_raises_and_locates_every_line(case):
    _check_reader(case)


@pytest.mark.slow
@SLOW
@given(_jsonl_files())
def test_jsonl_reader_never_raises_and_locates_every_line_big(case):
    _check_reader(case)


@FAST
@given(st.binary(max_size=200))
def test_parse_line_raises_only_value_error(raw):
    try:
        value = parse_line(raw)
    except ValueError as exc:
        assert "\n" not in str(exc)
    else:
        json.dumps(value, ensure_ascii=False).encode("utf-8")


# ----------------------------------------------------------------------------- offset maps

# Arabic letters, hamza forms, Latin, digits of three scripts, diacritics, tatweel, ZWJ/ZWNJ, bidi
# marks and isolates, BOM, soft hyphen, spaces, line breaks, controls, punctuation.
_ALPHABET = (
    "قواتالأإآٱىةبغدكلمنهيءئؤ"
    + "abcXYZé"
    + "٠١٢٣۴۵0123"
    + "\u064b\u064c\u064e\u064f\u0650\u0651\u0652\u0670\u06e1"
    + "\u0640"
    + "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202e\u2066\u2067\u2069\u061c\ufeff\u00ad"
    + " \n\t\r\u2028\u00a0"
    + "\x00\x07\x1f\x7f"
    + ".,،؛؟!«»()-#\"'…"
)
_texts = st.text(
    alphabet=st.sampled_from(_ALPHABET) | st.characters(exclude_categories=("Cs",)),
    max_size=80,
)
_options = st.builds(NormalizationOptions, **{f.name: st.booleans() for f in fields(NormalizationOptions)})


def _check_normalize(text: str, opts: NormalizationOptions, cut: tuple[int, int]) -> None:
    norm = normalize(text, opts)
    assert norm.original_length == len(text) and len(norm.offsets) == len(norm.text)
    assert all(0 <= o < len(text) for o in norm.offsets)
    assert all(a < b for a, b in zip(norm.offsets, norm.offsets[1:], strict=False))  # strictly increasing
    for i, o in enumerate(norm.offsets):  # each kept character is its original, normalised alone
        assert normalize(text[o], opts).text == norm.text[i]
    kept = set(norm.offsets)
    for j, ch in enumerate(text):  # each dropped character is one the options delete
        if j not in kept:
            assert normalize(ch, opts).text == ""
    lo, hi = sorted(c % (len(norm.text) + 1) for c in cut)
    start, end = norm.to_original(lo, hi)
    assert 0 <= start <= end <= len(text)
    if lo < hi:
        assert start == norm.offsets[lo] and end > norm.offsets[hi - 1]
        assert normalize(text[start:end], opts).text == norm.text[lo:hi]  # the span maps back exactly


@FAST
@given(_texts, _options, st.tuples(st.integers(0, 200), st.integers(0, 200)))
def test_normalize_offsets_map_into_the_original(text, opts, cut):
    _check_normalize(text, opts, cut)


@pytest.mark.slow
@SLOW
@given(_texts, _options, st.tuples(st.integers(0, 200), st.integers(0, 200)))
def test_normalize_offsets_map_into_the_original_big(text, opts, cut):
    _check_normalize(text, opts, cut)


@pytest.fixture(scope="module")
def tokenizer():
    pytest.importorskip("torch")
    from rasd.training.tiny import train_tokenizer

    return train_tokenizer(
        ["قصفت القوات الأمريكية قاعدة عين الأسد في العراق يوم الاثنين.", "الـقُوّات ٢٠٢٣ Patrick Ryder"],
        vocab_size=300,
    )


def _check_tokens(tokenizer, text: str, opts: NormalizationOptions) -> None:
    from rasd.text import split_sentences
    from rasd.windows import tokenize_document

    doc = tokenize_document(tokenizer, text, None, opts)
    n_sent = len(split_sentences(text))
    assert len(doc.offsets) == len(doc.input_ids) == len(doc.word_ids) == len(doc.sentence_index)
    for s, e in doc.offsets:  # every token offset indexes the original string
        assert 0 <= s <= e <= len(text)
        if e > s:
            assert normalize(text[s:e], opts).text  # not only characters the view deletes
    starts = [s for s, _ in doc.offsets]
    ends = [e for _, e in doc.offsets]
    assert starts == sorted(starts) and ends == sorted(ends)  # monotonic
    assert all(-1 <= k < n_sent for k in doc.sentence_index)


@FAST
@given(_texts, _options)
def test_token_offsets_index_the_original_text(tokenizer, text, opts):
    _check_tokens(tokenizer, text, opts)


@pytest.mark.slow
@SLOW
@given(_texts, _options)
def test_token_offsets_index_the_original_text_big(tokenizer, text, opts):
    _check_tokens(tokenizer, text, opts)
