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
from rasd.training.augment import augment_corpus
from rasd.training.config import TINY, TrainingConfig
from rasd.training.dataset import RasdCollator, WindowDataset, encode_documents
from rasd.training.evaluate import predict_encoded, score
from rasd.training.metrics import tune_thresholds
from rasd.training.splits import split_corpus
from rasd.training.tiny import build_tiny_model
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import AutoTokenizer, get_linear_schedule_with_warmup

from rasd.corpus import Document, load_documents
from rasd.modeling import RasdMeta, RasdModel
from rasd.schema import ENTITY_LABELS, EVENT_TYPES

logger = logging.getLogger(__name__)



@dataclass
class TrainResult:
    output_dir: Path
    metrics: dict[str, Any]  # {"dev": {...}, "test": {...}}
    facts: dict[str, Any]  # rasd.json "training" block


def library_versions() -> dict[str, str]:
    """Versions recorded in rasd.json (one definition, shared with the model card)."""
    from rasd.training.card import installed_versions

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
    train_docs, dev_docs = resolve_data(cfg, train_docs, dev_docs)
    if test_docs is None and cfg.data.test_files:
        test_docs = load_documents(cfg.data.test_files)
    originals = len(train_docs)
    if cfg.data.augment.enabled:
        train_docs = augment_corpus(train_docs, cfg.data.augment)  # after the split: copies never reach dev
    logger.info("%d train documents (%d augmented), %d dev", len(train_docs), len(train_docs) - originals, len(dev_docs))

    model, tokenizer = build_model(cfg, train_docs)
    if cfg.model.freeze_embeddings:
        logger.info("froze %d embedding parameters", model.freeze_embeddings())
    init_event_bias(model, train_docs)
    label2id = model.config.label2id
    enc_args = (tokenizer, label2id, cfg.data.max_length, cfg.data.stride, cfg.data.normalization, cfg.model.label_all_subwords)
    train_enc = encode_documents(train_docs, *enc_args)
    if cfg.data.real_oversample > 1:
        # Real articles are few and differ from the synthetic ones (page furniture, sparser
        # events): repeating them weights real text without touching the synthetic share.
        real = [e for e in train_enc if not e.doc.synthetic]
        train_enc += real * (cfg.data.real_oversample - 1)
        logger.info("real documents x%d: %d extra copies", cfg.data.real_oversample, len(real) * (cfg.data.real_oversample - 1))
    dev_enc = encode_documents(dev_docs, *enc_args) if dev_docs else []
    dataset = WindowDataset(train_enc, model.event_types)
    if not len(dataset):
        raise ValueError("the training documents produced no tokens (empty texts?)")
    collate = RasdCollator(tokenizer, len(model.event_types))
    loader = DataLoader(dataset, batch_size=t.batch_size, shuffle=True, collate_fn=collate)

    steps_per_epoch = max(1, math.ceil(len(loader) / t.gradient_accumulation_steps))
    total_steps = max(1, math.ceil(t.epochs * steps_per_epoch))
    if t.max_steps:
        total_steps = min(total_steps, t.max_steps)
    optimizer = torch.optim.AdamW(_param_groups(model, cfg))
    scheduler = get_linear_schedule_with_warmup(optimizer, int(t.warmup_ratio * total_steps), total_steps)
    model, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader, scheduler)
    logger.info("%d windows, %d steps (%d per epoch) on %s", len(dataset), total_steps, steps_per_epoch, accelerator.device)

    entity_labels = [t_[2:] for t_ in label2id if t_.startswith("B-")]
    default_thresholds = [0.5] * len(EVENT_TYPES)
    best: dict[str, Any] = {"score": -1.0, "epoch": 0, "state": None, "metrics": None}
    step, epoch, stale = 0, 0, 0
    history: list[dict[str, Any]] = []
    progress = tqdm(total=total_steps, desc="training", disable=not accelerator.is_local_main_process)
    while step < total_steps:
        epoch += 1
        model.train()
        running, batches = 0.0, 0
        for batch in loader:
            with accelerator.accumulate(model):
                loss = model(**batch).loss
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(model.parameters(), t.max_grad_norm)
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
        if dev_enc:
            raw = accelerator.unwrap_model(model)
            preds = predict_encoded(raw, tokenizer, dev_enc, t.eval_batch_size, cfg.model.label_all_subwords)
            m = score(dev_enc, preds, entity_labels, EVENT_TYPES, default_thresholds)
            current = _main_score(m, t.event_loss_weight > 0)
            line |= {"dev_entity_f1": m["entities"]["micro"]["f1"], "dev_event_f1": m["events"]["micro"]["f1"]}
            if current > best["score"]:
                best = {"score": current, "epoch": epoch, "state": copy.deepcopy(raw.state_dict()), "metrics": m}
                stale = 0
            else:
                stale += 1
        history.append(line)
        logger.info(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in line.items()))
        if dev_enc and t.early_stopping_patience and stale >= t.early_stopping_patience:
            logger.info("early stopping: no dev gain for %d epochs (best epoch %d)", stale, best["epoch"])
            break
    progress.close()

    model = accelerator.unwrap_model(model)
    if best["state"] is not None:
        model.load_state_dict(best["state"])
    thresholds = dict(zip(EVENT_TYPES, default_thresholds, strict=True))
    metrics: dict[str, Any] = {}
    if dev_enc:
        preds = predict_encoded(model, tokenizer, dev_enc, t.eval_batch_size, cfg.model.label_all_subwords)
        if t.tune_event_thresholds:
            probs, gold = [], []
            for enc, p in zip(dev_enc, preds, strict=True):
                for i, sent in enumerate(enc.doc.sentences):
                    if i in p.sentence_probs:
                        probs.append(p.sentence_probs[i])
                        gold.append(set(sent.events))
            thresholds = tune_thresholds(probs, gold, EVENT_TYPES)
        metrics["dev"] = score(dev_enc, preds, entity_labels, EVENT_TYPES, [thresholds[e] for e in EVENT_TYPES])
    if test_docs:
        test_enc = encode_documents(test_docs, *enc_args)
        preds = predict_encoded(model, tokenizer, test_enc, t.eval_batch_size, cfg.model.label_all_subwords)
        metrics["test"] = score(test_enc, preds, entity_labels, EVENT_TYPES, [thresholds[e] for e in EVENT_TYPES])

    facts = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "base_model": cfg.model.base_model,
        "data": corpus_facts(train_docs)
        | {
            "files": list(cfg.data.train_files),
            "tokens": sum(len(e.tokens.input_ids) for e in train_enc),
            "windows": len(dataset),
            "augmented_documents": len(train_docs) - originals,
            "splits": {"train": originals, "dev": len(dev_docs), "test": len(test_docs or [])},
            "alignment_issues": sum(len(e.issues) for e in train_enc),
        },
        "hyperparameters": asdict(t) | {"max_length": cfg.data.max_length, "stride": cfg.data.stride},
        "dev_metrics": _summary(metrics.get("dev")),
        "test_metrics": _summary(metrics.get("test")),
        "epochs_run": epoch,
        "best_epoch": best["epoch"] or epoch,
        "steps": step,
        "history": history,
        "hardware": hardware(accelerator),
        "training_time_s": round(time.time() - started, 1),
        "versions": library_versions(),
    }
    out = Path(t.output_dir)
    if accelerator.is_main_process:
        save(model, tokenizer, cfg, metrics, facts, thresholds, out)
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


def save(
    model: RasdModel,
    tokenizer: Any,
    cfg: TrainingConfig,
    metrics: dict[str, Any],
    facts: dict[str, Any],
    thresholds: dict[str, float],
    out: Path,
) -> None:
    """Write the model folder, metrics.json, training_config.yaml, and the model card when available."""
    meta = RasdMeta(
        event_thresholds=thresholds,
        normalization=asdict(cfg.data.normalization),
        max_length=cfg.data.max_length,
        stride=cfg.data.stride,
        label_all_subwords=cfg.model.label_all_subwords,
        base_model=cfg.model.base_model,
        training=facts,
    )
    model.save_pretrained(out, tokenizer, meta)
    (out / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (out / "training_config.yaml").write_text(cfg.to_yaml(), encoding="utf-8")
    try:
        from rasd.training.card import write_model_card
    except ImportError:
        return
    try:
        write_model_card(out)
    except Exception:  # the card is documentation: never lose a trained model over it
        logger.exception("could not write the model card")
