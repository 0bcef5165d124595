"""The ``rasd`` command line: one subcommand per module, heavy imports deferred.

Each command module exposes ``add_parser(subparsers)`` which registers its
subcommand and sets ``func`` (taking the parsed namespace, returning an exit
status). Importing torch only when a command needs it keeps ``rasd validate``
instant.

Errors and exit statuses are the same in every subcommand. A user error is one
line on stderr, ``rasd: error: <message>``, and :func:`main` returns:

====  ==============================================================================
0     success
1     bad input data: some records were bad and skipped (``rasd tag``, listed in
      ``OUT.errors.jsonl``), validation found problems (``rasd validate``), or a
      corpus/markup/CoNLL/Label Studio file has a bad record, so the command stopped
2     the command could not run as asked: a usage error (bad option or value), a bad
      config key or value, a missing input file or model folder, a model that cannot
      be loaded, a missing optional dependency
====  ==============================================================================

Subcommands report errors by raising :class:`RasdError` (with its exit status);
:func:`main` also turns the errors every command can meet into that one line: a
:class:`~rasd.jsonl.RecordError` (status 1), an ``OSError`` such as a missing file
(status 2), a :class:`~rasd.errors.ModelFolderError` (a bad ``rasd.json`` value, status 2) and
a ``ModuleNotFoundError`` for an optional dependency (status 2).
``-v`` logs the traceback too. Counts (``--batch-size``, ``--token-budget``, ...) are
parsed by :func:`positive_int`; ``--output -`` means stdout where the output is one stream.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sys

from rasd.errors import ModelFolderError
from rasd.jsonl import RecordError

logger = logging.getLogger("rasd")

EXIT_OK = 0
EXIT_DATA = 1
EXIT_USAGE = 2

EPILOG = (
    "exit status: 0 success; 1 bad input data (records skipped by `rasd tag`, problems found by "
    "`rasd validate`, a bad record that stopped the command); 2 the command could not run "
    "(usage error, bad config, missing file or model, missing optional dependency). "
    "Errors are one line on stderr: 'rasd: error: MESSAGE'. --output - writes to stdout "
    "where the output is one stream."
)

# Subcommand modules, imported by name when the parser is built.
COMMANDS: list[str] = [
    "rasd.commands.validate",
    "rasd.commands.stats",
    "rasd.commands.convert",
    "rasd.training.cli",
    "rasd.inference.cli",
]


class RasdError(Exception):
    """A user error: :func:`main` prints ``rasd: error: <message>`` and returns ``code``."""

    def __init__(self, message: str, code: int = EXIT_USAGE):
        super().__init__(message)
        self.code = code


def positive_int(value: str) -> int:
    """``argparse`` ``type=`` for a count: an integer of at least 1.

    >>> positive_int("3")
    3
    >>> positive_int("0")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: must be a positive integer, got '0'
    """
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value!r}")
    return n


def error_line(message: object) -> str:
    """The one stderr line of a user error.

    >>> error_line("bad\\nthing")
    'rasd: error: bad thing'
    """
    return "rasd: error: " + " ".join(str(message).split())


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are the one ``rasd: error:`` line (status 2)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_USAGE, error_line(f"{message} (see `{self.prog} --help`)") + "\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rasd", description="Arabic conflict-news tagging.", epilog=EPILOG)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging (and tracebacks)")
    parser.add_argument("--version", action="version", version=f"rasd {__import__('rasd').__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(name).add_parser(sub)
    for command in sub.choices.values():
        command.epilog = command.epilog or EPILOG
    return parser


def _describe(exc: BaseException) -> tuple[str, int]:
    """The message and exit status of an error that ends a command."""
    if isinstance(exc, RasdError):
        return str(exc), exc.code
    if isinstance(exc, RecordError):
        return f"{exc} (run `rasd validate` for all problems)", EXIT_DATA
    if isinstance(exc, ModuleNotFoundError):
        return f"no module named {exc.name!r}: this command needs it installed", EXIT_USAGE
    if isinstance(exc, BrokenPipeError):
        return "output closed early (broken pipe)", EXIT_USAGE
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}", EXIT_USAGE
    return str(exc) or type(exc).__name__, EXIT_USAGE


def main(argv: list[str] | None = None) -> int:
    """Run ``rasd`` with ``argv``; return the exit status (see the module docstring)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # usage errors (already printed), --help, --version
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.func(args) or EXIT_OK)
    except (RasdError, RecordError, ModelFolderError, ModuleNotFoundError, OSError) as exc:
        logger.debug("rasd %s failed", args.command, exc_info=True)
        if isinstance(exc, BrokenPipeError):  # e.g. `| head`: no flush error at exit either
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        message, code = _describe(exc)
        print(error_line(message), file=sys.stderr)
        return code


if __name__ == "__main__":  # `python -m rasd.cli`: run the imported module, whose RasdError commands raise
    from rasd.cli import main as _main

    sys.exit(_main())
