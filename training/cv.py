"""k-fold cross-validation by document (``rasd train --cv K``).

Each fold trains on the other folds (with the configured dev split for early stopping
and thresholds) and is scored on its held-out fold; ``cv_metrics.json`` in the output
folder holds every fold's scores and mean ± std of the main ones.
"""

from __future__ import annotations

import copy
import json
import logging
import statistics
from pathlib import Path
from typing import Any

from rasd.corpus import load_documents
from training.config import TrainingConfig
from training.splits import kfold
from training.trainer import _summary, train

logger = logging.getLogger(__name__)


def cross_validate(cfg: TrainingConfig, k: int) -> dict[str, Any]:
    """Train ``k`` models (``OUTPUT/fold-i``) and aggregate their held-out scores."""
    docs = load_documents(cfg.data.train_files)
    out = Path(cfg.training.output_dir)
    folds: list[dict[str, Any]] = []
    for i, (train_docs, test_docs) in enumerate(kfold(docs, k, cfg.training.seed)):
        fold_cfg = copy.deepcopy(cfg)
        fold_cfg.training.output_dir = str(out / f"fold-{i}")
        fold_cfg.data.test_files = []
        dev_docs = None if (cfg.data.dev_files or cfg.data.dev_fraction > 0) else []
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
    result = {"k": k, "documents": len(docs), "folds": folds, "summary": summary}
    out.mkdir(parents=True, exist_ok=True)
    (out / "cv_metrics.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def format_cv(result: dict[str, Any]) -> str:
    lines = [f"{result['k']}-fold cross-validation over {result['documents']} documents"]
    lines += [f"  {name:<22}{s['mean']:.3f} ± {s['std']:.3f}" for name, s in result["summary"].items()]
    return "\n".join(lines)
