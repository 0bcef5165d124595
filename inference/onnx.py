"""ONNX export of a rasd model folder and an onnxruntime stand-in for :class:`~rasd.modeling.RasdModel`.

The exported graph is the encoder plus the token classifier: ``(input_ids, attention_mask)``
→ ``(token_logits [B,T,L], hidden [B,T,H])``. Sentence pooling and the small event head run
outside the graph (torch, weights from ``event_head.safetensors``), because the number of
sentences per batch is data dependent. The ONNX folder holds everything the
:class:`~inference.tagger.Tagger` needs::

    DIR_ONNX/
      model.onnx               # fp32 graph
      model.int8.onnx          # optional: dynamic int8 (onnxruntime.quantization), --quantize int8
      config.json  tokenizer files  event_head.safetensors  rasd.json

With ``optimize=True`` (``--optimize``) the fp32 graph goes through onnxruntime's transformer
optimiser (fused attention, skip-LayerNorm, bias-GELU, embedding-LayerNorm) and the int8
graph is quantised from the fused one. Off by default: on the 2-core AVX-512 CPU it was
measured no faster than the plain graph (benchmarks/README.md).

``rasd export onnx --model DIR --output DIR_ONNX [--quantize int8] [--optimize]``
(:mod:`rasd.inference.onnx_cli`) writes it;
``Tagger.from_pretrained(DIR_ONNX, backend="onnx", quantize=None|"int8")`` runs it.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rasd.modeling import (
    EVENT_HEAD_FILE,
    META_FILE,
    EventHead,
    RasdMeta,
    RasdModel,
    RasdOutput,
)

logger = logging.getLogger(__name__)

ONNX_FILE = "model.onnx"
ONNX_INT8_FILE = "model.int8.onnx"
DEFAULT_OPSET = 17


class _TokenGraph(nn.Module):
    """What goes into the ONNX graph: encoder + token classifier, returning logits and last hidden state."""

    def __init__(self, token_model: nn.Module):
        super().__init__()
        self.token_model = token_model

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.token_model(
            input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True, return_dict=True
        )
        return out.logits, out.hidden_states[-1]


def onnx_file(model_dir: str | Path, quantize: str | None = None) -> Path:
    """The graph file of an ONNX folder for a precision (``None`` → fp32, ``"int8"``)."""
    if quantize not in (None, "int8"):
        raise ValueError(f"quantize must be None or 'int8', got {quantize!r}")
    return Path(model_dir) / (ONNX_INT8_FILE if quantize == "int8" else ONNX_FILE)


def is_onnx_dir(path: str | Path) -> bool:
    """Whether ``path`` holds an exported rasd ONNX model."""
    p = Path(path)
    return (p / ONNX_FILE).is_file() and (p / META_FILE).is_file()


def optimize_onnx(path: str | Path, num_heads: int, hidden_size: int) -> dict[str, int]:
    """Rewrite ``path`` in place with onnxruntime's BERT fusions; returns the fused operator counts.

    Architectures the optimiser does not recognise keep their plain ops (no fusion, no harm).
    """
    from onnxruntime.transformers.optimizer import optimize_model

    # opt_level 1: fusions only; onnxruntime applies its own level-2+ rewrites when it loads the file.
    model = optimize_model(str(path), model_type="bert", num_heads=num_heads, hidden_size=hidden_size, opt_level=1)
    model.save_model_to_file(str(path))
    return {k: v for k, v in model.get_fused_operator_statistics().items() if v}


def quantize_onnx(src: str | Path, dst: str | Path) -> Path:
    """Dynamic int8 quantisation of an ONNX graph (per-channel int8 weights, activations quantised
    on the fly): MatMuls and fused Attention. The feed-forward output MatMuls stay fp32 (see
    :func:`rasd.inference.loading.quantize_int8`)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(src), load_external_data=False).graph
    keep = [
        n.name
        for n in graph.node
        if n.op_type == "MatMul" and "/output/dense/" in n.name and "attention" not in n.name
    ]
    quantize_dynamic(
        str(src),
        str(dst),
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["MatMul", "Attention"],
        per_channel=True,
        nodes_to_exclude=keep,
        # Fused contrib ops (Attention, SkipLayerNormalization) defeat ONNX shape inference.
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    return Path(dst)


def export_onnx(
    model_dir: str | Path,
    output_dir: str | Path,
    quantize: str | None = None,
    opset: int = DEFAULT_OPSET,
    optimize: bool = False,
) -> Path:
    """Export a saved rasd folder to an ONNX folder (see the module docstring); returns ``output_dir``."""
    if quantize not in (None, "int8"):
        raise ValueError(f"quantize must be None or 'int8', got {quantize!r}")
    model, tokenizer, meta = RasdModel.from_pretrained(model_dir, device="cpu")
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)  # only once the model folder has loaded
    token_model = model.token_model
    token_model.config._attn_implementation = "eager"  # plain ops: export-friendly, fused by onnxruntime
    graph = _TokenGraph(token_model).eval()
    ids = torch.full((2, 16), tokenizer.unk_token_id or 1, dtype=torch.long)
    mask = torch.ones_like(ids)
    mask[1, 10:] = 0
    with torch.no_grad():
        torch.onnx.export(
            graph,
            (ids, mask),
            str(out / ONNX_FILE),
            dynamo=False,  # the TorchScript exporter: no onnxscript dependency, dynamic_axes
            input_names=["input_ids", "attention_mask"],
            output_names=["token_logits", "hidden"],
            dynamic_axes={
                name: {0: "batch", 1: "tokens"}
                for name in ("input_ids", "attention_mask", "token_logits", "hidden")
            },
            opset_version=opset,
            do_constant_folding=True,
        )
    token_model.config.save_pretrained(out)
    tokenizer.save_pretrained(out)
    shutil.copyfile(Path(model_dir) / EVENT_HEAD_FILE, out / EVENT_HEAD_FILE)
    meta.save(out / META_FILE)
    logger.info("wrote %s", out / ONNX_FILE)
    if optimize:
        cfg = token_model.config
        fused = optimize_onnx(out / ONNX_FILE, cfg.num_attention_heads, cfg.hidden_size)
        logger.info("fused: %s", ", ".join(f"{k} {v}" for k, v in fused.items()) or "nothing")
    if quantize == "int8":
        quantize_onnx(out / ONNX_FILE, out / ONNX_INT8_FILE)
        logger.info("wrote %s", out / ONNX_INT8_FILE)
    return out


class OnnxRasdModel:
    """Runs an exported folder with onnxruntime; called like :class:`RasdModel` (torch tensors in, :class:`RasdOutput` out).

    Only the CPU execution provider is used unless ``providers`` says otherwise.
    """

    def __init__(
        self,
        model_dir: str | Path,
        quantize: str | None = None,
        num_threads: int | None = None,
        providers: list[str] | None = None,
    ):
        import onnxruntime as ort
        from safetensors.torch import load_file
        from transformers import AutoConfig

        model_dir = Path(model_dir)
        path = onnx_file(model_dir, quantize)
        if not path.is_file():
            hint = " (export with --quantize int8)" if quantize == "int8" else ""
            raise FileNotFoundError(f"no {path.name} in {model_dir}{hint}")
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if num_threads:
            opts.intra_op_num_threads = num_threads
            opts.inter_op_num_threads = 1
        # Busy-waiting pool threads lose badly when the CPU is shared (measured: benchmarks/README.md).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), opts, providers=providers or ["CPUExecutionProvider"])
        self.config = AutoConfig.from_pretrained(model_dir)
        meta = RasdMeta.load(model_dir / META_FILE)
        self.event_types = list(meta.event_types)
        self.event_head = EventHead.from_config(self.config.hidden_size, len(self.event_types), meta.event_head)
        self.event_head.load_state_dict(load_file(str(model_dir / EVENT_HEAD_FILE)))
        self.event_head.eval()
        logger.info("onnxruntime session on %s (%s)", path, ", ".join(self.session.get_providers()))

    def to(self, device: Any) -> OnnxRasdModel:
        if torch.device(device).type != "cpu":
            logger.warning("the onnx backend runs on onnxruntime's providers; device %s is ignored", device)
        return self

    def eval(self) -> OnnxRasdModel:
        return self

    def __call__(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, sentence_ids: torch.Tensor, **_: Any
    ) -> RasdOutput:
        logits, hidden = self.session.run(
            None,
            {"input_ids": input_ids.cpu().numpy(), "attention_mask": attention_mask.cpu().numpy()},
        )
        with torch.inference_mode():
            events = self.event_head(torch.from_numpy(hidden), sentence_ids.cpu())
        return RasdOutput(None, torch.from_numpy(logits), events)
