"""Evaluate a model on annotated documents (``rasd evaluate``, training's dev and test scores, CV).

Every figure is scored on what :class:`rasd.inference.Tagger` returns — its windows, its decoder
(:mod:`rasd.inference.decode`), its event thresholds — so the numbers in ``metrics.json``, the
model card and the README are the numbers users get. Documents are tagged with their gold
sentences (``sentences`` input of the Tagger) so sentence events line up with the gold ones.

Scoring is two steps: :func:`tag_documents` (model → tagged documents, every event type's
probability kept) and :func:`score_tagged` (tagged vs gold, at given thresholds), so threshold
tuning re-decides events without tagging twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from rasd.corpus import Document, Span, load_documents
from rasd.inference.loading import default_device
from rasd.inference.tagger import Tagger
from rasd.inference.types import TaggedDocument
from rasd.modeling import RasdMeta, RasdModel
from rasd.text import sentence_bounds
from rasd.training.alignment import align_spans
from rasd.training.metrics import error_summary, event_metrics, seqeval_metrics, span_metrics
from rasd.windows import tokenize_document

SentenceProbs = dict[tuple[int, int], dict[str, float]]


def tag_documents(
    model: RasdModel, tokenizer: Any, meta: RasdMeta, docs: Sequence[Document], batch_size: int = 32
) -> list[TaggedDocument]:
    """Tag ``docs`` (their text and gold sentences) with the Tagger, every event type reported
    with its probability (thresholds 0; :func:`score_tagged` applies the real ones).

    The model's train/eval mode is restored afterwards (dev scoring happens mid-training).
    """
    was_training = model.training
    device = next(model.parameters()).device
    tagger = Tagger(model, tokenizer, meta, device=device, thresholds=dict.fromkeys(meta.event_types, 0.0))
    items = [
        {"id": d.id, "text": d.text, "sentences": [(s.start, s.end) for s in d.sentences] or None} for d in docs
    ]
    try:
        return tagger.tag(items, batch_size=batch_size)
    finally:
        model.train(was_training)


def sentence_probs(tagged: TaggedDocument) -> SentenceProbs:
    """``(start, end)`` of each tagged sentence → event type → probability."""
    return {(s.start, s.end): {e.label: e.score for e in s.events} for s in tagged.sentences}


def _token_tags(doc: Document, tagged: TaggedDocument, tokenizer: Any, meta: RasdMeta) -> tuple[list[list[str]], list[list[str]]]:
    """Gold and predicted IOB2 tags per sentence over the model's tokens, for seqeval. With
    first-sub-word models only each word's first token is scored, as in training."""
    bounds = sentence_bounds(doc.text, doc.sentences or None)
    tokens = tokenize_document(tokenizer, doc.text, bounds, meta.normalization_options())
    labels = set(meta.entity_labels)
    gold, _ = align_spans(tokens.offsets, [s for s in doc.entities if s.label in labels])
    pred, _ = align_spans(tokens.offsets, [Span(e.start, e.end, e.label) for e in tagged.entities])
    by_sentence: dict[int, list[int]] = {}
    for pos, s in enumerate(tokens.sentence_index):
        first = pos == 0 or tokens.word_ids[pos] < 0 or tokens.word_ids[pos] != tokens.word_ids[pos - 1]
        if s >= 0 and (meta.label_all_subwords or first):
            by_sentence.setdefault(s, []).append(pos)
    return [[gold[p] for p in ps] for ps in by_sentence.values()], [[pred[p] for p in ps] for ps in by_sentence.values()]


def score_tagged(
    docs: Sequence[Document],
    tagged: Sequence[TaggedDocument],
    tokenizer: Any,
    meta: RasdMeta,
    thresholds: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """All metrics for Tagger output against the gold annotations (see :mod:`rasd.training.metrics`).

    Entities: exact character spans of ``tagged``; sentence events: types whose probability
    reaches ``thresholds`` (default: the model's saved ones); seqeval: the spans re-aligned to tokens.
    """
    cut = dict(zip(meta.event_types, meta.thresholds(), strict=True)) | dict(thresholds or {})
    labels = set(meta.entity_labels)
    gold_seqs, pred_seqs, gold_spans, pred_spans, texts = [], [], [], [], []
    gold_sent, pred_sent, gold_doc, pred_doc = [], [], [], []
    for doc, out in zip(docs, tagged, strict=True):
        gold_spans.append({(s.start, s.end, s.label) for s in doc.entities if s.label in labels})
        pred_spans.append({(e.start, e.end, e.label) for e in out.entities})
        texts.append(doc.text)
        g_seq, p_seq = _token_tags(doc, out, tokenizer, meta)
        gold_seqs += g_seq
        pred_seqs += p_seq
        probs = sentence_probs(out)
        doc_gold, doc_pred = set(), set()
        for sent in doc.sentences:
            g = {e for e in sent.events if e in cut}
            p = {t for t, pr in probs.get((sent.start, sent.end), {}).items() if pr >= cut[t]}
            gold_sent.append(g)
            pred_sent.append(p)
            doc_gold |= g
            doc_pred |= p
        gold_doc.append(doc_gold)
        pred_doc.append(doc_pred)
    entities = span_metrics(gold_spans, pred_spans, meta.entity_labels)
    entities["seqeval"] = seqeval_metrics(gold_seqs, pred_seqs)
    events = event_metrics(gold_sent, pred_sent, meta.event_types)
    events["document"] = event_metrics(gold_doc, pred_doc, meta.event_types)
    return {
        "documents": len(docs),
        "sentences": len(gold_sent),
        "entities": entities,
        "events": events,
        "errors": error_summary(gold_spans, pred_spans, gold_sent, pred_sent, texts),
    }


def evaluate_documents(
    model: RasdModel,
    tokenizer: Any,
    meta: RasdMeta,
    docs: Sequence[Document],
    batch_size: int = 32,
    thresholds: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """Tag ``docs`` with the Tagger and score the output (``thresholds``: default the saved ones)."""
    return score_tagged(docs, tag_documents(model, tokenizer, meta, docs, batch_size), tokenizer, meta, thresholds)


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
    model, tokenizer, meta = RasdModel.from_pretrained(model_dir, device=torch.device(default_device()))
    docs = load_documents(list(data))
    metrics = evaluate_documents(model, tokenizer, meta, docs, batch_size)
    if output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(json.dumps(metrics, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return metrics
