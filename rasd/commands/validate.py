"""``rasd validate PATH...``: check corpus JSONL files and report every problem."""

from __future__ import annotations

import argparse

from rasd.cli import EXIT_DATA, EXIT_OK
from rasd.validate import validate_paths


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "validate",
        help="check corpus JSONL files (offsets, labels, sentences, proclitics)",
        description="Check corpus JSONL files or directories of *.jsonl. Exit status 1 on any error, "
        "a missing path included (or any warning with --strict).",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="JSONL files or directories")
    p.add_argument("--strict", action="store_true", help="warnings fail too")
    p.add_argument("-q", "--quiet", action="store_true", help="print the summary only")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    report = validate_paths(args.paths)
    if not args.quiet:
        for issue in report.issues:
            print(issue)
    ok = report.ok(strict=args.strict)
    print(("OK: " if ok else "FAILED: ") + report.summary())
    return EXIT_OK if ok else EXIT_DATA
