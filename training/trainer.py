"""The training loop: one encoder, two heads, :class:`accelerate.Accelerator` for devices and precision.

Runs as is on CPU and under ``accelerate launch`` on GPUs (``mixed_precision``
fp16/bf16). AdamW with separate learning rates for the encoder and the heads,
linear warm-up then decay, gradient accumulation, early stopping on dev F1
(entities, averaged with events when events are trained; the best epoch is kept),
per-type event thresholds tuned on dev. The saved folder follows docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
import math
import platform
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import AutoTokenizer, get_linear_schedule_with_warmup

from rasd.corpus import Document, load_documents
from rasd.modeling import RasdMeta, RasdModel
from rasd.schema import ENTITY_LABELS, EVENT_TYPES
from rasd.training.augment import augment_corpus
from rasd.training.config import TINY, TrainingConfig
from rasd.training.dataset import EncodedDocument, RasdCollator, WindowDataset, encode_documents
from rasd.training.evaluate import evaluate_documents, score_tagged, sentence_probs, tag_documents
from rasd.training.metrics import tune_thresholds
from rasd.training.splits import split_corpus
from rasd.training.tiny import build_tiny_model

logger = logging.getLogger(__name__)



@dataclass
class TrainResult:
    output_dir: Path
    metrics: dict[str, Any]  # {"dev": {...}, "test": {...}}
    facts: dict[str, Any]  # rasd.json "training" block


def library_versions() -> dict[str, str]:
    """Versions recorded in rasd.json (one definition, shared with the model card)."""
    from rasd.training.card_facts import installed_versions

    return installed_versions()


def hardware(accelerator: Accelerator) -> dict[str, Any]:
    info: dict[str, Any] = {"device": str(accelerator.device), "processes": accelerator.num_processes}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    info["cpu"] = platform.processor() or platform.machine()
    info["torch_threads"] = torch.get_num_threads()
    return info


def corpus_facts(docs: Sequence[Document]) -> dict[str, Any]:
    """Counts the model card reports: documents, sentences, labels, event types, synthetic share."""
    labels = Counter(s.label for d in docs for s in d.entities)
    events = Counter(e for d in docs for s in d.sentences for e in s.events)
    return {
        "documents": len(docs),
        "sentences": sum(len(d.sentences) for d in docs),
        "label_counts": {k: labels.get(k, 0) for k in sorted(labels, key=lambda x: (-labels[x], x))},
        "event_counts": {k: events.get(k, 0) for k in sorted(events, key=lambda x: (-events[x], x))},
        "synthetic_share": (sum(d.synthetic for d in docs) / len(docs)) if docs else 0.0,
        "sources": sorted({d.source for d in docs if d.source}),
    }


def _param_groups(model: RasdModel, cfg: TrainingConfig) -> list[dict[str, Any]]:
    """Encoder vs heads (different LR); no weight decay on biases and LayerNorm weights."""
    prefix = f"token_model.{model.token_model.base_model_prefix}."
    groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        encoder = name.startswith(prefix)
        no_decay = p.ndim < 2 or "LayerNorm" in name or "layer_norm" in name
        groups.setdefault((encoder, no_decay), []).append(p)
    t = cfg.training
    return [
        {"params": ps, "lr": t.encoder_lr if enc else t.head_lr, "weight_decay": 0.0 if nd else t.weight_decay}
        for (enc, nd), ps in groups.items()
    ]


def _main_score(metrics: dict[str, Any], events_trained: bool) -> float:
    """Dev selection score: entity span micro F1, averaged with event micro F1 when events are trained.

    Entities alone would stop training before the event head (which starts from nothing and
    sees one example per sentence, not per token) has learned anything.
    """
    ents, evs = metrics["entities"]["micro"], metrics["events"]["micro"]
    scores = ([ents["f1"]] if ents["support"] else []) + ([evs["f1"]] if events_trained and evs["support"] else [])
    return sum(scores) / len(scores) if scores else 0.0


def build_model(cfg: TrainingConfig, train_docs: Sequence[Document]) -> tuple[RasdModel, Any]:
    """The starting model and tokenizer: tiny (in-process) or a pretrained encoder."""
    m = cfg.model
    labels = tuple(m.entity_labels) or ENTITY_LABELS
    kwargs = {
        "event_types": EVENT_TYPES,
        "event_hidden_size": m.event_hidden_size or None,
        "event_dropout": m.event_dropout,
        "event_pooling": m.event_pooling,
        "token_loss_weight": cfg.training.token_loss_weight,
        "event_loss_weight": cfg.training.event_loss_weight,
    }
    if m.base_model == TINY:
        t = m.tiny
        return build_tiny_model(
            train_docs, t.vocab_size, t.hidden_size, t.num_layers, t.num_heads, labels, cfg.data.normalization, **kwargs
        )
    if not m.base_model:
        raise ValueError("model.base_model is empty: pass --base-model ID_OR_PATH")
    tokenizer = AutoTokenizer.from_pretrained(m.base_model)
    return RasdModel.from_base(m.base_model, labels, **kwargs), tokenizer


def init_event_bias(model: RasdModel, docs: Sequence[Document]) -> None:
    """Start each event type's output bias at the log-odds of its training frequency.

    With a zero bias the head first spends its updates learning that most sentences carry
    no event; starting at the prior it goes straight to telling them apart.
    """
    sentences = [set(s.events) for d in docs for s in d.sentences]
    if not sentences:
        return
    rates = torch.tensor([sum(t in s for s in sentences) / len(sentences) for t in model.event_types])
    rates = rates.clamp(1e-3, 0.5)  # types never seen: a small prior, not -inf; frequent ones: no push up
    with torch.no_grad():
        model.event_head.out.bias.copy_(torch.log(rates / (1 - rates)))


def resolve_data(
    cfg: TrainingConfig, train_docs: Sequence[Document] | None = None, dev_docs: Sequence[Document] | None = None
) -> tuple[list[Document], list[Document]]:
    """Train and dev documents: given, read from the configured files, or split off train."""
    d = cfg.data
    train = list(train_docs) if train_docs is not None else load_documents(d.train_files)
    if not train:
        raise ValueError("no training documents (set data.train_files)")
    if dev_docs is not None:
        dev = list(dev_docs)
    elif d.dev_files:
        dev = load_documents(d.dev_files)
    elif d.dev_fraction > 0:
        train, dev = split_corpus(train, d.dev_fraction, cfg.training.seed)
    else:
        dev = []
    return train, dev


@dataclass
class TrainingData:
    """What one run trains and scores on."""

    train: list[Document]  # after augmentation
    dev: list[Document]
    test: list[Document]
    originals: int  # training documents before augmentation


def prepare_data(
    cfg: TrainingConfig,
    train_docs: Sequence[Document] | None = None,
    dev_docs: Sequence[Document] | None = None,
    test_docs: Sequence[Document] | None = None,
) -> TrainingData:
    """Resolve the splits (:func:`resolve_data`), read test files, augment the training split."""
    train, dev = resolve_data(cfg, train_docs, dev_docs)
    if test_docs is None:
        test_docs = load_documents(cfg.data.test_files) if cfg.data.test_files else []
    originals = len(train)
    if cfg.data.augment.enabled:
        train = augment_corpus(train, cfg.data.augment)  # after the split: copies never reach dev
    logger.info("%d train documents (%d augmented), %d dev, %d test", len(train), len(train) - originals, len(dev), len(test_docs))
    return TrainingData(train, dev, list(test_docs), originals)


def encode_training_set(cfg: TrainingConfig, docs: Sequence[Document], tokenizer: Any, model: RasdModel) -> list[EncodedDocument]:
    """Training documents as windows with targets; real articles repeated ``data.real_oversample`` times."""
    d = cfg.data
    encoded = encode_documents(docs, tokenizer, model.config.label2id, d.max_length, d.stride, d.normalization, cfg.model.label_all_subwords)
    if d.real_oversample > 1:
        # Real articles are few and differ from the synthetic ones (page furniture, sparser
        # events): repeating them weights real text without touching the synthetic share.
        real = [e for e in encoded if not e.doc.synthetic]
        encoded += real * (d.real_oversample - 1)
        logger.info("real documents x%d: %d extra copies", d.real_oversample, len(real) * (d.real_oversample - 1))
    return encoded


def model_meta(
    cfg: TrainingConfig, model: RasdModel, thresholds: dict[str, float] | None = None, facts: dict[str, Any] | None = None
) -> RasdMeta:
    """The ``rasd.json`` of a model trained by ``cfg``: what the Tagger needs to run it."""
    return RasdMeta(
        entity_labels=[t[2:] for t in model.config.id2label.values() if t.startswith("B-")],
        event_types=list(model.event_types),
        event_thresholds=dict(thresholds or {}),
        normalization=asdict(cfg.data.normalization),
        max_length=cfg.data.max_length,
        stride=cfg.data.stride,
        label_all_subwords=cfg.model.label_all_subwords,
        event_head=model.event_head.config(),
        base_model=cfg.model.base_model,
        training=dict(facts or {}),
    )


@dataclass
class FitResult:
    """The training loop's outcome; the best epoch's weights are loaded back into the model."""

    epochs: int
    steps: int
    best_epoch: int
    history: list[dict[str, Any]]


def fit(
    cfg: TrainingConfig,
    accelerator: Accelerator,
    model: RasdModel,
    tokenizer: Any,
    dataset: WindowDataset,
    dev_docs: Sequence[Document],
) -> FitResult:
    """AdamW, linear warm-up/decay, accumulation; per epoch, dev scored through the Tagger at 0.5
    thresholds, early stopping on :func:`_main_score`, and the best epoch's weights kept."""
    t = cfg.training
    loader = DataLoader(dataset, batch_size=t.batch_size, shuffle=True, collate_fn=RasdCollator(tokenizer, len(model.event_types)))
    steps_per_epoch = max(1, math.ceil(len(loader) / t.gradient_accumulation_steps))
    total_steps = max(1, math.ceil(t.epochs * steps_per_epoch))
    if t.max_steps:
        total_steps = min(total_steps, t.max_steps)
    optimizer = torch.optim.AdamW(_param_groups(model, cfg))
    scheduler = get_linear_schedule_with_warmup(optimizer, int(t.warmup_ratio * total_steps), total_steps)
    wrapped, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader, scheduler)
    logger.info("%d windows, %d steps (%d per epoch) on %s", len(dataset), total_steps, steps_per_epoch, accelerator.device)

    dev_meta = model_meta(cfg, model, dict.fromkeys(model.event_types, 0.5))
    best: dict[str, Any] = {"score": -1.0, "epoch": 0, "state": None}
    step, epoch, stale = 0, 0, 0
    history: list[dict[str, Any]] = []
    progress = tqdm(total=total_steps, desc="training", disable=not accelerator.is_local_main_process)
    while step < total_steps:
        epoch += 1
        wrapped.train()
        running, batches = 0.0, 0
        for batch in loader:
            with accelerator.accumulate(wrapped):
                loss = wrapped(**batch).loss
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(wrapped.parameters(), t.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
            running += loss.item()
            batches += 1
            if accelerator.sync_gradients:
                step += 1
                progress.update(1)
                if step >= total_steps:
                    break
        line = {"epoch": epoch, "step": step, "loss": running / max(1, batches)}
        if dev_docs:
            raw = accelerator.unwrap_model(wrapped)
            m = evaluate_documents(raw, tokenizer, dev_meta, dev_docs, t.eval_batch_size)
            line |= {"dev_entity_f1": m["entities"]["micro"]["f1"], "dev_event_f1": m["events"]["micro"]["f1"]}
            current = _main_score(m, t.event_loss_weight > 0)
            if current > best["score"]:
                best = {"score": current, "epoch": epoch, "state": copy.deepcopy(raw.state_dict())}
                stale = 0
            else:
                stale += 1
        history.append(line)
        logger.info(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in line.items()))
        if dev_docs and t.early_stopping_patience and stale >= t.early_stopping_patience:
            logger.info("early stopping: no dev gain for %d epochs (best epoch %d)", stale, best["epoch"])
            break
    progress.close()
    if best["state"] is not None:
        accelerator.unwrap_model(wrapped).load_state_dict(best["state"])
    return FitResult(epoch, step, best["epoch"] or epoch, history)


def final_scores(
    cfg: TrainingConfig, model: RasdModel, tokenizer: Any, data: TrainingData
) -> tuple[dict[str, Any], dict[str, float]]:
    """Dev and test metrics of the trained model through the Tagger, and the event thresholds
    (tuned on dev sentence probabilities when configured, else 0.5)."""
    t = cfg.training
    thresholds = dict.fromkeys(model.event_types, 0.5)
    meta = model_meta(cfg, model, thresholds)
    metrics: dict[str, Any] = {}
    if data.dev:
        tagged = tag_documents(model, tokenizer, meta, data.dev, t.eval_batch_size)
        if t.tune_event_thresholds:
            probs, gold = [], []
            for doc, out in zip(data.dev, tagged, strict=True):
                by_bounds = sentence_probs(out)
                for sent in doc.sentences:
                    if (sent.start, sent.end) in by_bounds:
                        p = by_bounds[(sent.start, sent.end)]
                        probs.append([p.get(e, 0.0) for e in model.event_types])
                        gold.append(set(sent.events))
            thresholds = tune_thresholds(probs, gold, model.event_types)
        metrics["dev"] = score_tagged(data.dev, tagged, tokenizer, meta, thresholds)
    if data.test:
        metrics["test"] = evaluate_documents(model, tokenizer, meta, data.test, t.eval_batch_size, thresholds)
    return metrics, thresholds


def train(
    cfg: TrainingConfig,
    train_docs: Sequence[Document] | None = None,
    dev_docs: Sequence[Document] | None = None,
    test_docs: Sequence[Document] | None = None,
) -> TrainResult:
    """Train a model as ``cfg`` says and save it to ``cfg.training.output_dir``.

    Documents may be passed directly (cross-validation, benchmarks); otherwise they are
    read from ``cfg.data`` files.
    """
    t = cfg.training
    started = time.time()
    set_seed(t.seed)
    accelerator = Accelerator(mixed_precision=t.mixed_precision, gradient_accumulation_steps=t.gradient_accumulation_steps)
    data = prepare_data(cfg, train_docs, dev_docs, test_docs)
    model, tokenizer = build_model(cfg, data.train)
    if cfg.model.freeze_embeddings:
        logger.info("froze %d embedding parameters", model.freeze_embeddings())
    init_event_bias(model, data.train)
    train_enc = encode_training_set(cfg, data.train, tokenizer, model)
    dataset = WindowDataset(train_enc, model.event_types)
    if not len(dataset):
        raise ValueError("the training documents produced no tokens (empty texts?)")
    run = fit(cfg, accelerator, model, tokenizer, dataset, data.dev)
    metrics, thresholds = final_scores(cfg, model, tokenizer, data)
    facts = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "base_model": cfg.model.base_model,
        "data": corpus_facts(data.train)
        | {
            "files": list(cfg.data.train_files),
            "tokens": sum(len(e.tokens.input_ids) for e in train_enc),
            "windows": len(dataset),
            "augmented_documents": len(data.train) - data.originals,
            "splits": {"train": data.originals, "dev": len(data.dev), "test": len(data.test)},
            "alignment_issues": sum(len(e.issues) for e in train_enc),
        },
        "hyperparameters": asdict(t) | {"max_length": cfg.data.max_length, "stride": cfg.data.stride},
        "dev_metrics": _summary(metrics.get("dev")),
        "test_metrics": _summary(metrics.get("test")),
        "epochs_run": run.epochs,
        "best_epoch": run.best_epoch,
        "steps": run.steps,
        "history": run.history,
        "hardware": hardware(accelerator),
        "training_time_s": round(time.time() - started, 1),
        "versions": library_versions(),
    }
    out = Path(t.output_dir)
    if accelerator.is_main_process:
        save(model, tokenizer, cfg, metrics, model_meta(cfg, model, thresholds, facts), out)
    accelerator.wait_for_everyone()
    logger.info("saved %s in %.0f s", out, facts["training_time_s"])
    return TrainResult(out, metrics, facts)


def _summary(m: dict[str, Any] | None) -> dict[str, float] | None:
    if not m:
        return None
    return {
        "entity_f1": m["entities"]["micro"]["f1"],
        "entity_macro_f1": m["entities"]["macro"]["f1"],
        "entity_seqeval_f1": m["entities"]["seqeval"]["micro"]["f1"],
        "event_f1": m["events"]["micro"]["f1"],
        "event_macro_f1": m["events"]["macro"]["f1"],
        "event_document_f1": m["events"]["document"]["micro"]["f1"],
    }


def save(model: RasdModel, tokenizer: Any, cfg: TrainingConfig, metrics: dict[str, Any], meta: RasdMeta, out: Path) -> None:
    """Write the model folder, metrics.json, training_config.yaml, and the model card when available."""
    model.save_pretrained(out, tokenizer, meta)
    (out / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (out / "training_config.yaml").write_text(cfg.to_yaml(), encoding="utf-8")
    from jinja2 import TemplateError

    from rasd.training.card import write_model_card

    try:
        write_model_card(out)
    except (OSError, TemplateError):  # the model is saved; a card that cannot be written is reported, not fatal
        logger.exception("could not write the model card")
