"""``rasd stats PATH...``: corpus counts, split by synthetic vs real text."""

from __future__ import annotations

import argparse
import json

from rasd.cli import EXIT_DATA, RasdError
from rasd.corpus import load_documents
from rasd.stats import corpus_stats, format_stats


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("stats", help="corpus statistics (entities per label, events per type)")
    p.add_argument("paths", nargs="+", metavar="PATH", help="JSONL files or directories")
    p.add_argument("--json", action="store_true", help="machine-readable JSON output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    docs = load_documents(args.paths)  # a bad record: rasd.cli.main reports it (status 1)
    if not docs:  # an empty folder or files with no records: say so, as `rasd validate` does
        raise RasdError(f"no documents in {', '.join(args.paths)} (no *.jsonl records found)", EXIT_DATA)
    stats = corpus_stats(docs)
    if args.json:
        print(json.dumps(stats, ensure_ascii=False, indent=2))
    else:
        print(format_stats(stats))
    return 0
