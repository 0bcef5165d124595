"""``rasd convert FORMAT ...``: CoNLL, Label Studio and markup ⇄ corpus JSONL.

Every converter writes one file; ``OUT`` ``-`` writes it to stdout (the summary line then
goes to stderr). Errors and exit statuses are those of :mod:`rasd.cli`: a bad record in the
input is status 1, a usage error or missing file status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rasd.cli import EXIT_DATA, EXIT_OK, EXIT_USAGE, RasdError, positive_int
from rasd.corpus import load_documents, write_jsonl
from rasd.jsonl import RecordError, open_output


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "convert", help="convert CoNLL / Label Studio / markup to and from corpus JSONL"
    )
    sub = p.add_subparsers(dest="format", required=True, metavar="FORMAT")

    c = sub.add_parser("conll", help="CoNLL BIO file → corpus JSONL")
    c.add_argument("input", metavar="IN")
    c.add_argument("output", metavar="OUT", help="corpus JSONL ('-' for stdout)")
    c.add_argument("--map", default="", help="label mapping, e.g. PERS=PERSON,LOC=LOCATION,ORG=ACTOR")
    c.add_argument("--drop-unmapped", action="store_true", help="drop entities whose label is not mapped")
    c.add_argument(
        "--sentences-per-doc",
        type=positive_int,
        default=1,
        help="group N consecutive sentences per document (default 1: CoNLL has no documents)",
    )
    c.add_argument("--id-prefix", default=None, help="document id prefix (default: input file stem + '-')")
    c.add_argument("--source", default=None, help="source field (default: conll:<file name>)")
    c.set_defaults(func=_conll)

    t = sub.add_parser("to-conll", help="corpus JSONL → word-level CoNLL BIO")
    t.add_argument("input", metavar="IN", nargs="+", help="JSONL files or directories, then OUT ('-' for stdout)")
    t.set_defaults(func=_to_conll)

    ls = sub.add_parser("to-labelstudio", help="corpus JSONL → Label Studio tasks JSON")
    ls.add_argument("input", metavar="IN", nargs="+", help="JSONL files or directories, then OUT ('-' for stdout)")
    ls.set_defaults(func=_to_labelstudio)

    fl = sub.add_parser("from-labelstudio", help="Label Studio tasks/export JSON → corpus JSONL")
    fl.add_argument("input", metavar="IN")
    fl.add_argument("output", metavar="OUT", help="corpus JSONL ('-' for stdout)")
    fl.set_defaults(func=_from_labelstudio)

    cfg = sub.add_parser("labelstudio-config", help="write the Label Studio labeling config XML")
    cfg.add_argument("output", metavar="OUT", help="XML file ('-' for stdout)")
    cfg.set_defaults(func=_labelstudio_config)

    m = sub.add_parser("markup", help="markup files or directories (*.txt) → corpus JSONL")
    m.add_argument("input", metavar="IN", nargs="+", help="markup files or directories, then OUT ('-' for stdout)")
    m.set_defaults(func=_markup)


def _say(output: str, message: str) -> None:
    """A summary line: on stdout, or on stderr when the output itself goes to stdout."""
    print(message, file=sys.stderr if output == "-" else sys.stdout)


def _split_out(paths: list[str], command: str) -> tuple[list[str], str]:
    if len(paths) < 2:
        raise RasdError(f"{command} needs IN... OUT")
    return paths[:-1], paths[-1]


def _conll(args: argparse.Namespace) -> int:
    from rasd.convert.conll import ConllError, conll_to_documents, decode_lines, parse_label_map

    src = Path(args.input)
    try:
        label_map = parse_label_map(args.map)
    except ValueError as exc:
        raise RasdError(f"--map: {exc}") from None
    try:
        with src.open("rb") as fh:
            result = conll_to_documents(
                decode_lines(fh),
                label_map=label_map,
                drop_unmapped=args.drop_unmapped,
                sentences_per_doc=args.sentences_per_doc,
                id_prefix=args.id_prefix if args.id_prefix is not None else f"{src.stem}-",
                source=args.source or f"conll:{src.name}",
            )
    except ConllError as exc:
        if exc.line is None:  # the options, not the file
            raise RasdError(f"--map: {exc.reason}", EXIT_USAGE) from None
        raise RasdError(f"{src}:{exc.line}: {exc.reason}", EXIT_DATA) from None
    write_jsonl(result.documents, args.output)
    _say(
        args.output,
        f"{src} → {args.output}: {len(result.documents)} documents, {result.sentences} sentences, "
        f"{result.tokens} tokens; B- tags {dict(result.b_tags)}; entities {dict(result.entities)} "
        f"(total {sum(result.entities.values())}); dropped {dict(result.dropped)}; "
        f"stray I- treated as B- {sum(result.stray_i.values())}",
    )
    return EXIT_OK


def _to_conll(args: argparse.Namespace) -> int:
    from rasd.convert.conll import documents_to_conll

    inputs, output = _split_out(args.input, "to-conll")
    docs = load_documents(inputs)
    out = documents_to_conll(docs)
    with open_output(output) as fh:
        fh.write("\n".join(out.lines) + "\n")
    for w in out.warnings:
        print(f"warning: {w}", file=sys.stderr)
    n_sent = sum(1 for line in out.lines if not line)
    _say(output, f"{len(docs)} documents, {n_sent} sentences → {output} ({len(out.warnings)} warning(s))")
    return EXIT_OK


def _to_labelstudio(args: argparse.Namespace) -> int:
    from rasd.convert.labelstudio import documents_to_tasks

    inputs, output = _split_out(args.input, "to-labelstudio")
    docs = load_documents(inputs)
    with open_output(output) as fh:
        fh.write(json.dumps(documents_to_tasks(docs), ensure_ascii=False, indent=1))
    _say(output, f"{len(docs)} documents → {output} (Label Studio tasks)")
    return EXIT_OK


def _from_labelstudio(args: argparse.Namespace) -> int:
    from rasd.convert.labelstudio import load_tasks

    try:
        docs = load_tasks(args.input)
    except RecordError as exc:  # bad UTF-8 or JSON, a task the corpus format cannot hold
        raise RasdError(str(exc), EXIT_DATA) from None
    write_jsonl(docs, args.output)
    _say(args.output, f"{args.input} → {args.output}: {len(docs)} documents")
    return EXIT_OK


def _labelstudio_config(args: argparse.Namespace) -> int:
    from rasd.convert.labelstudio import labeling_config

    with open_output(args.output) as fh:
        fh.write(labeling_config())
    if args.output != "-":
        print(f"labeling config → {args.output}")
    return EXIT_OK


def _markup(args: argparse.Namespace) -> int:
    from rasd.convert.markup import markup_to_documents
    from rasd.markup import MarkupError

    inputs, output = _split_out(args.input, "markup")
    try:
        docs = markup_to_documents(inputs)
    except MarkupError as exc:
        raise RasdError(str(exc), EXIT_DATA) from None
    write_jsonl(docs, output)
    _say(output, f"{len(docs)} documents → {output}")
    return EXIT_OK
