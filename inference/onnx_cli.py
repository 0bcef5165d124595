"""``rasd export onnx``: the command line over :func:`rasd.inference.onnx.export_onnx`.

``rasd export onnx --model DIR --output DIR_ONNX [--quantize int8] [--optimize] [--opset N]``
exits 0 when the folder was written and 2 (``rasd: error: …``, :mod:`rasd.cli`) when the model
folder cannot be read or exported or onnx/onnxruntime is missing. The exporter (torch) is
imported only when the command runs, so building the ``rasd`` parser stays light.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from rasd.cli import RasdError, positive_int

logger = logging.getLogger(__name__)


def add_export_parser(subparsers: Any) -> None:
    """Register ``rasd export onnx --model DIR --output DIR_ONNX [--quantize int8] [--optimize] [--opset N]``."""
    p = subparsers.add_parser(
        "export",
        help="export a model folder for fast inference (onnx)",
        description="Export a saved rasd model folder to ONNX (encoder + token head; event head beside it).",
    )
    p.add_argument("format", choices=["onnx"], help="export format")
    p.add_argument("--model", required=True, help="saved rasd model folder")
    p.add_argument("--output", required=True, help="output folder (loadable with `rasd tag --backend onnx`)")
    p.add_argument("--quantize", choices=["int8"], help="also write a dynamic int8 graph (model.int8.onnx)")
    p.add_argument(
        "--optimize",
        action="store_true",
        help="apply onnxruntime's transformer fusions (fused attention, skip-LayerNorm, bias-GELU)",
    )
    # No default here: the exporter's (rasd.inference.onnx.DEFAULT_OPSET) applies, and the parser
    # does not import torch to learn it.
    p.add_argument("--opset", type=positive_int, help="ONNX opset (default: the exporter's, DEFAULT_OPSET)")
    p.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    """Entry point of ``rasd export``; returns the exit status."""
    from rasd.inference.onnx import export_onnx

    try:
        opset = {"opset": args.opset} if args.opset else {}
        out = export_onnx(args.model, args.output, quantize=args.quantize, optimize=args.optimize, **opset)
    except (OSError, ValueError) as exc:  # no such folder, not a rasd folder, a bad rasd.json
        raise RasdError(f"export failed: {type(exc).__name__}: {exc}") from exc
    logger.info("exported %s → %s", args.model, out)
    return 0
