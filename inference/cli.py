"""Inference subcommands of the ``rasd`` CLI: ``tag`` and ``export`` (:mod:`inference.onnx_cli`).

``rasd tag --model M --input PATH --output OUT.jsonl [--records OUT.csv] [--batch-size N]
[--device D] [--resume] [--max-chars N] [--backend torch|onnx] [--quantize int8] [--dtype bf16] [--no-prepack] [--num-threads N]
[--token-budget N]`` exits (the statuses of :mod:`rasd.cli`) 0 when every article was tagged,
1 when some inputs were bad and skipped (listed in ``OUT.errors.jsonl``), 2 when the job could
not run (usage error, missing input, an output that is an input or another output, an output
locked by another ``rasd tag``, a model that cannot be loaded, an output that cannot be
written). ``--output -`` writes the tagged JSONL to stdout (skipped inputs are then on the log
only). What is read, written, refused and resumed: :mod:`rasd.inference.batch`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from rasd.cli import EXIT_DATA, EXIT_OK, RasdError, positive_int
from rasd.errors import ModelFolderError
from rasd.inference.batch import DEFAULT_CHUNK
from rasd.inference.tag_inputs import DEFAULT_MAX_CHARS

logger = logging.getLogger(__name__)


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
    p.add_argument(
        "--output", required=True, help="output JSONL, one line per article in input order ('-' for stdout)"
    )
    p.add_argument("--records", help="also write event records to this CSV (UTF-8 with BOM)")
    p.add_argument("--batch-size", type=positive_int, default=32, help="windows per forward pass (default 32)")
    p.add_argument("--chunk-size", type=positive_int, default=DEFAULT_CHUNK, help=argparse.SUPPRESS)
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    p.add_argument("--revision", help="hub revision (branch, tag or commit) of --model")
    p.add_argument("--resume", action="store_true", help="skip articles already in --output (same input file, line and id) and append")
    p.add_argument(
        "--max-chars",
        type=positive_int,
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
    p.add_argument("--num-threads", type=positive_int, help="intra-op CPU threads (default: library default)")
    p.add_argument(
        "--token-budget",
        type=positive_int,
        help="padded tokens per forward pass (length-sorted batches) instead of --batch-size windows",
    )
    p.set_defaults(func=run_tag)


def run_tag(args: argparse.Namespace) -> int:
    from rasd.inference.batch import TagJob
    from rasd.inference.tagger import Tagger

    # Paths are checked (inputs exist, no output is an input or another output) before anything is
    # opened; the outputs are locked before the model loads, so a second job on them fails at once.
    job = TagJob(args.input, args.output, records_path=args.records, resume=args.resume, max_chars=args.max_chars)
    with job:
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
        except ModelFolderError as exc:  # already names the file and the field
            raise RasdError(f"cannot load model: {exc}") from exc
        except (OSError, ValueError, RuntimeError) as exc:  # no folder / hub model, bad option, bad device
            raise RasdError(
                f"cannot load model {args.model} on {args.device or 'auto'}: {type(exc).__name__}: {exc}"
            ) from exc
        summary = job.run(
            tagger, batch_size=args.batch_size, chunk_size=args.chunk_size, progress=not args.no_progress
        )
    print(summary.format(), file=sys.stderr)
    return EXIT_DATA if summary.failures else EXIT_OK


def add_parser(subparsers: Any) -> None:
    """Register the inference subcommands (called by :mod:`rasd.cli`)."""
    add_tag_parser(subparsers)
    from rasd.inference.onnx_cli import add_export_parser  # `rasd export onnx`

    add_export_parser(subparsers)
