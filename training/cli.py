"""``rasd train`` and ``rasd evaluate`` (and ``rasd publish``, registered from rasd.training.publish_cli).

Errors and exit statuses are those of :mod:`rasd.cli`: a bad config key or value is status 2,
a bad corpus record status 1.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from rasd.cli import EXIT_OK, EXIT_USAGE, RasdError, positive_int

logger = logging.getLogger(__name__)


def add_parser(sub: Any) -> None:
    """Register the training subcommands on the ``rasd`` subparsers."""
    p = sub.add_parser(
        "train",
        help="train a model (entities + sentence events) from a YAML config",
        description="Train from a YAML config; key=value arguments override it (dotted keys, "
        "e.g. training.epochs=3 data.max_length=128).",
    )
    p.add_argument("--config", required=True, help="YAML config, e.g. configs/tiny.yaml")
    p.add_argument("--base-model", default=None, help="override model.base_model (hub id or local folder)")
    p.add_argument("--output", default=None, help="override training.output_dir")
    p.add_argument(
        "--cv", type=positive_int, default=0, metavar="K", help="k-fold cross-validation by document instead (K ≥ 2)"
    )
    p.add_argument(
        "--cv-test",
        choices=("all", "real"),
        default="all",
        help="with --cv: fold all documents, or only real (non-synthetic) ones, synthetic always training",
    )
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    p.set_defaults(func=run_train)

    e = sub.add_parser("evaluate", help="score a trained model on annotated JSONL", description="Score a model folder on corpus files.")
    e.add_argument("--model", required=True, help="trained model folder")
    e.add_argument("--data", required=True, nargs="+", help="corpus JSONL files or directories")
    e.add_argument("--output", default=None, help="write all metrics as JSON here")
    e.add_argument("--batch-size", type=positive_int, default=32, help="windows per batch")
    e.set_defaults(func=run_evaluate)

    # Publishing lives in its own module; registered here so `rasd publish` sits with train/evaluate.
    from rasd.training.publish_cli import add_publish_parser

    add_publish_parser(sub)


def run_train(args: argparse.Namespace) -> int:
    import yaml

    from rasd.training.config import ConfigError, load_config

    if args.cv == 1:
        raise RasdError("--cv: k-fold cross-validation needs K ≥ 2 folds")
    overrides = list(args.overrides)
    if args.base_model:
        overrides.append(f"model.base_model={args.base_model}")
    if args.output:
        overrides.append(f"training.output_dir={args.output}")
    try:
        cfg = load_config(args.config, overrides)
    except ConfigError as exc:
        raise RasdError(str(exc), EXIT_USAGE) from None
    except yaml.YAMLError as exc:
        raise RasdError(f"{args.config}: invalid YAML: {exc}", EXIT_USAGE) from None
    logging.getLogger().setLevel(cfg.training.log_level.upper())
    if args.cv:
        from rasd.training.cv import cross_validate, format_cv

        try:
            result = cross_validate(cfg, args.cv, args.cv_test)
        except ValueError as exc:  # more folds than documents: said before any fold trains
            raise RasdError(f"--cv {args.cv}: {exc}") from exc
        print(format_cv(result))
        return EXIT_OK
    from rasd.training.evaluate import format_table
    from rasd.training.trainer import train

    result = train(cfg)
    for split, metrics in result.metrics.items():
        print(f"== {split} ==\n{format_table(metrics)}\n")
    print(f"model saved to {result.output_dir} ({result.facts['training_time_s']:.0f} s)")
    return EXIT_OK


def run_evaluate(args: argparse.Namespace) -> int:
    from rasd.corpus import corpus_files
    from rasd.training.evaluate import format_table
    from rasd.training.evaluate import run_evaluate as evaluate

    # A bad corpus record (status 1), a missing file or model folder (status 2): rasd.cli.main reports them.
    corpus_files(args.data)  # a missing data file fails before the model is loaded
    metrics = evaluate(args.model, args.data, args.output, args.batch_size)
    print(format_table(metrics))
    if args.output:
        print(f"\nmetrics written to {args.output}")
    return EXIT_OK
