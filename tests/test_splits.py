"""Document-level splits: deterministic, never splitting a document or its augmented copies."""

from __future__ import annotations

import pytest

from rasd.corpus import Document
from rasd.training.splits import group_id, kfold, kfold_real, real_text_holdout, split_corpus


def make_docs(n: int, real_every: int = 3) -> list[Document]:
    return [Document(f"doc-{i:03d}", "نص.", synthetic=i % real_every != 0) for i in range(n)]


def ids(docs: list[Document]) -> list[str]:
    return [d.id for d in docs]


def test_split_corpus_partitions_by_document():
    docs = make_docs(40)
    train, dev = split_corpus(docs, dev_fraction=0.15, seed=13)
    assert len(dev) == 6 and len(train) == 34
    assert set(ids(train)).isdisjoint(ids(dev)) and set(ids(train)) | set(ids(dev)) == set(ids(docs))
    # input order is kept inside each part
    assert ids(train) == [i for i in ids(docs) if i in set(ids(train))]


def test_split_corpus_deterministic_and_order_independent():
    docs = make_docs(30)
    a = split_corpus(docs, seed=1)
    assert ids(split_corpus(docs, seed=1)[1]) == ids(a[1])
    assert set(ids(split_corpus(list(reversed(docs)), seed=1)[1])) == set(ids(a[1]))
    assert set(ids(split_corpus(docs, seed=2)[1])) != set(ids(a[1]))


def test_split_corpus_small_and_edge_cases():
    train, dev = split_corpus(make_docs(2), dev_fraction=0.15)
    assert len(train) == 1 and len(dev) == 1
    train, dev = split_corpus(make_docs(5), dev_fraction=0.0)
    assert len(train) == 5 and dev == []
    with pytest.raises(ValueError):
        split_corpus(make_docs(5), dev_fraction=1.0)


def test_augmented_copies_follow_their_original():
    docs = make_docs(20)
    docs += [Document(f"{d.id}#aug1", d.text, synthetic=d.synthetic) for d in docs]
    train, dev = split_corpus(docs, dev_fraction=0.25, seed=4)
    dev_groups = {group_id(d) for d in dev}
    assert dev_groups.isdisjoint(group_id(d) for d in train)
    assert len(dev) == 2 * len(dev_groups) == 10


def test_real_text_holdout():
    docs = make_docs(9)
    docs.append(Document("doc-000#aug1", "نص.", synthetic=False))
    train, real = real_text_holdout(docs)
    assert all(d.synthetic for d in train) and all(not d.synthetic for d in real)
    assert ids(real) == ["doc-000", "doc-003", "doc-006"]
    assert len(train) == 6


def test_kfold_covers_every_document_once():
    docs = make_docs(23)
    folds = kfold(docs, 5, seed=0)
    assert len(folds) == 5
    tested = [i for _, test in folds for i in ids(test)]
    assert sorted(tested) == sorted(ids(docs))
    for train, test in folds:
        assert set(ids(train)).isdisjoint(ids(test)) and len(train) + len(test) == 23
        assert len(test) in (4, 5)
    assert [ids(t) for _, t in kfold(docs, 5, seed=0)] == [ids(t) for _, t in folds]
    with pytest.raises(ValueError):
        kfold(docs, 1)
    with pytest.raises(ValueError):
        kfold(make_docs(3), 4)


def test_kfold_real_tests_only_real_documents():
    docs = make_docs(12)  # real: doc-000, 003, 006, 009
    docs.append(Document("doc-003#aug1", "نص.", synthetic=False))
    folds = kfold_real(docs, 2, seed=0)
    tested = sorted(i for _, test in folds for i in ids(test))
    assert tested == ["doc-000", "doc-003", "doc-006", "doc-009"]  # each real article once, no copies
    for train, test in folds:
        test_groups = {group_id(d) for d in test}
        assert test_groups.isdisjoint(group_id(d) for d in train)  # nor their augmented copies
        assert sum(d.synthetic for d in train) == 8  # every synthetic document trains in every fold
        assert sum(not d.synthetic for d in train) == 2 + (group_id(docs[-1]) not in test_groups)
    with pytest.raises(ValueError, match="real documents"):
        kfold_real(docs, 5)


def test_splits_on_fixture(corpus):
    train, real = real_text_holdout(corpus)
    assert ids(train) == ["syn-001", "syn-002"] and ids(real) == ["real-001", "real-002"]
    train, dev = split_corpus(corpus, dev_fraction=0.25)
    assert len(dev) == 1
