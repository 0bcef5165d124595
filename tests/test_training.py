"""Config, model, collator, and end-to-end tiny training → save → reload → evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from rasd.modeling import RasdModel, pool_sentences  # noqa: E402
from rasd.schema import EVENT_TYPES, bio_labels  # noqa: E402
from rasd.training.config import ConfigError, load_config  # noqa: E402
from rasd.training.dataset import RasdCollator, WindowDataset, encode_documents  # noqa: E402
from rasd.training.tiny import build_tiny_model  # noqa: E402

FAST = [
    "model.tiny.vocab_size=300",
    "model.tiny.hidden_size=32",
    "data.max_length=48",
    "data.stride=8",
    "training.batch_size=4",
    "training.encoder_lr=1e-3",
    "training.head_lr=1e-3",
]


# --- config -----------------------------------------------------------------------------


def test_config_yaml_and_overrides(tmp_path: Path):
    path = tmp_path / "c.yaml"
    path.write_text("model: {base_model: tiny}\ndata: {train_files: [a.jsonl], max_length: 64}\ntraining: {epochs: 2}\n")
    cfg = load_config(path, ["training.epochs=5", "data.augment.enabled=true", "data.normalization.unify_alef=yes",
                             "data.train_files=x.jsonl,y.jsonl", "training.encoder_lr=2e-5", "model.base_model=1.0"])
    assert cfg.training.epochs == 5.0 and isinstance(cfg.training.epochs, float)
    assert cfg.data.max_length == 64 and cfg.data.train_files == ["x.jsonl", "y.jsonl"]
    assert cfg.data.augment.enabled is True and cfg.data.normalization.unify_alef is True
    assert cfg.training.encoder_lr == pytest.approx(2e-5)
    assert cfg.model.base_model == "1.0"  # strings stay verbatim
    # The resolved config round-trips through YAML.
    again = tmp_path / "again.yaml"
    again.write_text(cfg.to_yaml())
    assert load_config(again) == cfg


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("training.epoch=3", "did you mean training.epochs"),
        ("trainin.epochs=3", "did you mean training"),
        ("training.epochs=abc", "cannot read 'abc' as float"),
        ("training.batch_size=2.5", "as int"),
        ("model.freeze_embeddings=maybe", "as bool"),
        ("data=3", "is a section"),
        ("training.mixed_precision=fp8", "no, fp16 or bf16"),
        ("epochs", "not key=value"),
    ],
)
def test_config_errors(override: str, message: str):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_shipped_configs_load():
    for path in sorted(Path(__file__).resolve().parents[1].joinpath("configs").glob("*.yaml")):
        cfg = load_config(path)
        assert cfg.data.max_length > 0, path


# --- model and batching -------------------------------------------------------------------


def test_pool_sentences_means_tokens():
    hidden = torch.tensor([[[1.0], [3.0], [5.0], [0.0]], [[2.0], [4.0], [9.0], [9.0]]])
    ids = torch.tensor([[-1, 0, 1, -1], [2, 2, -1, -1]])
    assert pool_sentences(hidden, ids).squeeze(-1).tolist() == [3.0, 5.0, 3.0]
    # mean ‖ max; the 4th sentence has no token and pools to zeros
    pooled = pool_sentences(-hidden, ids, 4, "mean_max")
    assert pooled.tolist() == [[-3.0, -3.0], [-5.0, -5.0], [-3.0, -2.0], [0.0, 0.0]]


def test_folder_without_pooling_loads_a_mean_head(tmp_path: Path, corpus):
    """Folders written before ``event_head.pooling`` existed hold a mean-pooled head."""
    model, tok = build_tiny_model(corpus, vocab_size=300, hidden=32, layers=1, heads=2, event_pooling="mean")
    out = model.save_pretrained(tmp_path / "old", tok)
    meta = json.loads((out / "rasd.json").read_text())
    assert meta["event_head"]["pooling"] == "mean"
    del meta["event_head"]["pooling"]
    (out / "rasd.json").write_text(json.dumps(meta))
    loaded, _, _ = RasdModel.from_pretrained(out)
    assert loaded.event_head.pooling == "mean" and loaded.event_head.dense.in_features == 32
    new, _ = build_tiny_model(corpus, vocab_size=300, hidden=32, layers=1, heads=2)
    assert new.event_head.pooling == "mean_max" and new.event_head.dense.in_features == 64
    with pytest.raises(ConfigError, match="event_pooling"):
        load_config(None, ["model.event_pooling=attention"])


def test_event_bias_starts_at_the_training_prior(corpus):
    from rasd.training.trainer import init_event_bias

    model, _ = build_tiny_model(corpus, vocab_size=300, hidden=32, layers=1, heads=2)
    init_event_bias(model, corpus)
    sentences = [set(s.events) for d in corpus for s in d.sentences]
    probs = torch.sigmoid(model.event_head.out.bias).tolist()
    for t, p in zip(model.event_types, probs, strict=True):
        rate = sum(t in s for s in sentences) / len(sentences)
        assert p == pytest.approx(min(max(rate, 1e-3), 0.5), rel=1e-4), t


def test_collator_renumbers_sentences(corpus):
    model, tok = build_tiny_model(corpus, vocab_size=300, hidden=32)
    enc = encode_documents(corpus, tok, model.config.label2id, max_length=48, stride=8)
    data = WindowDataset(enc, EVENT_TYPES)
    feats = [data[i] for i in range(3)]
    batch = RasdCollator(tok, len(EVENT_TYPES))(feats)
    n = sum(len(f["event_labels"]) for f in feats)
    assert batch["event_labels"].shape == (n, len(EVENT_TYPES))
    ids = batch["sentence_ids"]
    assert sorted(set(ids[ids >= 0].tolist())) == list(range(n))
    assert (ids[batch["attention_mask"] == 0] == -1).all() and (batch["labels"][batch["attention_mask"] == 0] == -100).all()
    out = model(**batch)
    assert out.token_logits.shape[:2] == batch["input_ids"].shape and out.token_logits.shape[2] == len(bio_labels())
    assert out.event_logits.shape == (n, len(EVENT_TYPES)) and out.loss.item() > 0
    out.loss.backward()
    assert model.event_head.out.weight.grad is not None


# --- end to end -------------------------------------------------------------------------


def test_tiny_training_save_reload_identical(tmp_path: Path, corpus):
    from transformers import AutoModelForTokenClassification

    from rasd import Tagger
    from rasd.training.trainer import train

    cfg = load_config(None, [*FAST, f"training.output_dir={tmp_path / 'm'}", "training.epochs=3", "training.seed=7"])
    result = train(cfg, corpus[:3], dev_docs=corpus[3:], test_docs=corpus[3:])
    out = result.output_dir
    for name in ("config.json", "model.safetensors", "tokenizer.json", "event_head.safetensors", "rasd.json",
                 "metrics.json", "training_config.yaml"):
        assert (out / name).is_file(), name
    meta = json.loads((out / "rasd.json").read_text())
    assert meta["event_types"] == list(EVENT_TYPES) and set(meta["event_thresholds"]) == set(EVENT_TYPES)
    assert meta["training"]["data"]["documents"] == 3 and meta["training"]["data"]["label_counts"]["ACTOR"] >= 1
    assert set(json.loads((out / "metrics.json").read_text())) == {"dev", "test"}
    assert load_config(out / "training_config.yaml") == cfg

    # The saved folder reloads to the same function.
    loaded = RasdModel.from_pretrained(out)
    model, tok, meta_obj = loaded
    enc = encode_documents(corpus, tok, model.config.label2id, meta_obj.max_length, meta_obj.stride)
    batch = RasdCollator(tok, len(EVENT_TYPES))(WindowDataset(enc, EVENT_TYPES).features)
    with torch.no_grad():
        a = model(**batch)
        again, _, _ = RasdModel.from_pretrained(out)
        b = again(**batch)
    assert torch.equal(a.token_logits, b.token_logits) and torch.equal(a.event_logits, b.event_logits)
    texts = [d.text for d in corpus]
    first = [d.to_dict() for d in Tagger(model, tok, meta_obj, device="cpu").tag(texts)]
    assert first == [d.to_dict() for d in Tagger(again, tok, meta_obj, device="cpu").tag(texts)]
    # The token side is a plain transformers model.
    plain = AutoModelForTokenClassification.from_pretrained(out).eval()
    with torch.no_grad():
        logits = plain(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    assert torch.allclose(logits, a.token_logits, atol=1e-5)
    assert plain.config.id2label[1] == "B-ACTOR"


def _f1(gold: set, pred: set) -> float:
    tp = len(gold & pred)
    return 2 * tp / (len(gold) + len(pred)) if gold or pred else 0.0


def test_rasd_evaluate_scores_what_the_tagger_returns(tmp_path: Path, corpus, corpus_path: Path):
    """`rasd evaluate` figures equal scoring, by hand, the spans and sentence labels that
    ``Tagger.from_pretrained`` returns for the same documents (with their gold sentences)."""
    from rasd import Tagger
    from rasd.cli import main
    from rasd.training.trainer import train

    # Half-trained: some spans right, some wrong, so a second decoder would show.
    cfg = load_config(None, [*FAST, f"training.output_dir={tmp_path / 'half'}", "training.epochs=12",
                             "training.warmup_ratio=0", "data.dev_fraction=0", "training.batch_size=2",
                             "model.tiny.hidden_size=64", "training.encoder_lr=3e-3", "training.head_lr=3e-3"])
    model_dir = train(cfg, corpus, dev_docs=[]).output_dir

    assert main(["evaluate", "--model", str(model_dir), "--data", str(corpus_path), "--output", str(tmp_path / "m.json")]) == 0
    reported = json.loads((tmp_path / "m.json").read_text())
    tagger = Tagger.from_pretrained(model_dir, device="cpu")
    items = [{"text": d.text, "sentences": [(s.start, s.end) for s in d.sentences]} for d in corpus]
    tagged = tagger(items, show_progress_bar=False)
    labels = set(tagger.meta.entity_labels)
    gold_spans = {(i, s.start, s.end, s.label) for i, d in enumerate(corpus) for s in d.entities if s.label in labels}
    pred_spans = {(i, e.start, e.end, e.label) for i, t in enumerate(tagged) for e in t.entities}
    assert pred_spans, "the tiny model predicts no entity: the comparison would be empty"
    assert reported["entities"]["micro"]["f1"] == pytest.approx(_f1(gold_spans, pred_spans))
    gold_events = {(i, k, e) for i, d in enumerate(corpus) for k, s in enumerate(d.sentences) for e in s.events}
    pred_events = {(i, k, e.label) for i, t in enumerate(tagged) for k, s in enumerate(t.sentences) for e in s.events}
    assert [len(t.sentences) for t in tagged] == [len(d.sentences) for d in corpus]
    assert reported["events"]["micro"]["f1"] == pytest.approx(_f1(gold_events, pred_events))
    assert 0 < reported["entities"]["micro"]["f1"] < 1, "all right or all wrong: the test would not tell decoders apart"


def test_real_oversample_repeats_only_real_windows(tmp_path: Path, corpus):
    from rasd.training.trainer import train

    base = [*FAST, "training.max_steps=1", "training.tune_event_thresholds=false"]
    once = train(load_config(None, [*base, f"training.output_dir={tmp_path / 'a'}"]), corpus, dev_docs=[])
    thrice = train(
        load_config(None, [*base, "data.real_oversample=3", f"training.output_dir={tmp_path / 'b'}"]), corpus, dev_docs=[]
    )
    real = [d for d in corpus if not d.synthetic]
    _, tok, meta = RasdModel.from_pretrained(once.output_dir)
    _, tok_thrice, _ = RasdModel.from_pretrained(thrice.output_dir)
    assert tok_thrice.get_vocab() == tok.get_vocab()  # both runs window the corpus with one tokenizer
    real_windows = len(WindowDataset(encode_documents(real, tok, {"O": 0}, meta.max_length, meta.stride), EVENT_TYPES))
    assert real_windows > 0
    assert thrice.facts["data"]["windows"] == once.facts["data"]["windows"] + 2 * real_windows
    with pytest.raises(ConfigError, match="real_oversample"):
        load_config(None, ["data.real_oversample=0"])


def test_tiny_tokenizer_is_deterministic(corpus):
    """Same texts → same vocabulary, in this process and in others with other hash seeds
    (tokenizers' own WordPiece trainer breaks frequency ties differently from run to run)."""
    import subprocess
    import sys

    from rasd.training.tiny import train_tokenizer

    texts = [d.text for d in corpus]
    first, second = train_tokenizer(texts, 300), train_tokenizer(texts, 300)
    assert first.get_vocab() == second.get_vocab()
    assert first.tokenize(texts[0]) == second.tokenize(texts[0])
    code = (
        "import json, sys; from rasd.training.tiny import train_tokenizer; "
        "print(json.dumps(train_tokenizer(json.load(sys.stdin), 300).get_vocab(), sort_keys=True))"
    )
    runs = {
        subprocess.run([sys.executable, "-P", "-c", code], input=json.dumps(texts), capture_output=True, text=True,
                       check=True, env={"PYTHONHASHSEED": seed, "PATH": ""}).stdout
        for seed in ("1", "2")
    }
    assert runs == {json.dumps(first.get_vocab(), sort_keys=True) + "\n"}


def test_tiny_learns_the_fixture(tmp_path: Path, corpus):
    """Enough steps on four documents to fit them: the pipeline actually learns."""
    from rasd.training.evaluate import evaluate_documents
    from rasd.training.trainer import train

    cfg = load_config(None, [*FAST, f"training.output_dir={tmp_path / 'fit'}", "training.epochs=60",
                             "training.warmup_ratio=0", "data.dev_fraction=0", "training.batch_size=2",
                             "model.tiny.hidden_size=64", "training.encoder_lr=3e-3", "training.head_lr=3e-3"])
    result = train(cfg, corpus, dev_docs=[])
    model, tok, meta = RasdModel.from_pretrained(result.output_dir)
    metrics = evaluate_documents(model, tok, meta, corpus)
    assert metrics["entities"]["micro"]["f1"] > 0.8
    assert metrics["events"]["micro"]["f1"] > 0.8


def test_cli_train_evaluate_and_cv(tmp_path: Path, corpus_path: Path, capsys):
    from rasd.cli import main

    config = tmp_path / "c.yaml"
    config.write_text(f"data: {{train_files: ['{corpus_path}'], dev_fraction: 0.25}}\ntraining: {{epochs: 1}}\n")
    out = tmp_path / "cli-model"
    assert main(["train", "--config", str(config), "--output", str(out), *FAST]) == 0
    assert (out / "rasd.json").is_file()
    assert main(["evaluate", "--model", str(out), "--data", str(corpus_path), "--output", str(tmp_path / "m.json")]) == 0
    printed = capsys.readouterr().out
    assert "Entities (exact character spans)" in printed and "micro" in printed
    assert json.loads((tmp_path / "m.json").read_text())["documents"] == 4
    assert main(["train", "--config", str(config), "training.epoch=1"]) == 2  # unknown key: clear error
    assert "did you mean training.epochs" in capsys.readouterr().err
    cv_out = tmp_path / "cv"
    assert main(["train", "--config", str(config), "--output", str(cv_out), "--cv", "2", *FAST]) == 0
    cv = json.loads((cv_out / "cv_metrics.json").read_text())
    assert cv["k"] == 2 and len(cv["folds"]) == 2 and "entity_f1" in cv["summary"]
    assert "± " in capsys.readouterr().out
    real_out = tmp_path / "cv-real"
    assert main(["train", "--config", str(config), "--output", str(real_out), "--cv", "2", "--cv-test", "real", *FAST]) == 0
    cv = json.loads((real_out / "cv_metrics.json").read_text())
    assert cv["test_on"] == "real" and [f["test_documents"] for f in cv["folds"]] == [1, 1]
    # the two synthetic documents: one trains, one is the dev split; plus the other real one
    assert [f["train_documents"] for f in cv["folds"]] == [2, 2]
    assert "tested: real documents only" in capsys.readouterr().out
