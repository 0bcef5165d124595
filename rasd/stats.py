"""Corpus statistics: documents, sentences, tokens, entities per label, sentences per event type."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from rasd.corpus import Document
from rasd.schema import ENTITY_LABELS, EVENT_TYPES


def _counts(docs: list[Document]) -> dict[str, Any]:
    entities: Counter[str] = Counter({label: 0 for label in ENTITY_LABELS})
    events: Counter[str] = Counter({ev: 0 for ev in EVENT_TYPES})
    sentences = tokens = with_events = 0
    for doc in docs:
        tokens += len(doc.text.split())
        sentences += len(doc.sentences)
        entities.update(e.label for e in doc.entities)
        for sent in doc.sentences:
            events.update(set(sent.events))
            with_events += bool(sent.events)
    return {
        "documents": len(docs),
        "sentences": sentences,
        "sentences_with_events": with_events,
        "tokens": tokens,
        "entities_total": sum(entities.values()),
        "entities": dict(entities),
        "events": dict(events),
    }


def corpus_stats(docs: Iterable[Document]) -> dict[str, Any]:
    """Counts for ``all`` documents and separately for ``synthetic`` and ``real`` ones.

    Tokens are whitespace tokens; ``events`` counts sentences carrying each type.
    Labels outside the schema are counted under their own name.
    """
    docs = list(docs)
    return {
        "all": _counts(docs),
        "synthetic": _counts([d for d in docs if d.synthetic]),
        "real": _counts([d for d in docs if not d.synthetic]),
    }


def format_stats(stats: dict[str, Any]) -> str:
    """A plain-text table with one column per group (all, synthetic, real)."""
    groups = ["all", "synthetic", "real"]
    rows: list[tuple[str, list[Any]]] = []
    for key in ("documents", "sentences", "sentences_with_events", "tokens", "entities_total"):
        rows.append((key, [stats[g][key] for g in groups]))
    for section in ("entities", "events"):
        names = list(dict.fromkeys(n for g in groups for n in stats[g][section]))
        for name in names:
            rows.append((f"{section}.{name}", [stats[g][section].get(name, 0) for g in groups]))
    width = max(len(r[0]) for r in rows)
    lines = [f"{'':{width}}  " + "  ".join(f"{g:>9}" for g in groups)]
    lines += [f"{name:{width}}  " + "  ".join(f"{v:>9}" for v in vals) for name, vals in rows]
    return "\n".join(lines)
