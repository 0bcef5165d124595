"""Windows: sentence packing, chunking of long sentences, ownership, raw offsets."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from rasd.text import split_sentences  # noqa: E402
from rasd.training.tiny import train_tokenizer  # noqa: E402
from rasd.windows import encode_document, special_template, tokenize_document  # noqa: E402

TEXT = (
    "قصفت القوات الأمريكية قاعدة عين الأسد في العراق يوم الاثنين. "
    "وقال باتريك رايدر إن الهجوم فشل.\n"
    "أعلنت وزارة الدفاع العراقية أن صاروخين سقطا قرب المطار عام 2023."
)


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer([TEXT, "الـقُوّات ٢٠٢٣ Patrick Ryder"], vocab_size=400)


def _check_offsets(windows, text):
    for w in windows:
        for (s, e), sent in zip(w.offsets, w.sentence_index, strict=True):
            if sent < 0:
                assert (s, e) == (0, 0)
            else:
                assert 0 <= s < e <= len(text)


def test_specials_and_whole_sentences(tokenizer):
    prefix, suffix = special_template(tokenizer)
    assert prefix == [tokenizer.cls_token_id] and suffix == [tokenizer.sep_token_id]
    sents = split_sentences(TEXT)
    windows = encode_document(tokenizer, TEXT, sents, max_length=512)
    assert len(windows) == 1
    w = windows[0]
    assert w.sentences == [0, 1, 2]
    assert w.input_ids[0] == tokenizer.cls_token_id and w.input_ids[-1] == tokenizer.sep_token_id
    assert w.sentence_index[0] == -1 and w.sentence_index[-1] == -1
    assert w.owned[0] is False and all(w.owned[1:-1])
    _check_offsets(windows, TEXT)
    # The token texts, read back from the raw text, are the words of the document.
    pieces = [TEXT[s:e] for (s, e), i in zip(w.offsets, w.sentence_index, strict=True) if i >= 0]
    assert "".join(pieces) == "".join(TEXT.split())


def test_packing_respects_max_length_and_sentence_borders(tokenizer):
    sents = split_sentences(TEXT)
    windows = encode_document(tokenizer, TEXT, sents, max_length=16, stride=4)
    assert all(len(w) <= 16 for w in windows)
    # Every token of the document is owned exactly once.
    doc = tokenize_document(tokenizer, TEXT, sents)
    owned = sorted(p for w in windows for p, o in zip(w.positions, w.owned, strict=True) if o)
    assert owned == list(range(len(doc.input_ids)))
    for w in windows:
        if w.chunk is None:  # whole sentences only
            inside = [i for i in w.sentence_index if i >= 0]
            for s in w.sentences:
                assert inside.count(s) == doc.sentence_index.count(s)


def test_long_sentence_is_chunked_with_overlap(tokenizer):
    text = " ".join(["القوات"] * 50) + "."
    windows = encode_document(tokenizer, text, None, max_length=12, stride=4)
    chunks = [w for w in windows if w.chunk is not None]
    assert len(chunks) == len(windows) > 1
    assert [w.chunk for w in chunks] == [(k, len(chunks)) for k in range(len(chunks))]
    for a, b in zip(chunks, chunks[1:], strict=False):
        pa = [p for p in a.positions if p >= 0]
        pb = [p for p in b.positions if p >= 0]
        assert len(set(pa) & set(pb)) == 4  # overlap by stride
    all_owned = [p for w in chunks for p, o in zip(w.positions, w.owned, strict=True) if o]
    assert sorted(all_owned) == sorted(set(all_owned))  # no token owned twice
    assert len(all_owned) == len(tokenize_document(tokenizer, text, [(0, len(text))]).input_ids)
    # A chunk owns its centre, not the first half of the overlap with the chunk before it.
    middle = len(chunks[1]) // 2
    assert not chunks[1].owned[1] and chunks[1].owned[middle]
    assert chunks[-1].owned[-2]  # the last chunk owns the sentence's end


def test_offsets_map_back_through_normalisation(tokenizer):
    text = "الـقُوّات ٢٠٢٣"
    (w,) = encode_document(tokenizer, text, None, max_length=32)
    pieces = [text[s:e] for (s, e), i in zip(w.offsets, w.sentence_index, strict=True) if i >= 0]
    assert pieces[0].startswith("الـ") and pieces[-1] == "٢٠٢٣"[-len(pieces[-1]) :]
    assert w.offsets[1][0] == 0 and w.offsets[-2][1] == len(text)


def test_empty_and_blank_text(tokenizer):
    assert encode_document(tokenizer, "", [], 32) == []
    assert encode_document(tokenizer, "   \n ", None, 32) == []


def test_big_document(tokenizer):
    text = (TEXT + "\n") * 1260  # ~200,000 characters
    assert len(text) > 190_000
    windows = encode_document(tokenizer, text, None, max_length=256)
    assert windows and all(len(w) <= 256 for w in windows)
    assert windows[-1].offsets[-2][1] <= len(text)
    assert max(w.sentences[-1] for w in windows) == len(split_sentences(text)) - 1
