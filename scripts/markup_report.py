"""Parse markup files and print counts (for annotators while authoring).

usage: python scripts/markup_report.py FILE_OR_DIR... [--expect-text SEED.txt]
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rasd.markup import read_markup_file  # noqa: E402
from rasd.schema import ENTITY_LABELS, EVENT_TYPES  # noqa: E402


def main(argv: list[str]) -> int:
    expect = None
    if "--expect-text" in argv:
        i = argv.index("--expect-text")
        expect = Path(argv[i + 1]).read_text(encoding="utf-8")
        argv = argv[:i] + argv[i + 2 :]
    files = []
    for a in argv:
        p = Path(a)
        files += sorted(p.glob("*.txt")) if p.is_dir() else [p]
    labels, events, ndocs, nsents, bad = Counter(), Counter(), 0, 0, 0
    for f in files:
        try:
            docs = read_markup_file(f)
        except ValueError as exc:
            print("ERROR", exc)
            bad += 1
            continue
        for d in docs:
            ndocs += 1
            nsents += len(d.sentences)
            for s in d.entities:
                if s.label not in ENTITY_LABELS:
                    print(f"ERROR {f} [{d.id}]: unknown label {s.label} on {d.span_text(s)!r}")
                    bad += 1
                t = d.span_text(s)
                if t != t.strip() or not t:
                    print(f"ERROR {f} [{d.id}]: span with outer whitespace {t!r}")
                    bad += 1
                labels[s.label] += 1
            for sent in d.sentences:
                for e in sent.events:
                    if e not in EVENT_TYPES:
                        print(f"ERROR {f} [{d.id}]: unknown event type {e}")
                        bad += 1
                    events[e] += 1
            if expect is not None and d.text != expect:
                i = next((k for k, (a, b) in enumerate(zip(d.text, expect, strict=False)) if a != b), min(len(d.text), len(expect)))
                print(f"ERROR {f}: text differs from expected at char {i}: got {d.text[i-20:i+20]!r} want {expect[i-20:i+20]!r}")
                bad += 1
    print(f"documents {ndocs}  sentences {nsents}")
    print("entities:", {k: labels[k] for k in ENTITY_LABELS})
    print("events (sentences):", {k: events[k] for k in EVENT_TYPES})
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
