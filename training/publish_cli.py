"""``rasd publish``: the command line over :mod:`rasd.training.publish`.

``rasd publish --model DIR --repo-id ORG/NAME [--private] [--revision BRANCH]
[--commit-message MSG] [--token TOKEN] [--dry-run OUTDIR]`` uploads the staged folder, or
with ``--dry-run`` only writes it to ``OUTDIR`` and lists its files. A
:class:`~rasd.training.publish.PublishError` (not logged in, a bad repo id, the hub unreachable) is one line, `rasd: error: …`, exit status 2 (:mod:`rasd.cli`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rasd.cli import RasdError
from rasd.training.publish import PublishError, publish, stage


def add_publish_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``rasd publish`` on the ``rasd`` subparsers."""
    p = sub.add_parser(
        "publish",
        help="upload a trained model folder (weights, tokenizer, schema, rendered card) to the Hugging Face Hub",
        description="Stage a model folder (safetensors weights, config, tokenizer, rasd.json, metrics, "
        "training config, rendered model card) and upload it to the Hugging Face Hub.",
    )
    p.add_argument("--model", required=True, type=Path, help="trained model folder (from rasd train)")
    p.add_argument("--repo-id", required=True, help="Hub repository, ORG/NAME")
    p.add_argument("--private", action="store_true", help="create the repository as private")
    p.add_argument("--revision", default=None, help="branch to push to (created if missing; default main)")
    p.add_argument("--commit-message", default=None, help="commit message")
    p.add_argument("--token", default=None, help="Hub token (default: the logged-in token or HF_TOKEN)")
    p.add_argument(
        "--dry-run",
        metavar="OUTDIR",
        type=Path,
        default=None,
        help="only write the staged folder to OUTDIR and list its files; upload nothing",
    )
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Entry point of ``rasd publish``; returns the exit status."""
    try:
        if args.dry_run is not None:
            staged = stage(args.model, args.dry_run, args.repo_id)
            print(f"Staged {len(staged)} files for {args.repo_id} in {args.dry_run} (nothing uploaded):")
            for path in staged:
                print(f"  {path.name}\t{path.stat().st_size} bytes")
            return 0
        info = publish(
            args.model,
            args.repo_id,
            private=args.private,
            revision=args.revision,
            commit_message=args.commit_message,
            token=args.token,
        )
    except PublishError as err:
        raise RasdError(str(err)) from err
    print(f"Published {args.model} to https://huggingface.co/{args.repo_id} ({getattr(info, 'commit_url', '')})")
    return 0
