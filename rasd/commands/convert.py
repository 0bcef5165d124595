"""``rasd convert FORMAT ...``: CoNLL, Label Studio and markup ⇄ corpus JSONL."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rasd.corpus import CorpusError, load_documents, write_jsonl


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "convert", help="convert CoNLL / Label Studio / markup to and from corpus JSONL"
    )
    sub = p.add_subparsers(dest="format", required=True, metavar="FORMAT")

    c = sub.add_parser("conll", help="CoNLL BIO file → corpus JSONL")
    c.add_argument("input", metavar="IN")
    c.add_argument("output", metavar="OUT")
    c.add_argument("--map", default="", help="label mapping, e.g. PERS=PERSON,LOC=LOCATION,ORG=ACTOR")
    c.add_argument("--drop-unmapped", action="store_true", help="drop entities whose label is not mapped")
    c.add_argument(
        "--sentences-per-doc",
        type=int,
        default=1,
        help="group N consecutive sentences per document (default 1: CoNLL has no documents)",
    )
    c.add_argument("--id-prefix", default=None, help="document id prefix (default: input file stem + '-')")
    c.add_argument("--source", default=None, help="source field (default: conll:<file name>)")
    c.set_defaults(func=_conll)

    t = sub.add_parser("to-conll", help="corpus JSONL → word-level CoNLL BIO")
    t.add_argument("input", metavar="IN", nargs="+", help="JSONL files or directories, then OUT")
    t.set_defaults(func=_to_conll)

    ls = sub.add_parser("to-labelstudio", help="corpus JSONL → Label Studio tasks JSON")
    ls.add_argument("input", metavar="IN", nargs="+", help="JSONL files or directories, then OUT")
    ls.set_defaults(func=_to_labelstudio)

    fl = sub.add_parser("from-labelstudio", help="Label Studio tasks/export JSON → corpus JSONL")
    fl.add_argument("input", metavar="IN")
    fl.add_argument("output", metavar="OUT")
    fl.set_defaults(func=_from_labelstudio)

    cfg = sub.add_parser("labelstudio-config", help="write the Label Studio labeling config XML")
    cfg.add_argument("output", metavar="OUT", help="XML file ('-' for stdout)")
    cfg.set_defaults(func=_labelstudio_config)

    m = sub.add_parser("markup", help="markup files or directories (*.txt) → corpus JSONL")
    m.add_argument("input", metavar="IN", nargs="+", help="markup files or directories, then OUT")
    m.set_defaults(func=_markup)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def _split_out(paths: list[str]) -> tuple[list[str], str] | None:
    return (paths[:-1], paths[-1]) if len(paths) >= 2 else None


def _conll(args: argparse.Namespace) -> int:
    from rasd.convert.conll import ConllError, conll_to_documents, parse_label_map

    src = Path(args.input)
    try:
        label_map = parse_label_map(args.map)
        with src.open(encoding="utf-8") as fh:
            result = conll_to_documents(
                fh,
                label_map=label_map,
                drop_unmapped=args.drop_unmapped,
                sentences_per_doc=args.sentences_per_doc,
                id_prefix=args.id_prefix if args.id_prefix is not None else f"{src.stem}-",
                source=args.source or f"conll:{src.name}",
            )
    except (ConllError, ValueError, OSError) as exc:
        return _fail(f"{src}: {exc}")
    write_jsonl(result.documents, args.output)
    print(
        f"{src} → {args.output}: {len(result.documents)} documents, {result.sentences} sentences, "
        f"{result.tokens} tokens; B- tags {dict(result.b_tags)}; entities {dict(result.entities)} "
        f"(total {sum(result.entities.values())}); dropped {dict(result.dropped)}; "
        f"stray I- treated as B- {sum(result.stray_i.values())}"
    )
    return 0


def _load(paths: list[str]) -> list | int:
    try:
        return load_documents(paths)
    except CorpusError as exc:
        return _fail(f"{exc} (run `rasd validate` for all problems)")


def _to_conll(args: argparse.Namespace) -> int:
    from rasd.convert.conll import documents_to_conll

    split = _split_out(args.input)
    if split is None:
        return _fail("to-conll needs IN... OUT")
    docs = _load(split[0])
    if isinstance(docs, int):
        return docs
    out = documents_to_conll(docs)
    Path(split[1]).parent.mkdir(parents=True, exist_ok=True)
    Path(split[1]).write_text("\n".join(out.lines) + "\n", encoding="utf-8")
    for w in out.warnings:
        print(f"warning: {w}", file=sys.stderr)
    n_sent = sum(1 for line in out.lines if not line)
    print(f"{len(docs)} documents, {n_sent} sentences → {split[1]} ({len(out.warnings)} warning(s))")
    return 0


def _to_labelstudio(args: argparse.Namespace) -> int:
    from rasd.convert.labelstudio import documents_to_tasks

    split = _split_out(args.input)
    if split is None:
        return _fail("to-labelstudio needs IN... OUT")
    docs = _load(split[0])
    if isinstance(docs, int):
        return docs
    Path(split[1]).parent.mkdir(parents=True, exist_ok=True)
    Path(split[1]).write_text(
        json.dumps(documents_to_tasks(docs), ensure_ascii=False, indent=1), encoding="utf-8"
    )
    print(f"{len(docs)} documents → {split[1]} (Label Studio tasks)")
    return 0


def _from_labelstudio(args: argparse.Namespace) -> int:
    from rasd.convert.labelstudio import LabelStudioError, tasks_to_documents

    try:
        tasks = json.loads(Path(args.input).read_text(encoding="utf-8"))
        docs = tasks_to_documents(tasks)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, LabelStudioError) as exc:
        return _fail(f"{args.input}: {exc}")
    write_jsonl(docs, args.output)
    print(f"{args.input} → {args.output}: {len(docs)} documents")
    return 0


def _labelstudio_config(args: argparse.Namespace) -> int:
    from rasd.convert.labelstudio import labeling_config

    xml = labeling_config()
    if args.output == "-":
        sys.stdout.write(xml)
    else:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(xml, encoding="utf-8")
        print(f"labeling config → {args.output}")
    return 0


def _markup(args: argparse.Namespace) -> int:
    from rasd.convert.markup import markup_to_documents
    from rasd.markup import MarkupError

    split = _split_out(args.input)
    if split is None:
        return _fail("markup needs IN... OUT")
    try:
        docs = markup_to_documents(split[0])
    except MarkupError as exc:
        return _fail(str(exc))
    write_jsonl(docs, split[1])
    print(f"{len(docs)} documents → {split[1]}")
    return 0
