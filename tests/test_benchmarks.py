"""Smoke runs of the benchmark scripts on a tiny model (slow: subprocesses load torch per path).

They check that the scripts run end to end and report what they claim (agreement of exact
paths, a ratio against the baseline), not any speed: speed is what the scripts measure.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rasd.corpus import load_documents
from rasd.modeling import RasdMeta
from rasd.training.tiny import build_tiny_model

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_throughput_benchmark_runs_and_reports_agreement(tmp_path):
    torch.manual_seed(0)
    docs = load_documents(sorted((ROOT / "annotations").glob("*.jsonl")))[:8]
    model, tokenizer = build_tiny_model(docs, vocab_size=800, hidden=64, layers=2, heads=2)
    with torch.no_grad():  # decisive logits, so rounding differences cannot flip spans
        model.token_model.classifier.weight.mul_(30.0)
    model_dir = model.save_pretrained(tmp_path / "model", tokenizer, RasdMeta(max_length=64, stride=8))
    summary = tmp_path / "summary.json"
    cmd = [
        sys.executable, str(ROOT / "benchmarks/throughput.py"), "--model", str(model_dir), "--articles", "3",
        "--rounds", "1", "--paths", "baseline", "rasd", "rasd-noprepack", "rasd-budget", "--json", str(summary),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "vs base" in proc.stdout
    rows = {r["path"]: r for r in json.loads(summary.read_text(encoding="utf-8"))}
    assert set(rows) == {"baseline", "rasd", "rasd-noprepack", "rasd-budget"}
    assert rows["baseline"]["vs_baseline"] == pytest.approx(1.0)
    for path in ("rasd", "rasd-noprepack", "rasd-budget"):
        assert rows[path]["vs_baseline"] > 0 and rows[path]["articles_per_s"] > 0
        assert rows[path]["peak_rss_mb"] > 50
        # Exact paths: the same spans and event labels as the reference rasd path.
        assert rows[path]["entity_f1_vs_rasd"] == pytest.approx(100.0)
        assert rows[path]["event_f1_vs_rasd"] == pytest.approx(100.0)
