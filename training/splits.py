"""Document-level data splits: train/dev, real-text hold-out and k-fold.

A document is never split, and augmented copies (``<id>#aug<k>``) always go
with their original. Splits are deterministic: groups are sorted by id, then
shuffled with ``random.Random(seed)``; each returned list keeps the input order.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from rasd.corpus import Document

AUG_SEP = "#aug"


def group_id(doc: Document) -> str:
    """The id a document is split by: its own, or its original's for an augmented copy."""
    return doc.id.split(AUG_SEP, 1)[0]


def _shuffled_groups(docs: list[Document], seed: int) -> list[str]:
    groups = sorted({group_id(d) for d in docs})
    random.Random(seed).shuffle(groups)
    return groups


def _select(docs: list[Document], ids: set[str]) -> list[Document]:
    return [d for d in docs if group_id(d) in ids]


def split_corpus(
    docs: Iterable[Document], dev_fraction: float = 0.15, seed: int = 13
) -> tuple[list[Document], list[Document]]:
    """``(train, dev)`` by document; dev gets ``round(n * dev_fraction)`` documents, at least one
    when there are two or more and ``dev_fraction > 0``."""
    if not 0 <= dev_fraction < 1:
        raise ValueError(f"dev_fraction must be in [0, 1), got {dev_fraction}")
    docs = list(docs)
    groups = _shuffled_groups(docs, seed)
    n_dev = round(len(groups) * dev_fraction)
    if dev_fraction > 0 and len(groups) >= 2:
        n_dev = min(max(n_dev, 1), len(groups) - 1)
    dev = set(groups[:n_dev])
    return [d for d in docs if group_id(d) not in dev], _select(docs, dev)


def real_text_holdout(docs: Iterable[Document]) -> tuple[list[Document], list[Document]]:
    """``(synthetic_train, real_eval)``: real (``synthetic=False``) documents never train.

    Augmented copies of real documents are dropped from both sides.
    """
    docs = list(docs)
    real_ids = {group_id(d) for d in docs if not d.synthetic and AUG_SEP not in d.id}
    train = [d for d in docs if d.synthetic and group_id(d) not in real_ids]
    return train, [d for d in docs if not d.synthetic and AUG_SEP not in d.id]


def _deal(
    docs: list[Document], groups: list[str], k: int, copies_in_test: bool
) -> list[tuple[list[Document], list[Document]]]:
    """Deal ``groups`` round-robin into ``k`` test folds; every other document trains."""
    folds = []
    for i in range(k):
        test = set(groups[i::k])
        train = [d for d in docs if group_id(d) not in test]
        tested = [d for d in docs if group_id(d) in test and (copies_in_test or AUG_SEP not in d.id)]
        folds.append((train, tested))
    return folds


def kfold_real(docs: Iterable[Document], k: int, seed: int = 13) -> list[tuple[list[Document], list[Document]]]:
    """``k`` pairs ``(train, test)`` where only real documents are ever tested.

    Real (``synthetic=False``) documents are dealt into ``k`` folds; synthetic ones always
    train. Augmented copies follow their original, so a tested article's copies never train
    (nor are they tested: only the article as written is scored).
    """
    docs = list(docs)
    groups = _shuffled_groups([d for d in docs if not d.synthetic], seed)
    if not 2 <= k <= len(groups):
        raise ValueError(f"k must be between 2 and the number of real documents ({len(groups)}), got {k}")
    return _deal(docs, groups, k, copies_in_test=False)


def kfold(docs: Iterable[Document], k: int, seed: int = 13) -> list[tuple[list[Document], list[Document]]]:
    """``k`` pairs ``(train, test)``; every document is in exactly one test fold."""
    docs = list(docs)
    groups = _shuffled_groups(docs, seed)
    if not 2 <= k <= len(groups):
        raise ValueError(f"k must be between 2 and the number of documents ({len(groups)}), got {k}")
    return _deal(docs, groups, k, copies_in_test=True)
