"""Evaluate a model on annotated documents (``rasd evaluate``), also used for dev scores in training.

Decoding here is deliberately minimal — argmax tag per owned token, IOB2 → character
spans, the guidelines' proclitic trim, a fixed threshold per event type — so training does not depend on
``inference/`` (layers stay one-way). The tagger has its own, richer decoding.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from rasd.training.dataset import EncodedDocument, RasdCollator, encode_documents, window_features
from rasd.training.metrics import error_summary, event_metrics, seqeval_metrics, span_metrics

from rasd.corpus import Document, Span, load_documents
from rasd.modeling import RasdMeta, RasdModel
from rasd.text import proclitic_length

logger = logging.getLogger(__name__)


@dataclass
class DocumentPrediction:
    """Model output for one document: a tag per document token and event probabilities per sentence."""

    tags: list[str]
    sentence_probs: dict[int, list[float]]  # document sentence index → probability per event type


def bio_to_spans(tags: Sequence[str], offsets: Sequence[tuple[int, int]]) -> list[Span]:
    """IOB2 tags over tokens → character spans (``I-X`` after ``O`` or another label starts a span)."""
    spans: list[Span] = []
    label, start, end = None, 0, 0
    for tag, (s, e) in zip(tags, offsets, strict=True):
        prefix, _, name = tag.partition("-")
        if prefix == "I" and name == label:
            end = e
            continue
        if label is not None:
            spans.append(Span(start, end, label))
            label = None
        if prefix in ("B", "I"):
            label, start, end = name, s, e
    if label is not None:
        spans.append(Span(start, end, label))
    return spans


def trim_proclitics(spans: Sequence[Span], text: str) -> list[Span]:
    """Move a span's start past a proclitic (و ف ب ك ل) when the span starts at a word start.

    Tokens like «والق» carry و into a predicted span; the guidelines keep it outside.
    """
    out = []
    for span in spans:
        start = span.start
        if start == 0 or not text[start - 1].isalpha():
            word_end = start
            while word_end < span.end and not text[word_end].isspace():
                word_end += 1
            start += proclitic_length(text[start:word_end])
        out.append(Span(start, span.end, span.label) if start < span.end else span)
    return out


def _first_subword_tags(tags: list[str], word_ids: Sequence[int]) -> list[str]:
    """Continuation sub-words follow their word's first token (models trained with first-sub-word labels)."""
    out = list(tags)
    for i in range(1, len(out)):
        if word_ids[i] >= 0 and word_ids[i] == word_ids[i - 1] and not out[i].startswith("B-"):
            prev = out[i - 1]
            out[i] = "O" if prev == "O" else "I-" + prev[2:]
    return out


@torch.no_grad()
def predict_encoded(
    model: RasdModel,
    tokenizer: Any,
    encoded: Sequence[EncodedDocument],
    batch_size: int = 32,
    label_all_subwords: bool = True,
    device: torch.device | str | None = None,
) -> list[DocumentPrediction]:
    """Run the model over every window; keep each token's prediction from the window that owns it."""
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    id2label = model.config.id2label
    collate = RasdCollator(tokenizer, len(model.event_types))
    items = [(d, w) for d, enc in enumerate(encoded) for w in enc.windows]
    preds = [DocumentPrediction(["O"] * len(enc.tokens.input_ids), {}) for enc in encoded]
    for i in range(0, len(items), batch_size):
        chunk = items[i : i + batch_size]
        feats = [window_features(encoded[d], w, model.event_types) for d, w in chunk]
        for f in feats:
            del f["labels"]
        batch = collate(feats)
        out = model(
            input_ids=batch["input_ids"].to(device),
            attention_mask=batch["attention_mask"].to(device),
            sentence_ids=batch["sentence_ids"].to(device),
            event_labels=batch["event_labels"].to(device),
        )
        tag_ids = out.token_logits.argmax(-1).cpu().tolist()
        probs = torch.sigmoid(out.event_logits.float()).cpu().tolist()
        row = 0
        for (d, w), ids in zip(chunk, tag_ids, strict=True):
            pred = preds[d]
            for j, (pos, owned) in enumerate(zip(w.positions, w.owned, strict=True)):
                if owned:
                    pred.tags[pos] = id2label[ids[j]]
            for s in w.sentences:
                old = pred.sentence_probs.get(s)
                # A sentence cut into chunks reports an event if any chunk does.
                pred.sentence_probs[s] = probs[row] if old is None else [max(a, b) for a, b in zip(old, probs[row], strict=True)]
                row += 1
    if not label_all_subwords:
        for enc, pred in zip(encoded, preds, strict=True):
            pred.tags = _first_subword_tags(pred.tags, enc.tokens.word_ids)
    model.train(was_training)
    return preds


def score(
    encoded: Sequence[EncodedDocument],
    preds: Sequence[DocumentPrediction],
    entity_labels: Sequence[str],
    event_types: Sequence[str],
    thresholds: Sequence[float],
) -> dict[str, Any]:
    """All metrics for predictions against the gold annotations (see :mod:`training.metrics`)."""
    gold_seqs, pred_seqs = [], []
    gold_spans, pred_spans, texts = [], [], []
    gold_sent, pred_sent, gold_doc, pred_doc = [], [], [], []
    for enc, pred in zip(encoded, preds, strict=True):
        by_sentence: dict[int, list[int]] = {}
        for pos, s in enumerate(enc.tokens.sentence_index):
            by_sentence.setdefault(s, []).append(pos)
        for positions in by_sentence.values():
            # Tokens ignored in training (-100: continuation sub-words) are not scored at token level.
            keep = [p for p in positions if enc.label_ids[p] != -100]
            gold_seqs.append([enc.tags[p] for p in keep])
            pred_seqs.append([pred.tags[p] for p in keep])
        labels = set(entity_labels)
        gold_spans.append({(s.start, s.end, s.label) for s in enc.doc.entities if s.label in labels})
        spans = trim_proclitics(bio_to_spans(pred.tags, enc.tokens.offsets), enc.doc.text)
        pred_spans.append({(s.start, s.end, s.label) for s in spans})
        texts.append(enc.doc.text)
        doc_gold, doc_pred = set(), set()
        for i, sent in enumerate(enc.doc.sentences):
            g = {e for e in sent.events if e in event_types}
            probs = pred.sentence_probs.get(i)
            p = {t for t, pr, th in zip(event_types, probs, thresholds, strict=True) if pr >= th} if probs else set()
            gold_sent.append(g)
            pred_sent.append(p)
            doc_gold |= g
            doc_pred |= p
        gold_doc.append(doc_gold)
        pred_doc.append(doc_pred)
    entities = span_metrics(gold_spans, pred_spans, entity_labels)
    entities["seqeval"] = seqeval_metrics(gold_seqs, pred_seqs)
    events = event_metrics(gold_sent, pred_sent, event_types)
    events["document"] = event_metrics(gold_doc, pred_doc, event_types)
    return {
        "documents": len(encoded),
        "sentences": len(gold_sent),
        "entities": entities,
        "events": events,
        "errors": error_summary(gold_spans, pred_spans, gold_sent, pred_sent, texts),
    }


def evaluate_documents(
    model: RasdModel, tokenizer: Any, meta: RasdMeta, docs: Sequence[Document], batch_size: int = 32
) -> dict[str, Any]:
    """Encode ``docs`` the way ``meta`` says, predict, and score."""
    encoded = encode_documents(
        docs,
        tokenizer,
        model.config.label2id,
        meta.max_length,
        meta.stride,
        meta.normalization_options(),
        meta.label_all_subwords,
    )
    preds = predict_encoded(model, tokenizer, encoded, batch_size, meta.label_all_subwords)
    return score(encoded, preds, meta.entity_labels, meta.event_types, meta.thresholds())


def format_table(metrics: dict[str, Any]) -> str:
    """A readable plain-text table of the main scores."""

    def row(name: str, s: dict[str, Any]) -> str:
        return f"{name:<22}{s['precision']:>8.3f}{s['recall']:>8.3f}{s['f1']:>8.3f}{s['support']:>9}"

    head = f"{'':<22}{'P':>8}{'R':>8}{'F1':>8}{'support':>9}"
    ents, evs = metrics["entities"], metrics["events"]
    lines = [f"{metrics.get('documents', '?')} documents, {metrics.get('sentences', '?')} sentences", "", "Entities (exact character spans)", head]
    lines += [row(label, s) for label, s in ents["per_label"].items()]
    lines += [row("micro", ents["micro"]), row("macro", ents["macro"]), row("seqeval token micro", ents["seqeval"]["micro"])]
    lines += ["", "Events (sentence level)", head]
    lines += [row(t, s) for t, s in evs["per_type"].items()]
    lines += [row("micro", evs["micro"]), row("macro", evs["macro"]), row("document micro", evs["document"]["micro"])]
    errors = metrics.get("errors", {}).get("entities", [])
    if errors:
        lines += ["", "Most frequent entity errors"]
        lines += [f"  {e['count']:>4}  {e['kind']:<19} gold={e['gold']:<9} pred={e['pred']:<9} «{e['example']}»" for e in errors]
    return "\n".join(lines)


def run_evaluate(model_dir: str | Path, data: Sequence[str | Path], output: str | Path | None = None, batch_size: int = 32) -> dict[str, Any]:
    """``rasd evaluate``: load a model folder, score it on corpus files, optionally write JSON."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model, tokenizer, meta = RasdModel.from_pretrained(model_dir, device=device)
    docs = load_documents(list(data))
    metrics = evaluate_documents(model, tokenizer, meta, docs, batch_size)
    if output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(json.dumps(metrics, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return metrics
