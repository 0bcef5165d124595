"""Inference subcommands of the ``rasd`` CLI: ``tag`` and ``export`` (:mod:`inference.onnx`).

``rasd tag --model M --input PATH --output OUT.jsonl [--records OUT.csv] [--batch-size N]
[--device D] [--resume] [--max-chars N] [--backend torch|onnx] [--quantize int8] [--dtype bf16] [--no-prepack] [--num-threads N]
[--token-budget N]`` exits 0 when every article was tagged, 2 when
some inputs failed (they are listed in ``OUT.errors.jsonl``), 1 when the job could not run.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from rasd.inference.batch import DEFAULT_CHUNK, DEFAULT_MAX_CHARS

logger = logging.getLogger(__name__)


def _positive(value: str) -> int:
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def add_tag_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "tag",
        help="tag articles (JSONL, .txt, a directory, or - for stdin) with a trained model",
        description="Tag articles with entities, sentence events and event records; write JSONL (and CSV).",
    )
    p.add_argument("--model", required=True, help="model folder or Hugging Face hub id")
    p.add_argument(
        "--input", required=True, help="JSONL of {id, text, ...}, a .txt file, a directory, or - (stdin)"
    )
    p.add_argument("--output", required=True, help="output JSONL, one line per article in input order")
    p.add_argument("--records", help="also write event records to this CSV (UTF-8 with BOM)")
    p.add_argument("--batch-size", type=_positive, default=32, help="windows per forward pass (default 32)")
    p.add_argument("--chunk-size", type=_positive, default=DEFAULT_CHUNK, help=argparse.SUPPRESS)
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    p.add_argument("--revision", help="hub revision (branch, tag or commit) of --model")
    p.add_argument("--resume", action="store_true", help="skip ids already in --output and append")
    p.add_argument(
        "--max-chars",
        type=_positive,
        default=DEFAULT_MAX_CHARS,
        help="skip inputs with a longer field (default 1,000,000)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--backend",
        choices=["torch", "onnx"],
        default="torch",
        help="torch (default) or onnx (a folder from `rasd export onnx`; onnxruntime on CPU)",
    )
    p.add_argument("--quantize", choices=["int8"], help="dynamic int8 weights (CPU; torch or onnx backend)")
    p.add_argument(
        "--dtype",
        choices=["fp32", "bf16", "fp16"],
        help="torch weights dtype (default fp32; bf16 on GPUs and bf16-capable CPUs, fp16 on GPUs)",
    )
    p.add_argument(
        "--no-prepack",
        dest="prepack",
        action="store_false",
        default=None,
        help="keep plain torch linear layers on CPU (default: oneDNN-prepacked, GELU fused; inference/prepack.py)",
    )
    p.add_argument("--num-threads", type=_positive, help="intra-op CPU threads (default: library default)")
    p.add_argument(
        "--token-budget",
        type=_positive,
        help="padded tokens per forward pass (length-sorted batches) instead of --batch-size windows",
    )
    p.set_defaults(func=run_tag)


def run_tag(args: argparse.Namespace) -> int:
    from rasd.inference.batch import input_files, run_tag_job
    from rasd.inference.tagger import Tagger

    if args.input != "-":
        try:
            input_files(args.input)
        except FileNotFoundError as exc:
            logger.error("%s", exc)
            return 1
    try:
        tagger = Tagger.from_pretrained(
            args.model,
            device=args.device,
            revision=args.revision,
            backend=args.backend,
            quantize=args.quantize,
            num_threads=args.num_threads,
            token_budget=args.token_budget,
            dtype=args.dtype,
            prepack=args.prepack,
        )
    except Exception as exc:  # noqa: BLE001 - a bad folder, hub id or device: one clear line, exit 1
        logger.error(
            "cannot load model %s on %s: %s: %s", args.model, args.device or "auto", type(exc).__name__, exc
        )
        return 1
    summary = run_tag_job(
        tagger,
        args.input,
        args.output,
        records_path=args.records,
        batch_size=args.batch_size,
        resume=args.resume,
        max_chars=args.max_chars,
        chunk_size=args.chunk_size,
        progress=not args.no_progress,
    )
    print(summary.format(), file=sys.stderr)
    return 2 if summary.failures else 0


def add_parser(subparsers: Any) -> None:
    """Register the inference subcommands (called by :mod:`rasd.cli`)."""
    add_tag_parser(subparsers)
    # `export` (ONNX) is registered here by inference/onnx's add_export_parser when it exists.
    try:
        from rasd.inference.onnx import add_export_parser  # type: ignore[attr-defined]
    except ImportError:
        return
    add_export_parser(subparsers)
