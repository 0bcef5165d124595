"""ANERcorp benchmark: the plain Hugging Face recipe vs rasd's pipeline, same encoder and budget.

(a) HF recipe: AutoModelForTokenClassification + Trainer, first-sub-word labels via
    ``word_ids()`` (as in transformers' run_ner.py), truncation at ``max_length``.
(b) rasd: ``configs/anercorp.yaml`` through :func:`training.trainer.train` (character-span
    alignment, sentence windows with chunking, two-head model with event loss off).

Both use ANERcorp's native labels (PERS, LOC, ORG, MISC) so the figures compare with
published ones, the same base model, epochs, max_length, batch size, encoder learning
rate and seed, and both are scored the same way: seqeval strict IOB2 over the test
words (rasd's character spans are projected back onto the words).

    python benchmarks/anercorp.py --base-model /path/to/encoder --data-dir /path/to/anercorp [--epochs 2]
    python benchmarks/anercorp.py --base-model PATH --data-dir DIR --max-train-sentences 200 --epochs 1  # smoke run
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from datasets import Dataset
from seqeval.metrics import classification_report
from seqeval.scheme import IOB2
from transformers import (
    AutoModelForTokenClassification,
    AutoTokenizer,
    DataCollatorForTokenClassification,
    HfArgumentParser,
    Trainer,
    TrainingArguments,
    set_seed,
)

from rasd import Tagger
from rasd.convert.conll import conll_to_documents, read_conll
from rasd.corpus import Document, Span
from rasd.training.config import load_config
from rasd.training.trainer import train

logger = logging.getLogger("benchmarks.anercorp")
NATIVE_LABELS = ["PERS", "LOC", "ORG", "MISC"]
REPO = Path(__file__).resolve().parents[1]


@dataclass
class BenchmarkArguments:
    base_model: str = field(metadata={"help": "encoder for both recipes: hub id or local folder"})
    data_dir: str = field(
        default_factory=lambda: os.environ.get("ANERCORP_DIR", ""),
        metadata={"help": "folder with the CAMeL Lab split's train.txt/test.txt (default: $ANERCORP_DIR)"},
    )
    config: str = field(default=str(REPO / "configs/anercorp.yaml"), metadata={"help": "rasd config"})
    output_dir: str = field(default="runs/bench-anercorp", metadata={"help": "where models and results go"})
    epochs: float = field(default=2, metadata={"help": "training epochs (both)"})
    max_length: int = field(default=128, metadata={"help": "tokens per input (both)"})
    batch_size: int = field(default=16, metadata={"help": "batch size (both)"})
    learning_rate: float = field(default=1e-4, metadata={"help": "encoder learning rate (both)"})
    freeze_embeddings: bool = field(default=True, metadata={"help": "freeze input embeddings (both; faster on CPU)"})
    max_train_sentences: int = field(default=0, metadata={"help": "use only the first N train sentences (0 = all)"})
    max_test_sentences: int = field(default=0, metadata={"help": "use only the first N test sentences (0 = all)"})
    only: str = field(default="", metadata={"help": "run only 'hf' or 'rasd'"})
    rasd_override: list[str] = field(
        default_factory=list, metadata={"help": "extra key=value overrides for rasd's config (ablations)"}
    )
    seed: int = field(default=42, metadata={"help": "seed (both)"})


def read_sentences(path: Path) -> list[tuple[list[str], list[str]]]:
    """Sentences as (words, IOB2 tags), read by rasd's CoNLL reader."""
    with path.open(encoding="utf-8") as lines:
        return [([w for w, _ in toks], [t for _, t in toks]) for item in read_conll(lines) if item for toks in [item[1]]]


def to_documents(sentences: list[tuple[list[str], list[str]]]) -> list[Document]:
    """One rasd document per sentence (words joined by spaces), native labels, by rasd's converter."""
    lines = [line for words, tags in sentences for line in (*(f"{w} {t}" for w, t in zip(words, tags, strict=True)), "")]
    return conll_to_documents(lines, id_prefix="anercorp-", source="anercorp", labels=NATIVE_LABELS).documents


def word_offsets(words: list[str]) -> list[tuple[int, int]]:
    out, pos = [], 0
    for w in words:
        out.append((pos, pos + len(w)))
        pos += len(w) + 1
    return out


def spans_to_word_tags(spans: list[Span], offsets: list[tuple[int, int]]) -> list[str]:
    tags = ["O"] * len(offsets)
    for span in spans:
        inside = [i for i, (s, e) in enumerate(offsets) if s < span.end and span.start < e]
        for k, i in enumerate(inside):
            if tags[i] == "O":
                tags[i] = ("B-" if k == 0 else "I-") + span.label
    return tags


def seqeval_f1(gold: list[list[str]], pred: list[list[str]]) -> dict:
    report = classification_report(gold, pred, mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
    return {k: {"precision": v["precision"], "recall": v["recall"], "f1": v["f1-score"], "support": int(v["support"])} for k, v in report.items()}


def freeze(model) -> None:
    base = getattr(model, model.base_model_prefix)
    for p in base.embeddings.parameters():
        p.requires_grad_(False)


def run_hf(args: BenchmarkArguments, train_s, test_s) -> tuple[dict, float]:
    """transformers' token-classification recipe (run_ner.py), unchanged in spirit."""
    set_seed(args.seed)
    tags = ["O"] + [f"{p}-{label}" for label in NATIVE_LABELS for p in ("B", "I")]
    label2id = {t: i for i, t in enumerate(tags)}
    tokenizer = AutoTokenizer.from_pretrained(args.base_model)
    model = AutoModelForTokenClassification.from_pretrained(
        args.base_model, num_labels=len(tags), id2label=dict(enumerate(tags)), label2id=label2id
    )
    if args.freeze_embeddings:
        freeze(model)

    def tokenize(batch):
        enc = tokenizer(batch["words"], is_split_into_words=True, truncation=True, max_length=args.max_length)
        labels, word_ids = [], []
        for i, word_tags in enumerate(batch["tags"]):
            prev, row = None, []
            for w in enc.word_ids(i):
                row.append(-100 if w is None or w == prev else label2id[word_tags[w]])
                prev = w
            labels.append(row)
            word_ids.append([-1 if w is None else w for w in enc.word_ids(i)])
        enc["labels"] = labels
        enc["word_ids"] = word_ids  # Trainer drops this column (not a model input); kept for scoring
        return enc

    def dataset(sents):
        ds = Dataset.from_dict({"words": [w for w, _ in sents], "tags": [t for _, t in sents]})
        return ds.map(tokenize, batched=True, remove_columns=["words", "tags"])

    train_ds, test_ds = dataset(train_s), dataset(test_s)
    targs = TrainingArguments(
        output_dir=str(Path(args.output_dir) / "hf"),
        num_train_epochs=args.epochs,
        per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=32,
        learning_rate=args.learning_rate,
        weight_decay=0.01,
        warmup_steps=0.1,  # transformers 5: a float < 1 is a ratio of total steps
        save_strategy="no",
        eval_strategy="no",
        report_to="none",
        logging_steps=50,
        seed=args.seed,
    )
    trainer = Trainer(
        model=model, args=targs, train_dataset=train_ds, data_collator=DataCollatorForTokenClassification(tokenizer),
        processing_class=tokenizer,
    )
    started = time.time()
    trainer.train()
    seconds = time.time() - started
    out = trainer.predict(test_ds)
    pred_ids = np.argmax(out.predictions, axis=-1)
    gold, pred = [], []
    for i, ((words, word_tags), word_ids) in enumerate(zip(test_s, test_ds["word_ids"], strict=True)):
        word_pred = ["O"] * len(words)  # words lost to truncation count as O
        for j, w in enumerate(word_ids):
            if out.label_ids[i][j] != -100:  # the first sub-word of word w
                word_pred[w] = tags[pred_ids[i][j]]
        gold.append(word_tags)
        pred.append(word_pred)
    return seqeval_f1(gold, pred), seconds


def run_rasd(args: BenchmarkArguments, train_s, test_s) -> tuple[dict, float]:
    """rasd's pipeline with configs/anercorp.yaml, native labels, same budget."""
    cfg = load_config(
        args.config,
        [
            f"model.base_model={args.base_model}",
            f"model.entity_labels={','.join(NATIVE_LABELS)}",
            f"model.freeze_embeddings={args.freeze_embeddings}",
            f"data.max_length={args.max_length}",
            f"training.epochs={args.epochs}",
            f"training.batch_size={args.batch_size}",
            f"training.encoder_lr={args.learning_rate}",
            f"training.seed={args.seed}",
            f"training.output_dir={Path(args.output_dir) / 'rasd'}",
            *args.rasd_override,
        ],
    )
    train_docs, test_docs = to_documents(train_s), to_documents(test_s)
    result = train(cfg, train_docs, dev_docs=[])
    seconds = result.facts["training_time_s"]
    # Scored on what the Tagger returns (the shipped decoder), each sentence given as one sentence.
    tagger = Tagger.from_pretrained(result.output_dir)
    tagged = tagger([{"text": d.text, "sentences": [(0, len(d.text))]} for d in test_docs], show_progress_bar=False)
    gold, pred = [], []
    for (words, word_tags), doc in zip(test_s, tagged, strict=True):
        spans = [Span(e.start, e.end, e.label) for e in doc.entities]
        gold.append(word_tags)
        pred.append(spans_to_word_tags(spans, word_offsets(words)))
    return seqeval_f1(gold, pred), seconds


def main(argv: list[str] | None = None) -> dict:
    (args,) = HfArgumentParser(BenchmarkArguments).parse_args_into_dataclasses(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.data_dir or not (Path(args.data_dir) / "train.txt").is_file():
        raise SystemExit(f"no ANERcorp train.txt in {args.data_dir!r}: pass --data-dir or set ANERCORP_DIR")
    train_s = read_sentences(Path(args.data_dir) / "train.txt")
    test_s = read_sentences(Path(args.data_dir) / "test.txt")
    if args.max_train_sentences:
        train_s = train_s[: args.max_train_sentences]
    if args.max_test_sentences:
        test_s = test_s[: args.max_test_sentences]
    logger.info("%d train / %d test sentences, base %s", len(train_s), len(test_s), args.base_model)
    results = {"args": vars(args)}
    if args.only in ("", "hf"):
        scores, seconds = run_hf(args, train_s, test_s)
        results["hf"] = {"scores": scores, "train_seconds": seconds}
    if args.only in ("", "rasd"):
        scores, seconds = run_rasd(args, train_s, test_s)
        results["rasd"] = {"scores": scores, "train_seconds": seconds}
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\nANERcorp test, seqeval strict IOB2 (words), {len(train_s)} train sentences, {args.epochs} epochs")
    names = [n for n in ("hf", "rasd") if n in results]
    print(f"{'':<12}" + "".join(f"{n:>12}" for n in names))
    for key in ["micro avg", "macro avg", *NATIVE_LABELS]:
        print(f"{key:<12}" + "".join(f"{results[n]['scores'].get(key, {}).get('f1', 0.0):>12.4f}" for n in names))
    print(f"{'train s':<12}" + "".join(f"{results[n]['train_seconds']:>12.0f}" for n in names))
    return results


if __name__ == "__main__":
    main()
