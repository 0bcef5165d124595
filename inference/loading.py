"""Loading a saved rasd model for tagging: where it is (folder or hub id), which backend, which
precision (fp32, bf16, fp16, int8) and the CPU fast path (oneDNN prepacking).

:class:`rasd.inference.tagger.Tagger` batches and decodes; this module only decides what model
object it runs (``Tagger.from_pretrained`` calls :func:`load_for_tagging`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rasd.inference.prepack import cpu_has_native_bf16, prepack_available, prepack_linears
from rasd.modeling import RasdMeta, RasdModel

logger = logging.getLogger(__name__)

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def default_device() -> str:
    """``cuda`` when a GPU is visible, else ``cpu``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_model_dir(
    path_or_hub_id: str | Path, revision: str | None = None, token: str | bool | None = None
) -> Path:
    """A local folder as is; otherwise a Hugging Face hub id downloaded (or found in the cache) by
    :func:`huggingface_hub.snapshot_download` — which works offline from the cache with ``HF_HUB_OFFLINE=1``.

    A name that is neither a folder nor a model on the hub (or in the offline cache) raises
    :class:`FileNotFoundError` carrying the hub's error as its cause; network, authentication and
    gated-repository errors propagate as the hub raised them.
    """
    path = Path(path_or_hub_id).expanduser()
    if path.is_dir():
        return path
    name = str(path_or_hub_id)
    if path.exists() or name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise FileNotFoundError(f"no model folder at {name!r}")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        return Path(snapshot_download(repo_id=name, revision=revision, token=token))
    except GatedRepoError:
        raise  # exists, but needs a token with access: not a "not found"
    except (RepositoryNotFoundError, RevisionNotFoundError, LocalEntryNotFoundError, HFValidationError) as exc:
        raise FileNotFoundError(f"{name!r} is neither a model folder nor a hub model: {exc}") from exc


def quantize_int8(model: RasdModel) -> RasdModel:
    """Dynamic int8 quantisation (CPU, per-channel weights) of the encoder's ``nn.Linear`` layers.

    The feed-forward output projections (``layer.N.output.dense``, whose GELU inputs have large
    outliers) and both heads stay fp32: this lifts span agreement with fp32 from 63 to ~90 F1 at
    little speed cost (benchmarks/README.md).
    """
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    base = model.token_model.base_model
    spec = {
        name: per_channel_dynamic_qconfig
        for name, module in base.named_modules()
        if isinstance(module, torch.nn.Linear) and not _is_ffn_output(name)
    }
    quantize_dynamic(base, spec, dtype=torch.qint8, inplace=True)
    return model


def _is_ffn_output(name: str) -> bool:
    """BERT/RoBERTa naming: ``encoder.layer.N.output.dense`` (not ``attention.output.dense``)."""
    return name.endswith("output.dense") and "attention" not in name


@dataclass(frozen=True)
class LoadOptions:
    """How to run a saved model (see :meth:`rasd.inference.tagger.Tagger.from_pretrained`)."""

    device: str
    backend: str = "torch"
    quantize: str | None = None
    dtype: str | None = None
    prepack: bool | None = None
    num_threads: int | None = None

    def check(self) -> None:
        if self.backend not in ("torch", "onnx"):
            raise ValueError(f"backend must be 'torch' or 'onnx', got {self.backend!r}")
        if self.quantize not in (None, "int8"):
            raise ValueError(f"quantize must be None or 'int8', got {self.quantize!r}")
        if self.dtype not in (None, *DTYPES):
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if self.dtype not in (None, "fp32") and (self.quantize or self.backend == "onnx"):
            raise ValueError(f"dtype={self.dtype!r} applies to the torch backend without quantize")
        on_cpu = torch.device(self.device).type == "cpu"
        if self.prepack and not (self.backend == "torch" and on_cpu and not self.quantize):
            raise ValueError("prepack=True applies to the torch backend on CPU without quantize")
        if self.quantize == "int8" and self.backend == "torch" and not on_cpu:
            raise ValueError("quantize='int8' runs on CPU only (use bf16 on GPU)")
        if self.dtype == "fp16" and on_cpu:
            raise ValueError("dtype='fp16' needs a GPU (use bf16 on CPU)")


def pick_backend(model_dir: Path, backend: str) -> str:
    """``onnx`` for a folder holding only an ONNX graph (``rasd export onnx``), else ``backend``."""
    if backend == "torch" and (model_dir / "model.onnx").is_file() and not (model_dir / "model.safetensors").is_file():
        return "onnx"
    return backend


def load_for_tagging(model_dir: Path, options: LoadOptions) -> tuple[Any, Any, RasdMeta, str]:
    """``(model, tokenizer, meta, device)`` for ``model_dir`` run as ``options`` say."""
    options.check()
    if options.backend == "onnx":
        from transformers import AutoTokenizer

        from rasd.inference.onnx import OnnxRasdModel

        onnx_model = OnnxRasdModel(model_dir, quantize=options.quantize, num_threads=options.num_threads)
        meta = RasdMeta.load(model_dir / "rasd.json")
        logger.info("loaded rasd onnx model from %s (%s)", model_dir, options.quantize or "fp32")
        return onnx_model, AutoTokenizer.from_pretrained(model_dir), meta, "cpu"
    model, tokenizer, meta = RasdModel.from_pretrained(model_dir, device="cpu")
    on_cpu = torch.device(options.device).type == "cpu"
    dtype = DTYPES[options.dtype or "fp32"]
    if options.quantize == "int8":
        model = quantize_int8(model)
    if options.dtype == "bf16" and on_cpu and not cpu_has_native_bf16():
        logger.warning("this CPU has no native bf16 (AVX512-BF16/AMX): bf16 is emulated and likely slower than fp32")
    model.to(options.device, dtype=dtype)
    if on_cpu and not options.quantize and options.prepack is not False:
        if prepack_available(dtype):
            prepack_linears(model.token_model.base_model, getattr(model.token_model.config, "hidden_act", None))
        elif options.prepack:
            raise ValueError(f"this PyTorch build cannot prepack {options.dtype or 'fp32'} linear layers (oneDNN)")
    logger.info("loaded rasd model from %s on %s (%s)", model_dir, options.device, options.quantize or options.dtype or "fp32")
    return model, tokenizer, meta, options.device
