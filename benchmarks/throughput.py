"""Batch-tagging throughput: rasd's Tagger (and each fast path) against the plain transformers pipeline.

    python benchmarks/throughput.py --model runs/e5 --articles 200 [--device cpu|cuda] [--seed 0]
        [--paths baseline rasd rasd-int8 ...] [--rounds 2] [--onnx-dir DIR]

A reproducible batch of articles (300–3,000 words, log-uniform) is built from the
sentences of ``annotations/*.jsonl`` under ``--seed``. Every path runs in its own
subprocess (so peak RSS is per path) on the same articles and weights; paths alternate
over ``--rounds`` rounds (order reversed each round) and the best and every round's
time are printed. Each subprocess warms up on two articles before timing.

Fairness: the baseline is ``pipeline("token-classification", aggregation_strategy="simple",
stride=S, batch_size=B)`` with the tokenizer's max length set to rasd.json's ``max_length``
and ``S`` = rasd.json's ``stride``, on the very same ``model.safetensors``. It tags entities
only; rasd paths also produce sentence events, article events and records.

Agreement: span-level micro F1 (exact start, end, label) of each path's entities against the
full-precision ``rasd`` path.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PATHS = {
    "baseline": "transformers pipeline (entities only), fixed batch of chunks",
    "rasd": "Tagger, fp32 torch (CPU: prepacked oneDNN linears), batch_size windows, entities+events+records",
    "rasd-noprepack": "rasd with plain torch linear layers (prepack=False)",
    "rasd-budget": "+ token-budget batches (length-sorted) instead of a fixed batch size",
    "rasd-threads": "+ torch.set_num_threads(--threads)",
    "rasd-int8": "+ torch dynamic int8 (quantize='int8')",
    "rasd-bf16": "+ bfloat16 weights and activations (dtype='bf16'; native on AVX512-BF16/AMX CPUs)",
    "rasd-bf16-noprepack": "rasd-bf16 with plain torch linear layers (prepack=False)",
    "rasd-onnx": "onnxruntime fp32 (rasd export onnx)",
    "rasd-onnx-int8": "onnxruntime dynamic int8 (rasd export onnx --quantize int8)",
}
DEFAULT_PATHS = list(PATHS)


# ---------------------------------------------------------------- articles
def build_articles(n: int, seed: int, corpus: Path | None = None) -> list[dict[str, str]]:
    """``n`` articles of 300–3,000 words (log-uniform) from shuffled corpus sentences."""
    from rasd.corpus import load_documents
    from rasd.text import split_sentences

    files = sorted((corpus or ROOT / "annotations").glob("*.jsonl"))
    sentences: list[str] = []
    for doc in load_documents(files):
        spans = [(s.start, s.end) for s in doc.sentences] or split_sentences(doc.text)
        sentences += [doc.text[a:b].strip() for a, b in spans if doc.text[a:b].strip()]
    if not sentences:
        raise SystemExit("no sentences in annotations/*.jsonl")
    rng = random.Random(seed)
    articles = []
    for i in range(n):
        target = int(math.exp(rng.uniform(math.log(300), math.log(3000))))
        parts: list[str] = []
        words = 0
        while words < target:
            s = rng.choice(sentences)
            parts.append(s)
            words += len(s.split())
            parts.append("\n" if rng.random() < 0.2 else " ")
        articles.append({"id": f"bench-{i:04d}", "text": "".join(parts).strip()})
    return articles


# ---------------------------------------------------------------- worker (one path, one subprocess)
def _rss_mb() -> float:
    """Peak RSS of this process. ``VmHWM`` (Linux) rather than ``ru_maxrss``, which survives exec
    and would report the parent's peak at fork time."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _baseline(args: argparse.Namespace, articles: list[dict[str, str]]):
    import torch
    from transformers import AutoTokenizer, pipeline

    from rasd.modeling import RasdMeta

    meta = RasdMeta.load(Path(args.model) / "rasd.json")
    tok = AutoTokenizer.from_pretrained(args.model, model_max_length=meta.max_length)
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    pipe = pipeline(
        "token-classification",
        model=args.model,
        tokenizer=tok,
        aggregation_strategy="simple",
        stride=meta.stride,
        batch_size=args.batch_size,
        device=args.device,
        dtype=dtype,
    )
    texts = [a["text"] for a in articles]

    def run(items: list[str]):
        out = pipe(items)
        return [
            [(int(e["start"]), int(e["end"]), str(e["entity_group"])) for e in ents] for ents in out
        ], None

    return run, texts


def _rasd(args: argparse.Namespace, path: str, articles: list[dict[str, str]]):
    from rasd.inference.tagger import Tagger

    kw: dict = {"device": args.device}
    if path == "rasd-budget":
        kw["token_budget"] = args.token_budget
    if path == "rasd-threads":
        kw["num_threads"] = args.threads
    if path == "rasd-int8":
        kw["quantize"] = "int8"
    if path.startswith("rasd-bf16") or (
        args.dtype == "bf16" and path in ("rasd", "rasd-noprepack", "rasd-budget", "rasd-threads")
    ):
        kw["dtype"] = "bf16"
    if path.endswith("-noprepack"):
        kw["prepack"] = False
    if path.startswith("rasd-onnx"):
        kw = {
            "backend": "onnx",
            "quantize": "int8" if path.endswith("int8") else None,
            "num_threads": args.threads,
        }
    model = args.onnx_dir if path.startswith("rasd-onnx") else args.model
    tagger = Tagger.from_pretrained(model, **kw)

    def run(items: list[dict[str, str]]):
        docs = tagger.tag(items, batch_size=args.batch_size)
        entities = [[(e.start, e.end, e.label) for e in d.entities] for d in docs]
        events = [[(i, label) for i, s in enumerate(d.sentences) for label in s.labels] for d in docs]
        return entities, events

    return run, articles


def worker(args: argparse.Namespace) -> None:
    import torch

    articles = build_articles(args.articles, args.seed)
    if args.worker == "baseline":
        run, items = _baseline(args, articles)
    else:
        run, items = _rasd(args, args.worker, articles)
    run(items[:2])  # warm-up (allocator, lazy init, onnxruntime first run)
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    entities, events = run(items)
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    result = {
        "path": args.worker,
        "seconds": seconds,
        "peak_rss_mb": _rss_mb(),
        "threads": torch.get_num_threads(),
        "entities": entities,
        "events": events,
    }
    Path(args.result).write_text(json.dumps(result), encoding="utf-8")


# ---------------------------------------------------------------- parent
def span_f1(pred: list[list], gold: list[list]) -> float:
    """Micro F1 (percent) over exact ``(article, *item)`` tuples: entity spans or sentence event labels."""
    p = {(i, *s) for i, spans in enumerate(pred) for s in spans}
    g = {(i, *s) for i, spans in enumerate(gold) for s in spans}
    if not p and not g:
        return 100.0
    tp = len(p & g)
    return 200.0 * tp / (len(p) + len(g))


def count_tokens(model: str, articles: list[dict[str, str]]) -> int:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model)
    return sum(len(ids) for ids in tok([a["text"] for a in articles], add_special_tokens=False)["input_ids"])


def ensure_onnx(model: str, onnx_dir: str) -> None:
    from rasd.inference.onnx import ONNX_INT8_FILE, export_onnx, is_onnx_dir

    src, dst = Path(model) / "model.safetensors", Path(onnx_dir) / ONNX_INT8_FILE
    if is_onnx_dir(onnx_dir) and dst.is_file() and dst.stat().st_mtime >= src.stat().st_mtime:
        return  # an export of these weights (not older than them) is already there
    print(f"exporting {model} → {onnx_dir} (fp32 + int8) ...", flush=True)
    export_onnx(model, onnx_dir, quantize="int8")


def run_path(args: argparse.Namespace, path: str, tmp: Path, round_: int) -> dict:
    result = tmp / f"{path}.{round_}.json"
    cmd = [
        sys.executable, __file__, "--worker", path, "--result", str(result), "--model", args.model,
        "--articles", str(args.articles), "--seed", str(args.seed), "--device", args.device,
        "--batch-size", str(args.batch_size), "--token-budget", str(args.token_budget),
        "--threads", str(args.threads), "--dtype", args.dtype, "--onnx-dir", args.onnx_dir,
    ]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(ROOT), TOKENIZERS_PARALLELISM="false")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"  {path}: FAILED\n{proc.stderr[-3000:]}", flush=True)
        return {}
    return json.loads(result.read_text(encoding="utf-8"))


def _parser() -> argparse.ArgumentParser:
    """The command line of the benchmark (and, hidden, of its per-path worker)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="saved rasd model folder")
    ap.add_argument("--articles", type=int, default=200)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--paths", nargs="+", default=DEFAULT_PATHS, choices=list(PATHS))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32, help="baseline and rasd batch size (default 32)")
    ap.add_argument("--token-budget", type=int, default=8192, help="padded tokens per batch for rasd-budget")
    ap.add_argument(
        "--threads", type=int, default=os.cpu_count() or 1, help="threads for rasd-threads / onnx"
    )
    ap.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32", help="bf16: GPU runs (torch paths)")
    ap.add_argument("--onnx-dir", default="", help="ONNX folder (default: MODEL-onnx, exported when missing)")
    ap.add_argument("--json", help="also write the summary here")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    return ap


def run_rounds(args: argparse.Namespace, paths: list[str]) -> dict[str, list[dict]]:
    """Every path's worker results over ``args.rounds`` rounds (order reversed each round)."""
    runs: dict[str, list[dict]] = {p: [] for p in paths}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            order = paths if r % 2 == 0 else paths[::-1]
            for path in order:
                res = run_path(args, path, Path(tmp), r)
                if res:
                    runs[path].append(res)
                    print(f"  round {r + 1} {path:19s} {res['seconds']:8.1f} s", flush=True)
    return runs


def summarize(
    runs: dict[str, list[dict]], paths: list[str], n_articles: int, tokens: int
) -> tuple[list[str], list[dict]]:
    """The table lines and the JSON summary rows of every path against the baseline and ``rasd``."""
    ref = runs["rasd"][0] if runs["rasd"] else None
    base = min((x["seconds"] for x in runs.get("baseline", [])), default=None)
    base_median = statistics.median(x["seconds"] for x in runs["baseline"]) if runs.get("baseline") else None
    header = f"{'path':19s} {'best s':>7s} {'rounds s':>17s} {'art/s':>6s} {'tok/s':>6s} {'peak RSS':>8s} {'vs base':>7s} {'median':>6s} {'ent F1':>6s} {'entities':>8s} {'ev F1':>6s}"
    lines = [header, "-" * len(header)]
    summary = []
    for path in paths:
        if not runs[path]:
            lines.append(f"{path:15s} failed")
            continue
        times = [x["seconds"] for x in runs[path]]
        best = min(times)
        rss = max(x["peak_rss_mb"] for x in runs[path])
        first = runs[path][0]
        f1 = span_f1(first["entities"], ref["entities"]) if ref else float("nan")
        ev_f1 = (
            span_f1(first["events"], ref["events"]) if ref and first["events"] is not None else float("nan")
        )
        ratio = base / best if base else float("nan")
        median_ratio = base_median / statistics.median(times) if base_median else float("nan")
        rounds = "/".join(f"{t:.1f}" for t in times)
        lines.append(
            f"{path:19s} {best:7.1f} {rounds:>17s} {n_articles / best:6.2f} {tokens / best:6.0f}"
            f" {rss:6.0f}MB {ratio:6.2f}x {median_ratio:5.2f}x {f1:6.2f} {sum(map(len, first['entities'])):8d} {ev_f1:6.2f}"
        )
        summary.append(
            {"path": path, "best_s": best, "rounds_s": times, "median_s": statistics.median(times),
             "articles_per_s": n_articles / best, "tokens_per_s": tokens / best, "peak_rss_mb": rss,
             "vs_baseline": ratio, "median_vs_baseline": median_ratio, "entity_f1_vs_rasd": f1, "event_f1_vs_rasd": ev_f1, "threads": runs[path][0]["threads"]}
        )  # fmt: skip
    return lines, summary


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark (or, with the hidden ``--worker``, one path of it) and print the table."""
    args = _parser().parse_args(argv)
    args.onnx_dir = args.onnx_dir or str(Path(args.model).resolve()) + "-onnx"
    if args.worker:
        worker(args)
        return

    paths = list(dict.fromkeys(["rasd", *args.paths]))  # rasd is the agreement reference
    if any(p.startswith("rasd-onnx") for p in paths):
        ensure_onnx(args.model, args.onnx_dir)
    articles = build_articles(args.articles, args.seed)
    words = sum(len(a["text"].split()) for a in articles)
    tokens = count_tokens(args.model, articles)
    load = os.getloadavg()
    print(
        f"model {args.model} | {len(articles)} articles, {words:,} words, {tokens:,} tokens | device {args.device}"
        f" {args.dtype} | {os.cpu_count()} CPUs, load avg {load[0]:.1f} at start | seed {args.seed}",
        flush=True,
    )
    lines, summary = summarize(run_rounds(args, paths), paths, len(articles), tokens)
    print("\n".join(lines))
    print("vs base: best round against the baseline's best; median: median round against the baseline's median")
    print("ent F1 / ev F1: micro F1 of entity spans / sentence event labels against the fp32 `rasd` path")
    print(f"load avg at end {os.getloadavg()[0]:.1f}; paths: " + "; ".join(f"{p}: {PATHS[p]}" for p in paths))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
