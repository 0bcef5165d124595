"""The Tagger end to end on tiny in-process models.

Two models: the tiny random BERT of :mod:`training.tiny` (real code path, arbitrary
predictions) and an *oracle* that runs the same encoder but adds large logits for a
fixed phrase list, so entity and event assertions are exact.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from rasd import Tagger
from rasd.corpus import Document
from rasd.inference.types import TaggedDocument
from rasd.modeling import RasdMeta, RasdModel, RasdOutput
from rasd.text import normalize
from rasd.training.tiny import build_tiny_model

FILLER = "ثم"
TEXTS = [
    "قصفت القوات الأمريكية قاعدة عين الأسد في بغداد يوم الاثنين.",
    "وقال يحيى رسول إن صواريخ سقطت والقوات الأمريكية انسحبت للقوات العراقية عام 2024.",
    "سقطت صواريخ على قاعدة عين الأسد وقتل جنديان. " + " ".join([FILLER] * 40),
    "كلمة English text 123",
]
PHRASES = {
    "القوات الأمريكية": "ACTOR",
    "والقوات": "ACTOR",  # the model tags the whole word; the decoder trims «و»
    "للقوات العراقية": "ACTOR",
    "قاعدة عين الأسد": "SITE",
    "بغداد": "LOCATION",
    "يوم الاثنين": "TIME",
    "عام 2024": "TIME",
    "يحيى رسول": "PERSON",
    "صواريخ": "WEAPON",
}
TRIGGERS = {"قصفت": "AIRSTRIKE", "سقطت": "ATTACK", "قتل": "CASUALTIES"}


class OracleModel(torch.nn.Module):
    """A real tiny RasdModel plus ±20 logits from a token-id lookup (context free, so exact)."""

    def __init__(self, base: RasdModel, tokenizer, border_b: bool = False):
        super().__init__()
        self.base = base
        label2id = base.config.label2id
        n_tags, n_events = len(label2id), len(base.event_types)
        self.register_buffer("tags", torch.zeros(len(tokenizer), dtype=torch.long))
        self.register_buffer("triggers", torch.zeros(len(tokenizer), n_events))
        for phrase, label in PHRASES.items():
            ids = tokenizer(normalize(phrase).text, add_special_tokens=False)["input_ids"]
            self.tags[ids[0]] = label2id[f"B-{label}"]
            for i in ids[1:]:
                self.tags[i] = label2id[f"I-{label}"]
        for word, event in TRIGGERS.items():
            for i in tokenizer(word, add_special_tokens=False)["input_ids"]:
                self.triggers[i, base.event_types.index(event)] = 1.0
        self.n_tags, self.border_b = n_tags, border_b
        self.i2b = {label2id[f"I-{x}"]: label2id[f"B-{x}"] for x in set(PHRASES.values())}

    @property
    def config(self):
        return self.base.config

    def forward(self, input_ids, attention_mask, sentence_ids, **kwargs) -> RasdOutput:
        out = self.base(input_ids=input_ids, attention_mask=attention_mask, sentence_ids=sentence_ids)
        tags = self.tags[input_ids].clone()
        if self.border_b:  # a window starting mid-entity has no left context: it predicts B-
            for i_id, b_id in self.i2b.items():
                tags[:, 1][tags[:, 1] == i_id] = b_id
        token_logits = out.token_logits + 20 * torch.nn.functional.one_hot(tags, self.n_tags)
        keep = sentence_ids >= 0
        found = self.triggers[input_ids][keep]
        index = sentence_ids[keep].unsqueeze(1).expand_as(found)
        hits = torch.zeros_like(out.event_logits).scatter_reduce_(0, index, found, "amax", include_self=False)
        return RasdOutput(None, token_logits, out.event_logits * 0 + (hits * 2 - 1) * 20)


def _tiny(texts=TEXTS, **kw):
    torch.manual_seed(0)
    return build_tiny_model([Document(str(i), t) for i, t in enumerate(texts)], vocab_size=1000, **kw)


@pytest.fixture(scope="module")
def tiny():
    return _tiny()


def oracle_tagger(tiny, max_length=64, stride=8, border_b=False) -> Tagger:
    model, tokenizer = tiny
    meta = RasdMeta(max_length=max_length, stride=stride)
    return Tagger(OracleModel(model, tokenizer, border_b), tokenizer, meta, device="cpu")


def ents(doc: TaggedDocument) -> list[tuple[str, str]]:
    return [(e.label, e.text) for e in doc.entities]


def assert_valid(doc: TaggedDocument) -> None:
    for e in doc.entities:
        assert 0 <= e.start < e.end <= len(doc.text)
        assert doc.text[e.start : e.end] == e.text
    for s in doc.sentences:
        assert 0 <= s.start < s.end <= len(doc.text)


def test_entities_events_and_records(tiny):
    doc = oracle_tagger(tiny)(TEXTS[0])
    assert ents(doc) == [
        ("ACTOR", "القوات الأمريكية"),
        ("SITE", "قاعدة عين الأسد"),
        ("LOCATION", "بغداد"),
        ("TIME", "يوم الاثنين"),
    ]
    assert [s.labels for s in doc.sentences] == [["AIRSTRIKE"]]
    assert [(e.label, e.sentences) for e in doc.events] == [("AIRSTRIKE", [0])]
    (record,) = doc.records
    assert record.acled_sub_event_type == "Air/drone strike"
    assert [e.text for e in record.sites] == ["قاعدة عين الأسد"]
    out = doc.to_dict()
    assert set(out) == {"id", "entities", "sentences", "events", "records"}
    assert out["entities"][0] == {
        "start": 5,
        "end": 21,
        "label": "ACTOR",
        "text": "القوات الأمريكية",
        "score": round(doc.entities[0].score, 4),  # the mean token probability, rounded for the output
    }
    assert 0.5 < doc.entities[0].score <= 1.0  # the oracle model is confident on its own tags
    json.dumps(out, ensure_ascii=False)


def test_proclitics_trimmed(tiny):
    doc = oracle_tagger(tiny)(TEXTS[1])
    found = ents(doc)
    assert ("ACTOR", "القوات الأمريكية") in found  # from «والقوات الأمريكية»
    assert ("ACTOR", "لقوات العراقية") in found  # «للقوات» keeps «لقوات» (guidelines)
    assert ("PERSON", "يحيى رسول") in found and ("TIME", "عام 2024") in found
    assert_valid(doc)


def test_offsets_index_the_original_string_whatever_the_normalisation(tiny):
    text = "\u200fقَصَفَتِ الْقُوَّاتُ الأمريـــكية\u200e قاعدةَ عين الأسد في بَغْدادَ\u200b يومَ الاثنين عام ٢٠٢٤."
    doc = oracle_tagger(tiny)(text)
    assert_valid(doc)
    assert ents(doc) == [
        ("ACTOR", "الْقُوَّاتُ الأمريـــكية"),
        ("SITE", "قاعدةَ عين الأسد"),
        ("LOCATION", "بَغْدادَ"),
        ("TIME", "يومَ الاثنين"),
        ("TIME", "عام ٢٠٢٤"),
    ]
    assert doc.sentences[0].labels == ["AIRSTRIKE"]


def test_long_article_is_never_truncated(tiny):
    paragraph = TEXTS[0] + " " + TEXTS[2] + "\n"
    text = paragraph * (200_000 // len(paragraph) + 1)
    assert len(text) > 200_000
    doc = oracle_tagger(tiny, max_length=128, stride=16)(text, show_progress_bar=False)
    assert_valid(doc)
    n = text.count(paragraph)
    assert sum(e.label == "ACTOR" for e in doc.entities) == n
    assert sum(e.label == "SITE" for e in doc.entities) == 2 * n
    assert doc.entities[-1].start > len(text) - len(paragraph)
    assert len(doc.sentences) == 3 * n  # TEXTS[2] is two sentences
    assert sum("ATTACK" in s.labels for s in doc.sentences) == n
    assert len(doc.records) == 2 * n


def test_entity_across_a_chunk_border_is_one_span(tiny):
    # A 60-token sentence with max_length 16: chunks of 14 tokens, no overlap; the entity
    # straddles the first border and the second chunk predicts B- for its continuation.
    text = " ".join([FILLER] * 13) + " القوات الأمريكية " + " ".join([FILLER] * 45) + "."
    tagger = oracle_tagger(tiny, max_length=16, stride=0, border_b=True)
    assert ents(tagger(text)) == [("ACTOR", "القوات الأمريكية")]
    # With overlapping chunks the owning chunk decides; same result.
    for stride in (2, 5):
        assert ents(oracle_tagger(tiny, max_length=16, stride=stride, border_b=True)(text)) == [
            ("ACTOR", "القوات الأمريكية")
        ]


@pytest.mark.parametrize(
    "text", ["", "   \n\t ", "Breaking news: nothing here.", "\x00\x01\x07\x1b", "123 456"]
)
def test_empty_and_non_arabic_inputs_give_empty_results(tiny, text):
    doc = oracle_tagger(tiny)(text)
    assert (doc.entities, doc.sentences, doc.events, doc.records) == ([], [], [], [])
    assert doc.text == text


def test_control_characters_inside_arabic_text(tiny):
    text = "قصفت\x00القوات الأمريكية\x07 بغداد\x1b."
    doc = oracle_tagger(tiny)(text)
    assert_valid(doc)
    assert ("LOCATION", "بغداد") in ents(doc)


@pytest.mark.parametrize("bad", [None, 42, b"\xd8\xa8", 3.5, {"text": "x"}])
def test_non_string_input_raises_type_error(tiny, bad):
    with pytest.raises(TypeError, match="expects a string"):
        oracle_tagger(tiny)(bad)


@pytest.mark.parametrize("bad", [[TEXTS[0], 7], [{"id": "a"}], [{"text": None}]])
def test_non_string_items_raise_type_error(tiny, bad):
    with pytest.raises(TypeError, match="input 1|input 0"):
        oracle_tagger(tiny)(bad)


def test_batch_equals_one_by_one_with_a_random_model(tiny):
    model, tokenizer = tiny
    tagger = Tagger(
        model,
        tokenizer,
        RasdMeta(max_length=24, stride=4, event_thresholds=dict.fromkeys(model.event_types, 0.0)),
        device="cpu",
    )
    texts = TEXTS + [TEXTS[1] * 3, "", TEXTS[0]]
    batched = tagger(texts, batch_size=5, show_progress_bar=False)
    single = [tagger(t) for t in texts]
    tagger.group_size = 2  # articles are processed in bounded groups: same results
    grouped = tagger(texts, batch_size=3, show_progress_bar=False)
    assert len(batched) == len(texts)
    assert sum(len(d.entities) for d in batched) > 0
    for b, s in [*zip(batched, single, strict=True), *zip(grouped, single, strict=True)]:
        assert [(e.start, e.end, e.label) for e in b.entities] == [
            (e.start, e.end, e.label) for e in s.entities
        ]
        assert [e.score for e in b.entities] == pytest.approx([e.score for e in s.entities], abs=1e-4)
        # Thresholds 0: every type is kept, so probabilities (not near-0.5 flips) are compared.
        assert [s_.labels for s_ in b.sentences] == [s_.labels for s_ in s.sentences]
        b_scores = [e.score for s_ in b.sentences for e in s_.events]
        assert b_scores == pytest.approx([e.score for s_ in s.sentences for e in s_.events], abs=1e-4)
        assert_valid(b)


def test_dicts_and_datasets_keep_ids_and_extra_fields(tiny):
    datasets = pytest.importorskip("datasets")
    tagger = oracle_tagger(tiny)
    rows = [{"id": "a", "text": TEXTS[0], "source": "wire"}, {"id": "b", "text": TEXTS[2], "source": "web"}]
    from_list = tagger(rows, show_progress_bar=False)
    from_ds = tagger(datasets.Dataset.from_list(rows), show_progress_bar=False)
    for docs in (from_list, from_ds):
        assert [d.id for d in docs] == ["a", "b"]
        assert docs[0].to_dict()["source"] == "wire"
        assert [r.article_id for r in docs[1].records] == ["b"]
    assert [d.to_dict() for d in from_list] == [d.to_dict() for d in from_ds]
    assert [d.id for d in tagger(["x", "y"], show_progress_bar=False)] == ["0", "1"]


def test_from_pretrained_local_folder_and_offline_hub_cache(tiny, tmp_path, monkeypatch):
    model, tokenizer = tiny
    folder = model.save_pretrained(tmp_path / "model", tokenizer, RasdMeta(max_length=32, stride=4))
    direct = Tagger(model, tokenizer, RasdMeta(max_length=32, stride=4), device="cpu")(TEXTS[1])
    loaded = Tagger.from_pretrained(folder)
    assert loaded.device.type == ("cuda" if torch.cuda.is_available() else "cpu")  # the documented default
    assert loaded(TEXTS[1]).to_dict() == direct.to_dict()

    # A hub id resolves through the huggingface_hub cache, offline.
    import huggingface_hub.constants as hf_constants

    cache = tmp_path / "hub"
    repo = cache / "models--rasd--tiny"
    commit = "0" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for f in Path(folder).iterdir():
        (snapshot / f.name).write_bytes(f.read_bytes())
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(cache))
    # Hub ids resolved from the hand-built local cache above (offline mode), never the network.
    cached_id, missing_id = "rasd/tiny", "rasd/not-cached"
    from_hub = Tagger.from_pretrained(cached_id, device="cpu")
    assert from_hub(TEXTS[1]).to_dict() == direct.to_dict()
    with pytest.raises(FileNotFoundError):
        Tagger.from_pretrained(missing_id, device="cpu")
    with pytest.raises(FileNotFoundError):
        Tagger.from_pretrained(str(tmp_path / "missing"), device="cpu")


def test_given_sentences_replace_the_splitter(tiny):
    """A dict's ``sentences`` (pairs or corpus-style objects) are the sentences the Tagger reports
    and pools events over; the key is consumed, not echoed into the output."""
    tagger = Tagger(*tiny, RasdMeta(max_length=64, stride=8), device="cpu")
    text = "قصفت الطائرات بغداد. وقال مسؤول إن الهجوم فشل. ثم انسحبت القوات."
    split = tagger(text)
    assert len(split.sentences) == 3
    one = tagger([{"id": "a", "text": text, "sentences": [[0, len(text)]]}], show_progress_bar=False)[0]
    assert [(s.start, s.end) for s in one.sentences] == [(0, len(text))]
    assert "sentences" not in one.extra
    objects = [{"start": s.start, "end": s.end, "events": []} for s in split.sentences]
    again = tagger([{"text": text, "sentences": objects}], show_progress_bar=False)[0]
    assert again.to_dict() == split.to_dict()


@pytest.mark.parametrize("bad", [[[5, 3]], [[0, 10_000]], [["x"]], [{"begin": 0}]])
def test_bad_given_sentences_name_the_input(tiny, bad):
    tagger = Tagger(*tiny, RasdMeta(max_length=64, stride=8), device="cpu")
    with pytest.raises(ValueError, match="input 1: "):
        tagger(["قصفت الطائرات بغداد.", {"text": "قصفت الطائرات بغداد.", "sentences": bad}], show_progress_bar=False)


def test_threshold_override(tiny):
    """``thresholds`` replace the saved ones: at 0 every event type is reported with its probability."""
    meta = RasdMeta(max_length=64, stride=8, event_thresholds={"ATTACK": 0.99})
    base = Tagger(*tiny, meta, device="cpu")
    every = Tagger(*tiny, meta, device="cpu", thresholds=dict.fromkeys(meta.event_types, 0.0))
    assert base.thresholds["ATTACK"] == 0.99 and every.thresholds["ATTACK"] == 0.0
    doc = every(TEXTS[0])
    assert all([e.label for e in s.events] == list(meta.event_types) for s in doc.sentences)
