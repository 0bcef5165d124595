"""Fast inference paths agree with the plain fp32 Tagger: token-budget batches, int8, ONNX.

A tiny random BERT (:mod:`training.tiny`) whose token classifier is scaled up so its
predictions are decisive (a random head gives near-tied logits that any rounding flips;
a trained head does not). Speed is measured by benchmarks/throughput.py, not here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rasd import Tagger
from rasd.corpus import Document
from rasd.inference.prepack import PackedLinear, prepack_available, prepack_linears
from rasd.inference.tagger import batch_bounds
from rasd.modeling import RasdMeta, RasdModel
from rasd.training.tiny import build_tiny_model

TEXTS = [
    "قصفت القوات الأمريكية قاعدة عين الأسد في بغداد يوم الاثنين.",
    "وقال يحيى رسول إن صواريخ سقطت والقوات الأمريكية انسحبت للقوات العراقية عام 2024. " * 3,
    "سقطت صواريخ على قاعدة عين الأسد وقتل جنديان. أسقطت الدفاعات الجوية طائرة مسيرة فوق أربيل.",
    "التقى أنتوني بلينكن رئيس الوزراء في بغداد وبحثا انسحاب قوات التحالف. " * 5,
]
META = RasdMeta(max_length=32, stride=4)


def spans(docs) -> set[tuple[int, int, int, str]]:
    return {(i, e.start, e.end, e.label) for i, d in enumerate(docs) for e in d.entities}


def span_f1(a: set, b: set) -> float:
    return 1.0 if not a and not b else 2 * len(a & b) / (len(a) + len(b))


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    """``num_threads`` is process wide (``torch.set_num_threads``): give later tests theirs back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model, tokenizer = build_tiny_model(
        [Document(str(i), t) for i, t in enumerate(TEXTS)], vocab_size=600, hidden=64, layers=2, heads=2
    )
    with torch.no_grad():
        model.token_model.classifier.weight.mul_(30.0)
    return model.save_pretrained(tmp_path_factory.mktemp("tiny") / "model", tokenizer, META)


@pytest.fixture(scope="module")
def reference(model_dir):
    docs = Tagger.from_pretrained(model_dir, device="cpu").tag(TEXTS)
    assert sum(len(d.entities) for d in docs) > 10
    return docs


def test_batch_bounds():
    lengths = [32, 32, 30, 20, 10, 10, 4]
    assert batch_bounds(lengths, 3) == [(0, 3), (3, 6), (6, 7)]
    assert batch_bounds(lengths, 3, token_budget=64) == [(0, 2), (2, 4), (4, 7)]
    assert batch_bounds(lengths, 3, token_budget=16) == [
        (0, 1),
        (1, 2),
        (2, 3),
        (3, 4),
        (4, 5),
        (5, 6),
        (6, 7),
    ]


def test_token_budget_gives_the_same_output_as_fixed_batches(model_dir, reference):
    for budget in (32, 100, 1000):
        tagger = Tagger.from_pretrained(model_dir, device="cpu", token_budget=budget)
        docs = tagger.tag(TEXTS)
        assert spans(docs) == spans(reference)
        for d, r in zip(docs, reference, strict=True):
            assert [e.score for e in d.entities] == pytest.approx([e.score for e in r.entities], abs=1e-4)
            assert [s.labels for s in d.sentences] == [s.labels for s in r.sentences]
    with pytest.raises(ValueError, match="token_budget"):
        Tagger.from_pretrained(model_dir, device="cpu", token_budget=8)


def test_int8_agrees_with_fp32(model_dir, reference):
    tagger = Tagger.from_pretrained(model_dir, device="cpu", quantize="int8", num_threads=1)
    assert torch.get_num_threads() == 1
    assert any("quantized" in type(m).__module__ for m in tagger.model.modules())
    assert span_f1(spans(tagger.tag(TEXTS)), spans(reference)) >= 0.9
    with pytest.raises(ValueError, match="quantize"):
        Tagger.from_pretrained(model_dir, device="cpu", quantize="int4")


def test_bf16_agrees_with_fp32(model_dir, reference):
    tagger = Tagger.from_pretrained(model_dir, device="cpu", dtype="bf16")
    assert {p.dtype for p in tagger.model.parameters()} == {torch.bfloat16}
    docs = tagger.tag(TEXTS)
    assert span_f1(spans(docs), spans(reference)) >= 0.9
    for d in docs:  # offsets still index the caller's strings
        assert all(d.text[e.start : e.end] == e.text for e in d.entities)
    with pytest.raises(ValueError, match="dtype"):
        Tagger.from_pretrained(model_dir, device="cpu", dtype="int4")
    with pytest.raises(ValueError, match="torch backend"):
        Tagger.from_pretrained(model_dir, device="cpu", dtype="bf16", quantize="int8")
    with pytest.raises(ValueError, match="GPU"):
        Tagger.from_pretrained(model_dir, device="cpu", dtype="fp16")


needs_prepack = pytest.mark.skipif(not prepack_available(), reason="no oneDNN prepacked linear in this build")


@needs_prepack
@pytest.mark.parametrize("act", ["gelu", "relu"])
def test_prepack_linears_reproduces_the_encoder(act):
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, hidden_act=act
    )
    model = BertModel(config).eval()
    ids = torch.randint(0, 50, (3, 9))
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0  # a padded row
    with torch.inference_mode():
        want = model(ids, attention_mask=mask)
        assert prepack_linears(model, act) == 2 * 6 + 1  # q, k, v, attention out, ffn in, ffn out; pooler
        got = model(ids, attention_mask=mask)
    assert not any(type(m) is torch.nn.Linear for m in model.modules())
    fused = [m for m in model.modules() if isinstance(m, PackedLinear) and m.attr == "gelu"]
    assert len(fused) == (2 if act == "gelu" else 0)  # only the erf GELU is fused; relu stays a module
    assert all(isinstance(layer.intermediate.intermediate_act_fn, torch.nn.Identity) == (act == "gelu")
               for layer in model.encoder.layer)  # fmt: skip
    torch.testing.assert_close(got.last_hidden_state, want.last_hidden_state, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got.pooler_output, want.pooler_output, atol=1e-5, rtol=1e-5)


@needs_prepack
def test_prepack_is_the_cpu_default_and_matches_plain_linears(model_dir, reference):
    packed = Tagger.from_pretrained(model_dir, device="cpu")
    assert not any(type(m) is torch.nn.Linear for m in packed.model.token_model.base_model.modules())
    plain = Tagger.from_pretrained(model_dir, device="cpu", prepack=False)
    assert not any(isinstance(m, PackedLinear) for m in plain.model.modules())
    docs = plain.tag(TEXTS)
    assert spans(docs) == spans(reference)
    for d, r in zip(docs, reference, strict=True):
        assert [e.score for e in d.entities] == pytest.approx([e.score for e in r.entities], abs=1e-4)
        assert [s.labels for s in d.sentences] == [s.labels for s in r.sentences]
    if prepack_available(torch.bfloat16):
        bf16 = Tagger.from_pretrained(model_dir, device="cpu", dtype="bf16")
        assert any(isinstance(m, PackedLinear) for m in bf16.model.modules())
        assert span_f1(spans(bf16.tag(TEXTS)), spans(reference)) >= 0.9


def test_prepack_option_errors(model_dir, monkeypatch):
    with pytest.raises(ValueError, match="prepack"):
        Tagger.from_pretrained(model_dir, device="cpu", quantize="int8", prepack=True)
    quantized = Tagger.from_pretrained(model_dir, device="cpu", quantize="int8")  # auto: no prepack on int8
    assert not any(isinstance(m, PackedLinear) for m in quantized.model.modules())
    import rasd.inference.loading

    monkeypatch.setattr(rasd.inference.loading, "prepack_available", lambda dtype: False)
    with pytest.raises(ValueError, match="cannot prepack"):
        Tagger.from_pretrained(model_dir, device="cpu", prepack=True)
    fallback = Tagger.from_pretrained(model_dir, device="cpu")  # auto: plain linears, no error
    assert not any(isinstance(m, PackedLinear) for m in fallback.model.modules())


def test_onnx_export_matches_torch(model_dir, reference, tmp_path):
    pytest.importorskip("onnxruntime")
    from rasd.cli import main
    from rasd.inference.onnx import OnnxRasdModel, is_onnx_dir

    out = tmp_path / "onnx"
    assert (
        main(["export", "onnx", "--model", str(model_dir), "--output", str(out), "--quantize", "int8", "--optimize"])
        == 0
    )
    assert is_onnx_dir(out) and (out / "model.int8.onnx").is_file()
    import onnx

    def op_types(path: Path) -> set[str]:
        return {n.op_type for n in onnx.load(str(path)).graph.node}

    assert {"Attention", "SkipLayerNormalization"} <= op_types(out / "model.onnx")  # fused (--optimize)
    assert {"QAttention", "MatMulInteger"} <= op_types(out / "model.int8.onnx")
    plain = tmp_path / "plain"
    assert main(["export", "onnx", "--model", str(model_dir), "--output", str(plain)]) == 0
    assert "Attention" not in op_types(plain / "model.onnx") and not (plain / "model.int8.onnx").exists()
    assert spans(Tagger.from_pretrained(plain, backend="onnx").tag(TEXTS)) == spans(reference)

    torch_model, tokenizer, _ = RasdModel.from_pretrained(model_dir)
    enc = tokenizer(TEXTS[:2], padding=True, truncation=True, max_length=32, return_tensors="pt")
    sentence_ids = torch.where(enc["attention_mask"] > 0, 0, -1)
    sentence_ids[1][sentence_ids[1] >= 0] = 1
    with torch.no_grad():
        expected = torch_model(enc["input_ids"], enc["attention_mask"], sentence_ids)
    got = OnnxRasdModel(out)(enc["input_ids"], enc["attention_mask"], sentence_ids)
    torch.testing.assert_close(got.token_logits, expected.token_logits, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(got.event_logits, expected.event_logits, atol=1e-4, rtol=1e-4)

    onnx_docs = Tagger.from_pretrained(out, backend="onnx").tag(TEXTS)
    assert spans(onnx_docs) == spans(reference)
    assert [[s.labels for s in d.sentences] for d in onnx_docs] == [
        [s.labels for s in d.sentences] for d in reference
    ]
    auto = Tagger.from_pretrained(out)  # a folder with model.onnx only: the onnx backend is picked
    assert isinstance(auto.model, OnnxRasdModel)
    with pytest.raises(ValueError, match="torch backend"):  # the picked onnx backend has no bf16
        Tagger.from_pretrained(out, dtype="bf16")
    int8_docs = Tagger.from_pretrained(out, backend="onnx", quantize="int8").tag(TEXTS)
    assert span_f1(spans(int8_docs), spans(reference)) >= 0.9


def test_tag_cli_fast_path_options(model_dir, tmp_path, monkeypatch):
    import json

    from rasd.cli import main

    src = tmp_path / "in.jsonl"
    src.write_text(
        "".join(json.dumps({"id": str(i), "text": t}) + "\n" for i, t in enumerate(TEXTS)), encoding="utf-8"
    )
    out = tmp_path / "out.jsonl"
    args = ["tag", "--model", str(model_dir), "--input", str(src), "--output", str(out), "--no-progress"]
    assert (
        main([*args, "--quantize", "int8", "--token-budget", "64", "--num-threads", "1", "--device", "cpu"])
        == 0
    )
    assert main([*args, "--dtype", "bf16", "--device", "cpu"]) == 0
    import rasd.inference.loading

    def refuse(*_args, **_kwargs):
        raise AssertionError("prepack_linears called despite --no-prepack")

    monkeypatch.setattr(rasd.inference.loading, "prepack_linears", refuse)
    assert main([*args, "--no-prepack", "--device", "cpu"]) == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == len(TEXTS)
