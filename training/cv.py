"""k-fold cross-validation by document (``rasd train --cv K``).

Each fold trains on the other folds (with the configured dev split for early stopping
and thresholds) and is scored on its held-out fold; ``cv_metrics.json`` in the output
folder holds every fold's scores and mean ± std of the main ones.

With ``test_on="real"`` only real articles are dealt into folds (synthetic ones always
train), which is how domain quality on real text is reported: ``rasd train --cv 2
--cv-test real`` on the shipped corpus tests each seed article once. The dev split for
early stopping is then drawn from the synthetic training documents, so every real
training article is trained on.
"""

from __future__ import annotations

import copy
import json
import logging
import statistics
from pathlib import Path
from typing import Any

from rasd.corpus import load_documents
from rasd.training.config import TrainingConfig
from rasd.training.splits import kfold, kfold_real, split_corpus
from rasd.training.trainer import _summary, train

logger = logging.getLogger(__name__)


def cross_validate(cfg: TrainingConfig, k: int, test_on: str = "all") -> dict[str, Any]:
    """Train ``k`` models (``OUTPUT/fold-i``) and aggregate their held-out scores.

    ``test_on``: ``"all"`` folds every document; ``"real"`` folds only real articles.
    """
    if test_on not in ("all", "real"):
        raise ValueError(f"test_on must be 'all' or 'real', got {test_on!r}")
    docs = load_documents(cfg.data.train_files)
    out = Path(cfg.training.output_dir)
    folds: list[dict[str, Any]] = []
    splits = kfold_real(docs, k, cfg.training.seed) if test_on == "real" else kfold(docs, k, cfg.training.seed)
    for i, (train_docs, test_docs) in enumerate(splits):
        fold_cfg = copy.deepcopy(cfg)
        fold_cfg.training.output_dir = str(out / f"fold-{i}")
        fold_cfg.data.test_files = []
        dev_docs = None if (cfg.data.dev_files or cfg.data.dev_fraction > 0) else []
        if test_on == "real" and not cfg.data.dev_files and cfg.data.dev_fraction > 0:
            synthetic, dev_docs = split_corpus([d for d in train_docs if d.synthetic], cfg.data.dev_fraction, cfg.training.seed)
            train_docs = [d for d in train_docs if not d.synthetic] + synthetic
        result = train(fold_cfg, train_docs, dev_docs, test_docs)
        scores = _summary(result.metrics.get("test")) or {}
        folds.append({"fold": i, "train_documents": len(train_docs), "test_documents": len(test_docs)} | scores)
        logger.info("fold %d/%d: %s", i + 1, k, ", ".join(f"{n}={v:.3f}" for n, v in scores.items()))
    summary = {}
    for name in folds[0]:
        if name in {"fold", "train_documents", "test_documents"}:
            continue
        values = [f[name] for f in folds]
        summary[name] = {"mean": statistics.fmean(values), "std": statistics.pstdev(values)}
    result = {"k": k, "test_on": test_on, "documents": len(docs), "folds": folds, "summary": summary}
    out.mkdir(parents=True, exist_ok=True)
    (out / "cv_metrics.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def format_cv(result: dict[str, Any]) -> str:
    tested = "real documents only" if result.get("test_on") == "real" else "all documents"
    lines = [f"{result['k']}-fold cross-validation over {result['documents']} documents (tested: {tested})"]
    lines += [f"  {name:<22}{s['mean']:.3f} ± {s['std']:.3f}" for name, s in result["summary"].items()]
    return "\n".join(lines)
