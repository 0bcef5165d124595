"""Prepacked oneDNN linear layers for CPU inference (the ``prepack`` fast path of the Tagger).

``nn.Linear`` on CPU hands oneDNN/MKL a plain row-major weight on every call, which the
library re-lays out into its blocked format each time; the feed-forward GELU then makes a
second pass over the widest activation of the layer. :func:`prepack_linears` lays every
encoder weight out once, at load time, and folds the erf GELU of the feed-forward block
into its matmul, through the same oneDNN ops TorchInductor uses when it freezes a CPU
model (``mkldnn::_reorder_linear_weight`` / ``mkldnn::_linear_pointwise``). Measured on
the encoder of a fine-tuned multilingual-e5-small (benchmarks/README.md): the
feed-forward matmul + GELU takes 13.7 ms instead of 24.0 ms in bf16 on a 4,096-token batch.

The ops are internal to PyTorch, so :func:`prepack_available` checks them on a small layer
against ``F.linear`` before any model is touched; without them the model is left as it is.
A packed model is for inference only: its packed weights are not parameters, and it
cannot be moved to another device or dtype or saved.
"""

from __future__ import annotations

import functools
import logging

import torch
import torch.nn.functional as F
from torch import nn

logger = logging.getLogger(__name__)

# Activations that `_linear_pointwise` computes exactly as transformers does: config.hidden_act → (attr, algorithm).
_FUSABLE_ACTS = {"gelu": ("gelu", "none")}


class PackedLinear(nn.Module):
    """A frozen ``nn.Linear`` whose weight is stored in oneDNN's blocked layout, optionally with a
    fused activation (``"gelu"``, erf form)."""

    def __init__(self, linear: nn.Linear, activation: str | None = None):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        attr, algorithm = _FUSABLE_ACTS[activation] if activation else ("none", "")
        self.attr, self.algorithm = attr, algorithm
        weight = linear.weight.detach()
        # The batch-size hint only picks among equivalent layouts; measured: no effect from 300 to 4,096 rows.
        self.register_buffer(
            "packed_weight", torch.ops.mkldnn._reorder_linear_weight(weight, 4096), persistent=False
        )
        bias = None if linear.bias is None else linear.bias.detach().clone()
        self.register_buffer("bias", bias, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.mkldnn._linear_pointwise(
            x, self.packed_weight, self.bias, self.attr, [], self.algorithm
        )

    def extra_repr(self) -> str:
        act = "" if self.attr == "none" else f", activation={self.attr}"
        return f"in_features={self.in_features}, out_features={self.out_features}{act}"


def cpu_has_native_bf16() -> bool:
    """Whether oneDNN runs bf16 matmuls natively on this CPU (AVX512-BF16 or AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a build without oneDNN
        return False


@functools.cache
def prepack_available(dtype: torch.dtype = torch.float32) -> bool:
    """Whether this PyTorch build has the oneDNN ops and they reproduce ``F.linear`` (+ GELU) in ``dtype``."""
    if not torch.backends.mkldnn.is_available():
        return False
    if dtype == torch.bfloat16 and not cpu_has_native_bf16():
        return False
    try:
        generator = torch.Generator().manual_seed(0)
        layer = nn.Linear(48, 40).to(dtype)
        x = torch.randn(3, 5, 48, generator=generator).to(dtype)
        with torch.inference_mode():
            want = F.gelu(layer(x)).float()
            got = PackedLinear(layer, "gelu")(x).float()
    except (RuntimeError, AttributeError, NotImplementedError) as exc:
        logger.info("oneDNN prepacked linear layers unavailable: %s", exc)
        return False
    tol = 5e-2 if dtype == torch.bfloat16 else 1e-4
    return got.shape == want.shape and bool(torch.allclose(got, want, atol=tol, rtol=tol))


def prepack_linears(encoder: nn.Module, hidden_act: str | None = None) -> int:
    """Replace every ``nn.Linear`` under ``encoder`` (in place) with a :class:`PackedLinear`; returns how many.

    In BERT-family blocks (an ``intermediate`` module with ``dense`` and ``intermediate_act_fn``)
    the activation is fused into ``dense`` when ``hidden_act`` is one that oneDNN computes the
    same way (``"gelu"``) and replaced with ``nn.Identity``. The caller checks
    :func:`prepack_available` for the encoder's dtype first.
    """
    fuse = hidden_act in _FUSABLE_ACTS
    fused = 0
    for module in list(encoder.modules()):
        dense = getattr(module, "dense", None)
        if fuse and isinstance(dense, nn.Linear) and hasattr(module, "intermediate_act_fn"):
            module.dense = PackedLinear(dense, hidden_act)
            module.intermediate_act_fn = nn.Identity()
            fused += 1
    count = fused
    for module in list(encoder.modules()):
        for child_name, child in list(module.named_children()):
            if type(child) is nn.Linear:  # exact type: quantised or LoRA linears are subclasses/others
                setattr(module, child_name, PackedLinear(child))
                count += 1
    logger.info(
        "prepacked %d linear layers (%d with fused %s)", count, fused, hidden_act if fuse else "-"
    )
    return count
