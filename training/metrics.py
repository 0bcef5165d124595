"""Entity and event metrics, and a summary of the most frequent errors.

* entities, token level: seqeval in strict IOB2 mode over per-sentence tag sequences
  (comparable with published NER figures);
* entities, character spans: exact ``(start, end, label)`` match — what the product outputs;
* events: per type P/R/F1, micro and macro, per sentence and per document
  (a document's events are the union of its sentences').

Result shape (``metrics.json``, read by the model card)::

    {"entities": {"micro": {...}, "macro": {...}, "seqeval": {...}, "per_label": {LABEL: {...}}},
     "events": {"micro": {...}, "macro": {...}, "per_type": {...}, "document": {...}},
     "errors": {...}}

with each score ``{"precision", "recall", "f1", "support"}``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from seqeval.metrics import classification_report
from seqeval.scheme import IOB2

SpanKey = tuple[int, int, str]  # (start, end, label)


def prf(tp: int, fp: int, fn: int) -> dict[str, float | int]:
    """Precision, recall, F1 from counts (0 when undefined); support = tp + fn."""
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f, "support": tp + fn}


def _aggregate(counts: dict[str, list[int]]) -> dict[str, Any]:
    per = {name: prf(*c) for name, c in counts.items()}
    tp, fp, fn = (sum(c[i] for c in counts.values()) for i in range(3))
    # Macro over names with gold or predicted instances (names never seen say nothing).
    seen = [per[n] for n, c in counts.items() if c[0] + c[1] + c[2]]
    macro = {
        k: (sum(s[k] for s in seen) / len(seen) if seen else 0.0) for k in ("precision", "recall", "f1")
    } | {"support": tp + fn}
    return {"micro": prf(tp, fp, fn), "macro": macro, "per": per}


def span_metrics(
    gold: Sequence[set[SpanKey]], pred: Sequence[set[SpanKey]], labels: Sequence[str]
) -> dict[str, Any]:
    """Exact character-span match, per document lists of ``(start, end, label)`` sets."""
    counts = {label: [0, 0, 0] for label in labels}
    for g, p in zip(gold, pred, strict=True):
        for s in g | p:
            c = counts.setdefault(s[2], [0, 0, 0])
            c[0 if (s in g and s in p) else 1 if s in p else 2] += 1
    agg = _aggregate(counts)
    return {"micro": agg["micro"], "macro": agg["macro"], "per_label": agg["per"]}


def seqeval_metrics(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Token-level entity P/R/F1 with seqeval (strict IOB2), micro, macro and per label."""
    if not any(gold) and not any(pred):
        return {"micro": prf(0, 0, 0), "macro": prf(0, 0, 0), "per_label": {}}
    report = classification_report(
        [list(s) for s in gold], [list(s) for s in pred], mode="strict", scheme=IOB2, output_dict=True, zero_division=0
    )

    def score(d: dict[str, Any]) -> dict[str, float | int]:
        return {"precision": float(d["precision"]), "recall": float(d["recall"]), "f1": float(d["f1-score"]), "support": int(d["support"])}

    per = {k: score(v) for k, v in report.items() if not k.endswith(" avg")}
    return {"micro": score(report["micro avg"]), "macro": score(report["macro avg"]), "per_label": per}


def event_metrics(gold: Sequence[set[str]], pred: Sequence[set[str]], types: Sequence[str]) -> dict[str, Any]:
    """Multi-label P/R/F1 per type over aligned units (sentences or documents)."""
    counts = {t: [0, 0, 0] for t in types}
    for g, p in zip(gold, pred, strict=True):
        for t in g | p:
            c = counts.setdefault(t, [0, 0, 0])
            c[0 if (t in g and t in p) else 1 if t in p else 2] += 1
    agg = _aggregate(counts)
    return {"micro": agg["micro"], "macro": agg["macro"], "per_type": agg["per"]}


def error_summary(
    gold_spans: Sequence[set[SpanKey]],
    pred_spans: Sequence[set[SpanKey]],
    gold_events: Sequence[set[str]],
    pred_events: Sequence[set[str]],
    texts: Sequence[str] | None = None,
    top: int = 10,
) -> dict[str, Any]:
    """The most frequent entity and event errors.

    Entity error kinds: ``wrong_label`` (same span, other label), ``boundary`` (overlapping
    spans, same label, other boundaries), ``boundary_and_label``, ``missed`` (no overlapping
    prediction), ``spurious`` (no overlapping gold). Events: false positives/negatives per type.
    """
    kinds: Counter[tuple[str, str, str]] = Counter()
    examples: dict[tuple[str, str, str], str] = {}
    for d, (g, p) in enumerate(zip(gold_spans, pred_spans, strict=True)):
        text = texts[d] if texts else ""
        g_only, p_only = g - p, p - g
        matched_pred: set[SpanKey] = set()
        for gs in sorted(g_only):
            overlaps = [ps for ps in p_only if ps[0] < gs[1] and gs[0] < ps[1]]
            if not overlaps:
                key = ("missed", gs[2], "-")
            else:
                ps = min(overlaps, key=lambda s: abs(s[0] - gs[0]) + abs(s[1] - gs[1]))
                matched_pred.add(ps)
                same_bounds = ps[:2] == gs[:2]
                kind = "wrong_label" if same_bounds else "boundary" if ps[2] == gs[2] else "boundary_and_label"
                key = (kind, gs[2], ps[2])
            kinds[key] += 1
            examples.setdefault(key, text[gs[0] : gs[1]])
        for ps in sorted(p_only - matched_pred):
            if any(gs[0] < ps[1] and ps[0] < gs[1] for gs in g_only):
                continue  # already counted through its gold span
            key = ("spurious", "-", ps[2])
            kinds[key] += 1
            examples.setdefault(key, text[ps[0] : ps[1]])
    ev: Counter[tuple[str, str]] = Counter()
    for g, p in zip(gold_events, pred_events, strict=True):
        for t in p - g:
            ev[("false_positive", t)] += 1
        for t in g - p:
            ev[("false_negative", t)] += 1
    return {
        "entities": [
            {"kind": k[0], "gold": k[1], "pred": k[2], "count": n, "example": examples.get(k, "")}
            for k, n in kinds.most_common(top)
        ],
        "events": [{"kind": k[0], "type": k[1], "count": n} for k, n in ev.most_common(top)],
    }


def tune_thresholds(
    probs: Sequence[Sequence[float]], gold: Sequence[set[str]], types: Sequence[str], default: float = 0.5
) -> dict[str, float]:
    """Per type, the threshold in 0.05..0.95 with the best sentence-level F1 (ties → nearest 0.5).

    Types without a positive example keep ``default``: there is nothing to tune on.
    """
    grid = [round(0.05 * i, 2) for i in range(1, 20)]
    out: dict[str, float] = {}
    for j, t in enumerate(types):
        labels = [t in g for g in gold]
        if not any(labels):
            out[t] = default
            continue
        best = max(
            grid,
            key=lambda th: (
                prf(
                    sum(p[j] >= th and y for p, y in zip(probs, labels, strict=True)),
                    sum(p[j] >= th and not y for p, y in zip(probs, labels, strict=True)),
                    sum(p[j] < th and y for p, y in zip(probs, labels, strict=True)),
                )["f1"],
                -abs(th - default),
            ),
        )
        out[t] = best
    return out
