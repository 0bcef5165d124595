"""The main job end to end, offline: train a tiny model on the shipped annotations,
tag the two seed articles, print what came out.

    make demo            # or: python scripts/demo.py [--output runs/demo]

The tiny model (a 2-layer BERT initialised in-process, WordPiece trained on the corpus)
needs no download and trains in about a minute on a laptop CPU. It sees the seed
articles in training, so its output on them shows the pipeline working, not quality:
quality figures come from `rasd evaluate` with a pretrained encoder (README).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(ROOT / "configs" / "tiny.yaml"))
    parser.add_argument("--output", default=str(ROOT / "runs" / "demo"))
    parser.add_argument("--show", type=int, default=25, help="entities to print per article")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    from rasd import Tagger
    from rasd.corpus import load_documents
    from rasd.training.config import load_config
    from rasd.training.trainer import train

    cfg = load_config(
        args.config,
        [f"training.output_dir={args.output}", f"data.train_files=[{ROOT / 'annotations'}]"],
    )
    print(f"1/3 training {args.config} on {ROOT / 'annotations'} → {args.output}", flush=True)
    result = train(cfg)
    dev = result.metrics.get("dev", {}) if isinstance(result.metrics, dict) else {}
    if dev:
        print(
            f"    dev: entity exact-span micro-F1 {dev['entities']['micro']['f1']:.3f}, "
            f"sentence event micro-F1 {dev['events']['micro']['f1']:.3f} ({dev['documents']} documents)"
        )

    print("2/3 tagging the seed articles", flush=True)
    seeds = load_documents(ROOT / "annotations" / "seeds.jsonl")
    tagger = Tagger.from_pretrained(args.output, device="cpu")
    docs = tagger([{"id": d.id, "text": d.text} for d in seeds], show_progress_bar=False)

    print("3/3 results")
    for doc in docs:
        labels = Counter(e.label for e in doc.entities)
        print(f"\n== {doc.id}: {len(doc.sentences)} sentences, {len(doc.entities)} entities {dict(labels)}")
        print("   events:", ", ".join(f"{e.label} ({e.score:.2f}, {len(e.sentences)} sentences)" for e in doc.events) or "-")
        for e in doc.entities[: args.show]:
            print(f"   {e.start:>6}-{e.end:<6} {e.label:<9} {e.score:.2f}  {e.text}")
        for r in doc.records[:5]:
            row = r.to_row()
            print(
                f"   record: {row.get('event_type')} | {row.get('acled_event_type')} / {row.get('acled_sub_event_type')}"
                f" | actors: {row.get('actors')} | weapons: {row.get('weapons')} | confidence {row.get('confidence')}"
            )
    print(f"\nmodel folder: {args.output}  (tag more with: rasd tag --model {args.output} --input FILE --output OUT.jsonl)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
