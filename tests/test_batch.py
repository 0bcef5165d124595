"""``rasd tag`` through ``rasd.cli.main``: inputs, bad lines, resume, CSV records."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import pytest
import torch

from rasd.cli import main
from rasd.corpus import Document
from rasd.inference.batch import run_tag_job
from rasd.inference.tag_outputs import errors_path
from rasd.inference.types import TaggedDocument
from rasd.modeling import RasdMeta
from rasd.training.tiny import build_tiny_model

ARTICLES = [
    "قصفت القوات الأمريكية قاعدة عين الأسد في بغداد يوم الاثنين. وقتل جنديان.",
    "أسقطت الدفاعات الجوية طائرة مسيرة فوق أربيل. وتبنت المقاومة الإسلامية الهجوم.",
    "سقطت صواريخ كاتيوشا على السفارة الأمريكية في بغداد مساء الأحد.",
    "التقى بلينكن السوداني في بغداد وبحثا انسحاب قوات التحالف.",
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model, tokenizer = build_tiny_model([Document(str(i), t) for i, t in enumerate(ARTICLES)], vocab_size=500)
    # Low thresholds so the random model yields events and therefore records.
    meta = RasdMeta(max_length=24, stride=4, event_thresholds={t: 0.3 for t in model.event_types})
    return model.save_pretrained(tmp_path_factory.mktemp("model"), tokenizer, meta)


def write_lines(path: Path, lines: list[bytes | str | dict]) -> Path:
    with path.open("wb") as fh:
        for line in lines:
            if isinstance(line, dict):
                line = json.dumps(line, ensure_ascii=False)
            fh.write((line.encode("utf-8") if isinstance(line, str) else line) + b"\n")
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def tag(model_dir: Path, *args: str) -> int:
    return main(["tag", "--model", str(model_dir), "--no-progress", *args])


def good_rows() -> list[dict]:
    return [{"id": f"a{i}", "text": t, "source": "wire", "meta": {"n": i}} for i, t in enumerate(ARTICLES)]


def check_output(rows: list[dict], out: list[dict]) -> None:
    assert [o["id"] for o in out] == [r["id"] for r in rows]
    for row, o in zip(rows, out, strict=True):
        assert list(o)[:5] == ["id", "entities", "sentences", "events", "records"]
        for e in o["entities"]:
            assert row["text"][e["start"] : e["end"]] == e["text"]
            assert set(e) == {"start", "end", "label", "text", "score"}
        for s in o["sentences"]:
            assert all(set(ev) == {"label", "score"} for ev in s["events"])
        assert o["source"] == row["source"] and o["meta"] == row["meta"]


def test_jsonl_to_jsonl_and_csv(model_dir, tmp_path, capsys):
    rows = good_rows()
    src = write_lines(tmp_path / "in.jsonl", rows)
    out, rec = tmp_path / "out.jsonl", tmp_path / "records.csv"
    assert (
        tag(model_dir, "--input", str(src), "--output", str(out), "--records", str(rec), "--batch-size", "3")
        == 0
    )
    tagged = read_jsonl(out)
    check_output(rows, tagged)
    raw = rec.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM for spreadsheet tools
    table = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(table) == sum(len(o["records"]) for o in tagged) > 0
    assert {r["article_id"] for r in table} <= {r["id"] for r in rows}
    assert errors_path(out).read_text() == ""
    err = capsys.readouterr().err
    assert "articles: 4 tagged, 0 skipped" in err and "0 failed" in err and "records:" in err


def test_bad_inputs_are_reported_and_skipped(model_dir, tmp_path, capsys):
    rows = good_rows()
    src = write_lines(
        tmp_path / "in.jsonl",
        [
            rows[0],
            '{"id": "broken", "text": ',  # 2: malformed JSON
            {"id": "no-text", "title": "x"},  # 3: missing text
            {"id": "int-text", "text": 42},  # 4: non-string text
            b'{"id": "bad-utf8", "text": "\xff\xfe"}',  # 5: invalid UTF-8
            rows[1],
            {"id": "huge", "text": "ب" * 5000},  # 7: over --max-chars
            "[1, 2]",  # 8: not an object
            "",  # blank lines are ignored
            rows[2],
        ],
    )
    out = tmp_path / "out.jsonl"
    assert tag(model_dir, "--input", str(src), "--output", str(out), "--max-chars", "1000") == 1  # some skipped
    check_output([rows[0], rows[1], rows[2]], read_jsonl(out))
    errors = read_jsonl(errors_path(out))
    assert [(e["line"], e["id"]) for e in errors] == [
        (2, None),
        (3, "no-text"),
        (4, "int-text"),
        (5, None),
        (7, "huge"),
        (8, None),
    ]
    reasons = [e["reason"] for e in errors]
    assert reasons[0].startswith("invalid JSON")
    assert reasons[1] == "missing field 'text'"
    assert "must be a string" in reasons[2]
    assert reasons[3].startswith("invalid UTF-8")
    assert "5,000 characters" in reasons[4]
    assert "JSON object" in reasons[5]
    assert all(e["file"] == str(src) for e in errors)
    assert "6 failed" in capsys.readouterr().err


def test_txt_directory_and_stdin(model_dir, tmp_path, monkeypatch):
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "b.txt").write_text(ARTICLES[1], encoding="utf-8")
    (folder / "a.txt").write_text(ARTICLES[0], encoding="utf-8")
    write_lines(folder / "c.jsonl", [{"id": "c1", "text": ARTICLES[2]}])
    (folder / "notes.md").write_text("ignored")
    (folder / "bad.txt").write_bytes(b"\xd8")
    out = tmp_path / "dir.jsonl"
    assert tag(model_dir, "--input", str(folder), "--output", str(out)) == 1  # bad.txt skipped
    assert [o["id"] for o in read_jsonl(out)] == ["a", "b", "c1"]
    assert read_jsonl(errors_path(out))[0]["id"] == "bad"

    single = tmp_path / "one.jsonl"
    assert tag(model_dir, "--input", str(folder / "a.txt"), "--output", str(single)) == 0
    assert read_jsonl(single)[0]["entities"] == read_jsonl(out)[0]["entities"]

    stdin = io.TextIOWrapper(
        io.BytesIO("\n".join(json.dumps(r, ensure_ascii=False) for r in good_rows()).encode())
    )
    monkeypatch.setattr(sys, "stdin", stdin)
    piped = tmp_path / "stdin.jsonl"
    assert tag(model_dir, "--input", "-", "--output", str(piped)) == 0
    check_output(good_rows(), read_jsonl(piped))


def test_missing_input_exits_2(model_dir, tmp_path, capsys):
    assert tag(model_dir, "--input", str(tmp_path / "nope.jsonl"), "--output", str(tmp_path / "o.jsonl")) == 2
    assert capsys.readouterr().err == f"rasd: error: no such input file or directory: {tmp_path / 'nope.jsonl'}\n"


def test_resume_after_an_interrupted_run(model_dir, tmp_path):
    rows = [{"id": f"d{i}", "text": ARTICLES[i % 4] + f" رقم {i}."} for i in range(10)]
    src = write_lines(tmp_path / "in.jsonl", rows)
    full, full_csv = tmp_path / "full.jsonl", tmp_path / "full.csv"
    assert tag(model_dir, "--input", str(src), "--output", str(full), "--records", str(full_csv)) == 0
    expected = read_jsonl(full)

    # Interrupted: the first half written, then half of the next line.
    out, rec = tmp_path / "out.jsonl", tmp_path / "out.csv"
    lines = full.read_text(encoding="utf-8").splitlines(keepends=True)
    out.write_text("".join(lines[:5]) + lines[5][:40], encoding="utf-8")
    assert tag(model_dir, "--input", str(src), "--output", str(out), "--records", str(rec), "--resume") == 0
    resumed = read_jsonl(out)
    assert [o["id"] for o in resumed] == [r["id"] for r in rows]  # no duplicates, input order
    for a, b in zip(resumed, expected, strict=True):
        assert [(e["start"], e["end"], e["label"]) for e in a["entities"]] == [
            (e["start"], e["end"], e["label"]) for e in b["entities"]
        ]
    assert len(rec.read_text(encoding="utf-8-sig").splitlines()) == len(
        full_csv.read_text(encoding="utf-8-sig").splitlines()
    )

    # Resuming a complete output tags nothing more.
    assert tag(model_dir, "--input", str(src), "--output", str(out), "--resume") == 0
    assert len(read_jsonl(out)) == 10


class FlakyTagger:
    """Fails on any chunk containing the text «FAIL»."""

    def tag(self, items, batch_size=32, show_progress_bar=False):
        if any("FAIL" in it["text"] for it in items):
            raise RuntimeError("boom")
        return [TaggedDocument(it["id"], it["text"]) for it in items]


def test_a_failing_article_does_not_lose_its_chunk(tmp_path):
    src = write_lines(
        tmp_path / "in.jsonl", [{"id": str(i), "text": "FAIL" if i == 3 else "نص"} for i in range(6)]
    )
    out = tmp_path / "out.jsonl"
    summary = run_tag_job(FlakyTagger(), src, out, chunk_size=4, progress=False)
    assert [o["id"] for o in read_jsonl(out)] == ["0", "1", "2", "4", "5"]
    assert summary.failures == 1 and summary.articles == 5
    (error,) = read_jsonl(errors_path(out))
    assert error["id"] == "3" and error["line"] == 4 and "RuntimeError: boom" in error["reason"]
