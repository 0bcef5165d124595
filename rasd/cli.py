"""The ``rasd`` command line: one subcommand per module, heavy imports deferred.

Each command module exposes ``add_parser(subparsers)`` which registers its
subcommand and sets ``func`` (taking the parsed namespace, returning an exit
status). Importing torch only when a command needs it keeps ``rasd validate``
instant.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# (subcommand module, import path); modules are imported lazily by name.
COMMANDS: list[str] = [
    "rasd.commands.validate",
    "rasd.commands.stats",
    "rasd.commands.convert",
    "rasd.training.cli",
    "rasd.inference.cli",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rasd", description="Arabic conflict-news tagging.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"rasd {__import__('rasd').__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                continue  # command module not present in this checkout
            raise
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
