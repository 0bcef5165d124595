"""``rasd tag`` against hostile inputs, paths and interruptions (the regression suite of the
"rasd tag destroys or loses data" issue), plus property-based tests of its invariant:

    every good input record is in OUT exactly once, in input order, with its carried fields
    unchanged (re-serialised byte for byte); every bad record is in OUT.errors.jsonl.

The kill tests run ``rasd.cli.main(["tag", ...])`` in separate processes, SIGKILLed at random
moments and resumed. To keep them fast, a fork server imports torch once and forks one child per
run (the children are real, separate processes, killed with SIGKILL).
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rasd.cli import main
from rasd.corpus import Document
from rasd.inference import tag_outputs
from rasd.inference.batch import run_tag_job
from rasd.inference.records import derive_records
from rasd.inference.tag_outputs import errors_path
from rasd.inference.types import OUTPUT_FIELDS, Entity, EventScore, TaggedDocument, TaggedSentence
from rasd.modeling import RasdMeta
from rasd.training.tiny import build_tiny_model

ARTICLES = [
    "قصفت القوات الأمريكية قاعدة عين الأسد في بغداد يوم الاثنين. وقتل جنديان.",
    "أسقطت الدفاعات الجوية طائرة مسيرة فوق أربيل. وتبنت المقاومة الإسلامية الهجوم.",
    "سقطت صواريخ كاتيوشا على السفارة الأمريكية في بغداد مساء الأحد.",
]
BOM = b"\xef\xbb\xbf"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model, tokenizer = build_tiny_model([Document(str(i), t) for i, t in enumerate(ARTICLES)], vocab_size=300)
    meta = RasdMeta(max_length=24, stride=4, event_thresholds={t: 0.3 for t in model.event_types})
    return model.save_pretrained(tmp_path_factory.mktemp("model"), tokenizer, meta)


@pytest.fixture(scope="module")
def tagger(model_dir):
    from rasd.inference.tagger import Tagger

    return Tagger.from_pretrained(model_dir, device="cpu")


def tag(model_dir: Path, *args: str) -> int:
    return main(["tag", "--model", str(model_dir), "--no-progress", "--device", "cpu", *args])


def line_of(obj: object) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def write_lines(path: Path, lines: list) -> Path:
    path.write_bytes(b"".join((line if isinstance(line, bytes) else line_of(line)) + b"\n" for line in lines))
    return path


def _no_constants(name: str):
    raise AssertionError(f"non-standard JSON constant {name} in the output")


def strict_jsonl(path: Path) -> list[dict]:
    """Every line of ``path`` as standard JSON (no NaN/Infinity), split on \\n only."""
    raw = path.read_bytes()
    assert not raw or raw.endswith(b"\n"), "a torn last line"
    return [json.loads(line.decode("utf-8"), parse_constant=_no_constants) for line in raw.splitlines()]


def same(a: object, b: object) -> bool:
    """Equal as JSON, types and key order included (7 ≠ "7" ≠ 7.0 ≠ true)."""
    return json.dumps(a, ensure_ascii=False) == json.dumps(b, ensure_ascii=False)


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if x.startswith("rasd: error: ")]
    assert len(lines) == 1 and err.endswith(lines[0] + "\n"), err
    return lines[0][len("rasd: error: ") :]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def check_carried(record: dict, out: dict, auto_ids: set[str]) -> None:
    """``out`` carries ``record``'s fields: typed id, other fields top level or (colliding) under ``input``."""
    if record.get("id") in (None, ""):
        assert out["id"] in auto_ids, (out["id"], auto_ids)
    else:
        assert same(out["id"], record["id"])
    moved = {k: v for k, v in record.items() if k in OUTPUT_FIELDS and k not in ("id", "text")}
    for key, value in record.items():
        if key not in OUTPUT_FIELDS:
            assert same(out[key], value), key
    assert same(out.get("input", {}), moved)
    carried = [k for k in record if k not in OUTPUT_FIELDS]
    expected = ["id", "entities", "sentences", "events", "records", *carried, *(["input"] if moved else []), "_source"]
    assert list(out) == expected


def check_invariant(lines: list[bytes], kinds: list[str], out: Path, names: set[str], stem_ids: set[str]) -> None:
    """The job's invariant for input ``lines`` (each ``good``, ``bad`` or ``blank``) tagged into ``out``."""
    good = [(n, json.loads(lines[n - 1].removeprefix(BOM))) for n, k in enumerate(kinds, 1) if k == "good"]
    bad = [n for n, k in enumerate(kinds, 1) if k == "bad"]
    tagged = strict_jsonl(out)
    assert [t["_source"]["line"] for t in tagged] == [n for n, _ in good]  # each once, in input order
    for (n, record), t in zip(good, tagged, strict=True):
        assert t["_source"]["file"] in names
        check_carried(record, t, {f"{stem}:{n}" for stem in stem_ids})
    errors = strict_jsonl(errors_path(out))
    assert [e["line"] for e in errors] == bad
    assert all(set(e) == {"file", "line", "id", "reason"} and e["reason"] for e in errors)


# ----------------------------------------------------------------------------- 1. collisions


@pytest.mark.parametrize(
    "case",
    [
        "output-is-input",
        "records-is-input",
        "errors-file-is-input",
        "output-is-symlink-to-input",
        "output-is-hardlink-to-input",
        "output-spelled-differently",
        "records-is-output",
        "records-is-errors-file",
        "stdin-is-the-output",
        "directory-member-is-output",
    ],
)
def test_an_output_that_is_an_input_or_another_output_is_refused(
    model_dir, tmp_path, capsys, monkeypatch, request, case
):
    folder = tmp_path / "data"
    folder.mkdir()
    src = write_lines(folder / "in.jsonl", [{"id": "a", "text": ARTICLES[0]}, "garbage"])
    inp, out, extra = str(src), str(tmp_path / "out.jsonl"), []
    if case == "output-is-input":
        out = str(src)
    elif case == "records-is-input":
        extra = ["--records", str(src)]
    elif case == "errors-file-is-input":
        src = src.rename(folder / "X.errors.jsonl")
        inp, out = str(src), str(folder / "X.jsonl")
    elif case == "output-is-symlink-to-input":
        (tmp_path / "link.jsonl").symlink_to(src)
        out = str(tmp_path / "link.jsonl")
    elif case == "output-is-hardlink-to-input":
        os.link(src, tmp_path / "hard.jsonl")
        out = str(tmp_path / "hard.jsonl")
    elif case == "output-spelled-differently":
        out = str(folder / ".." / "data" / "in.jsonl")
    elif case == "records-is-output":
        extra = ["--records", out]
    elif case == "records-is-errors-file":
        extra = ["--records", str(tmp_path / "out.errors.jsonl")]
    elif case == "stdin-is-the-output":
        (tmp_path / "out.jsonl").write_bytes(src.read_bytes())
        inp = "-"
        stdin = open(tmp_path / "out.jsonl", encoding="utf-8")  # noqa: SIM115 - `< out.jsonl`
        request.addfinalizer(stdin.close)
        monkeypatch.setattr(sys, "stdin", stdin)
    elif case == "directory-member-is-output":
        (folder / "b.jsonl").symlink_to(tmp_path / "out.jsonl")  # dangling now, the output once written
        inp = str(folder)
    before = snapshot(tmp_path)
    assert tag(model_dir, "--input", inp, "--output", out, *extra) == 2
    message = one_error_line(capsys)
    assert "same file as" in message and "nothing written" in message
    assert snapshot(tmp_path) == before  # the input intact, nothing created


@pytest.mark.parametrize(
    ("output", "records", "expected"),
    [
        ("dir", None, "--output {t}/dir is a directory"),
        ("afile/out.jsonl", None, "--output {t}/afile/out.jsonl: {t}/afile is not a directory"),
        ("afile/deeper/out.jsonl", None, "--output {t}/afile/deeper/out.jsonl: {t}/afile is not a directory"),
        ("out.jsonl", "afile/r.csv", "--records {t}/afile/r.csv: {t}/afile is not a directory"),
        ("out.jsonl", "dir", "--records {t}/dir is a directory"),
    ],
)
def test_output_path_problems_are_one_line_status_2(model_dir, tmp_path, capsys, output, records, expected):
    src = write_lines(tmp_path / "in.jsonl", [{"text": ARTICLES[0]}])
    (tmp_path / "dir").mkdir()
    (tmp_path / "afile").write_text("x")
    before = snapshot(tmp_path)
    extra = [] if records is None else ["--records", str(tmp_path / records)]
    assert tag(model_dir, "--input", str(src), "--output", str(tmp_path / output), *extra) == 2
    assert one_error_line(capsys) == expected.format(t=tmp_path)
    assert snapshot(tmp_path) == before


# ----------------------------------------------------------------------------- 2. per-record failures


class HostileTagger:
    """Tags like a real tagger, except on texts naming a failure."""

    def tag(self, items, batch_size=32, show_progress_bar=False):
        for it in items:
            if "RECURSE" in it["text"]:
                raise RecursionError("maximum recursion depth exceeded")
            if "VALUE" in it["text"]:
                raise ValueError("bad\nvalue")  # a two-line message stays one error line
        docs = []
        for it in items:
            text = it["text"]
            label = "\ud800" if "SURROGATE" in text else "ACTOR"  # cannot be encoded as UTF-8
            score = float("nan") if "NAN" in text else 0.5
            entities = [Entity(0, 1, label, text[:1], score)]
            sentences = [TaggedSentence(0, len(text), [EventScore("ATTACK", 0.9)])]
            records = derive_records(it["id"], text, entities, sentences)
            docs.append(TaggedDocument(it["id"], text, entities, sentences, [], records))
        return docs


def test_any_per_record_failure_is_reported_and_the_job_goes_on(tmp_path):
    texts = ["ok 0", "RECURSE", "ok 2", "VALUE", "SURROGATE", "NAN score", "ok 6"]
    src = write_lines(tmp_path / "in.jsonl", [{"id": f"d{i}", "text": t} for i, t in enumerate(texts)])
    out = tmp_path / "out.jsonl"
    summary = run_tag_job(HostileTagger(), src, out, records_path=tmp_path / "r.csv", chunk_size=3, progress=False)
    assert [o["id"] for o in strict_jsonl(out)] == ["d0", "d2", "d6"]
    errors = strict_jsonl(errors_path(out))
    assert [(e["file"], e["line"], e["id"]) for e in errors] == [(str(src), n, f"d{n - 1}") for n in (2, 4, 5, 6)]
    reasons = [e["reason"] for e in errors]
    assert reasons[0] == "tagging failed: RecursionError: maximum recursion depth exceeded"
    assert reasons[1] == "tagging failed: ValueError: bad value"
    assert reasons[2].startswith("cannot write the result: UnicodeEncodeError")
    assert reasons[3].startswith("cannot write the result: ValueError: Out of range float values")
    assert summary.failures == 4 and summary.articles == 3
    assert "\ud800" not in (tmp_path / "r.csv").read_text(encoding="utf-8-sig", errors="surrogateescape")


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux /proc (a file whose read fails)")
def test_a_file_that_fails_to_read_inside_an_input_directory_is_reported(model_dir, tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    write_lines(folder / "a.jsonl", [{"id": "a", "text": ARTICLES[0]}])
    (folder / "b.jsonl").symlink_to("/proc/self/mem")  # a regular file whose read() fails with EIO
    write_lines(folder / "c.jsonl", [{"id": "c", "text": ARTICLES[1]}])
    out = tmp_path / "out.jsonl"
    assert tag(model_dir, "--input", str(folder), "--output", str(out)) == 1
    assert [o["id"] for o in strict_jsonl(out)] == ["a", "c"]
    (error,) = strict_jsonl(errors_path(out))
    assert error["file"] == str(folder / "b.jsonl") and error["reason"] == "cannot read: Input/output error"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_a_file_without_read_permission_inside_an_input_directory_is_reported(model_dir, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    write_lines(folder / "a.jsonl", [{"id": "a", "text": ARTICLES[0]}])
    locked = write_lines(folder / "b.jsonl", [{"id": "b", "text": ARTICLES[1]}])
    locked.chmod(0)
    out = tmp_path / "out.jsonl"
    assert tag(model_dir, "--input", str(folder), "--output", str(out)) == 1
    assert [o["id"] for o in strict_jsonl(out)] == ["a"]
    assert strict_jsonl(errors_path(out))[0]["reason"] == "cannot read: Permission denied"


def test_an_output_that_fails_mid_job_stops_it_after_the_finished_chunks(model_dir, tmp_path, capsys, monkeypatch):
    src = write_lines(tmp_path / "in.jsonl", [{"id": f"d{i}", "text": ARTICLES[i % 3]} for i in range(5)])
    out = tmp_path / "out.jsonl"
    real, calls = tag_outputs._write_all, []

    def disk_full(fh, data):
        if str(fh.name) == str(out):
            calls.append(1)
            if len(calls) == 2:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fh, data)

    monkeypatch.setattr(tag_outputs, "_write_all", disk_full)
    assert tag(model_dir, "--input", str(src), "--output", str(out), "--chunk-size", "2") == 2
    assert one_error_line(capsys) == f"cannot write --output {out}: No space left on device"
    assert [o["id"] for o in strict_jsonl(out)] == ["d0", "d1"]  # the first chunk, whole
    monkeypatch.setattr(tag_outputs, "_write_all", real)
    assert tag(model_dir, "--input", str(src), "--output", str(out), "--resume") == 0
    assert [o["id"] for o in strict_jsonl(out)] == [f"d{i}" for i in range(5)]


def test_a_model_that_cannot_load_leaves_no_output_files(tmp_path, capsys):
    src = write_lines(tmp_path / "in.jsonl", [{"text": ARTICLES[0]}])
    argv = ["--input", str(src), "--output", str(tmp_path / "o.jsonl"), "--records", str(tmp_path / "r.csv")]
    assert tag(tmp_path / "no-model", *argv) == 2
    assert one_error_line(capsys).startswith("cannot load model")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def test_a_line_over_the_limit_is_refused_unread(tmp_path):
    src = write_lines(
        tmp_path / "in.jsonl",
        [b'{"id": "big", "text": "x"' + b" " * 2000 + b"}", {"id": "ok", "text": "نص"}],
    )
    out = tmp_path / "out.jsonl"
    run_tag_job(HostileTagger(), src, out, max_chars=100, progress=False)
    assert [o["id"] for o in strict_jsonl(out)] == ["ok"]
    (error,) = strict_jsonl(errors_path(out))
    assert error["line"] == 1 and error["reason"] == "line longer than 1,600 bytes (16 × --max-chars)"


# ----------------------------------------------------------------------------- 3. outputs in the input directory


def test_an_output_inside_the_input_directory_is_refused_at_once(model_dir, tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    write_lines(folder / "a.jsonl", [{"id": "a", "text": ARTICLES[0]}, "garbage"])
    before = snapshot(tmp_path)
    start = time.perf_counter()
    for output in ("out.jsonl", "out.json", "OUT.JSONL"):  # out.json: its errors file out.json.errors.jsonl
        assert tag(model_dir, "--input", str(folder), "--output", str(folder / output)) == 2
        assert "inside the input directory" in one_error_line(capsys)
    assert time.perf_counter() - start < 10  # no loop reading its own errors file
    assert snapshot(tmp_path) == before
    # A CSV there is not read by the walk, and a subdirectory is not walked: both are fine.
    sub = folder / "sub"
    sub.mkdir()
    assert tag(model_dir, "--input", str(folder), "--output", str(sub / "o.jsonl"), "--records", str(folder / "r.csv")) == 1
    assert [o["id"] for o in strict_jsonl(sub / "o.jsonl")] == ["a"]
    assert len(strict_jsonl(sub / "o.errors.jsonl")) == 1


# ----------------------------------------------------------------------------- 4. resume identity


def cut_after(out: Path, keep: int, torn: int = 0) -> None:
    """Leave the first ``keep`` lines of ``out`` and ``torn`` bytes of the next one (an interrupted run)."""
    lines = out.read_bytes().splitlines(keepends=True)
    out.write_bytes(b"".join(lines[:keep]) + (lines[keep][:torn] if torn else b""))


def test_resume_tells_7_from_string_7_and_resumes_duplicated_ids(model_dir, tmp_path):
    rows = [
        {"id": 7, "text": ARTICLES[0]},
        {"id": "7", "text": ARTICLES[1]},
        {"id": "dup", "text": ARTICLES[2]},
        {"id": "dup", "text": ARTICLES[0] + " ثانية"},
        {"id": 7.0, "text": ARTICLES[1]},
    ]
    src = write_lines(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    assert tag(model_dir, "--input", str(src), "--output", str(out)) == 0
    full = strict_jsonl(out)
    assert [o["id"] for o in full] == [7, "7", "dup", "dup", 7.0]  # the input's ids, typed
    assert [o["_source"] for o in full] == [{"file": "in.jsonl", "line": n} for n in range(1, 6)]
    for keep in range(5):
        cut_after(out, keep, torn=10)
        assert tag(model_dir, "--input", str(src), "--output", str(out), "--resume") == 0
        resumed = strict_jsonl(out)
        assert same([(o["id"], o["_source"]) for o in resumed], [(o["id"], o["_source"]) for o in full])


def test_resume_from_stdin_after_a_file_run_with_automatic_ids(model_dir, tmp_path, monkeypatch):
    rows = [{"text": t} for t in ARTICLES] + [{"text": ARTICLES[0]}]  # no ids; a repeated text
    src = write_lines(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    assert tag(model_dir, "--input", str(src), "--output", str(out)) == 0
    assert [o["id"] for o in strict_jsonl(out)] == ["in:1", "in:2", "in:3", "in:4"]
    cut_after(out, 2, torn=5)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(src.read_bytes())))
    assert tag(model_dir, "--input", "-", "--output", str(out), "--resume") == 0
    resumed = strict_jsonl(out)
    assert [(o["id"], o["_source"]["line"]) for o in resumed] == [
        ("in:1", 1),
        ("in:2", 2),
        ("<stdin>:3", 3),
        ("<stdin>:4", 4),
    ]
    # ...and a file run resumes a stdin run the same way.
    cut_after(out, 3)
    assert tag(model_dir, "--input", str(src), "--output", str(out), "--resume") == 0
    assert [o["_source"]["line"] for o in strict_jsonl(out)] == [1, 2, 3, 4]


def test_resume_of_an_output_without_source_matches_each_id_once(model_dir, tmp_path):
    """Outputs of older versions have no ``_source``: their lines are matched by id, once each."""
    src = write_lines(tmp_path / "in.jsonl", [{"id": "x", "text": ARTICLES[0]}, {"id": "x", "text": ARTICLES[1]}])
    out = tmp_path / "out.jsonl"
    out.write_text(json.dumps({"id": "x", "entities": [], "sentences": [], "events": [], "records": []}) + "\n")
    assert tag(model_dir, "--input", str(src), "--output", str(out), "--resume") == 0
    tagged = strict_jsonl(out)
    assert [o["id"] for o in tagged] == ["x", "x"] and tagged[1]["_source"]["line"] == 2


# ----------------------------------------------------------------------------- 5. locking and repairs


@pytest.mark.skipif(tag_outputs.fcntl is None, reason="no fcntl.flock here")
def test_a_second_writer_is_refused_while_the_first_holds_the_output(model_dir, tmp_path, capsys):
    src = write_lines(tmp_path / "in.jsonl", [{"id": "a", "text": ARTICLES[0]}])
    out = tmp_path / "out.jsonl"
    out.write_bytes(b'{"id": "being written"}\n')
    before = snapshot(tmp_path)
    with open(out, "ab") as held:
        fcntl = tag_outputs.fcntl
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # the first job
        for resume in ([], ["--resume"]):
            assert tag(model_dir, "--input", str(src), "--output", str(out), *resume) == 2
            assert one_error_line(capsys) == (
                f"--output {out} is locked by another rasd tag writing it: wait for that job to finish "
                "or choose another --output"
            )
        assert snapshot(tmp_path) == before  # not truncated, no errors file
    assert tag(model_dir, "--input", str(src), "--output", str(out)) == 0  # released: runs


def test_without_fcntl_a_warning_says_the_output_is_not_locked(model_dir, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(tag_outputs, "fcntl", None)
    src = write_lines(tmp_path / "in.jsonl", [{"id": "a", "text": "نص"}])
    run_tag_job(HostileTagger(), src, tmp_path / "out.jsonl", progress=False)
    assert f"{tmp_path / 'out.jsonl'}: file locking is not available here" in caplog.text


def test_resume_drops_a_torn_last_line_and_says_so(model_dir, tmp_path, caplog):
    src = write_lines(tmp_path / "in.jsonl", [{"id": f"d{i}", "text": ARTICLES[i % 3]} for i in range(4)])
    out = tmp_path / "out.jsonl"
    run_tag_job(HostileTagger(), src, out, progress=False)
    cut_after(out, 2, torn=30)
    run_tag_job(HostileTagger(), src, out, resume=True, progress=False)
    assert [o["id"] for o in strict_jsonl(out)] == ["d0", "d1", "d2", "d3"]
    assert f"{out}:3: dropping an incomplete last line (30 bytes)" in caplog.text


class CountingTagger(HostileTagger):
    def __init__(self):
        self.seen: list[str] = []

    def tag(self, items, batch_size=32, show_progress_bar=False):
        self.seen += [it["id"] for it in items]
        return super().tag(items, batch_size, show_progress_bar)


@pytest.mark.parametrize("corrupt", [b"{not json", b"", b'"a string"', b"\x00" * 20])
def test_resume_removes_a_corrupt_middle_line_without_reordering(tmp_path, caplog, corrupt):
    rows = [{"id": f"d{i}", "text": f"نص {i}"} for i in range(6)]
    src = write_lines(tmp_path / "in.jsonl", rows)
    out, rec = tmp_path / "out.jsonl", tmp_path / "r.csv"
    run_tag_job(HostileTagger(), src, out, records_path=rec, progress=False)
    full = out.read_bytes().splitlines(keepends=True)
    out.write_bytes(b"".join(full[:2]) + corrupt + b"\n" + b"".join(full[3:5]))  # d2 corrupt, d5 never written
    counting = CountingTagger()
    run_tag_job(counting, src, out, records_path=rec, resume=True, progress=False)
    assert out.read_bytes().splitlines(keepends=True) == full  # in input order, each once, d3 d4 unchanged
    assert counting.seen == ["d2", "d5"]  # only the lost and the missing articles were tagged
    assert f"{out}:3: removing a corrupt line" in caplog.text
    table = list(csv.DictReader(io.StringIO(rec.read_text(encoding="utf-8-sig"))))
    assert [r["article_id"] for r in table] == [f"d{i}" for i in range(6)]  # one ATTACK record each


# ----------------------------------------------------------------------------- 6. carried fields


def test_input_fields_named_like_output_fields_are_kept_under_input(model_dir, tmp_path):
    row = {
        "id": "a",
        "text": ARTICLES[0],
        "entities": [{"start": 0, "end": 4, "label": "GOLD"}],
        "events": "gold events",
        "records": None,
        "input": {"raw": 1},
        "_source": {"index": "news"},
        "source": "wire",
        "score": 1e-7,
    }
    src = write_lines(tmp_path / "in.jsonl", [row])
    out = tmp_path / "out.jsonl"
    assert tag(model_dir, "--input", str(src), "--output", str(out)) == 0
    (o,) = strict_jsonl(out)
    check_carried(row, o, set())
    assert o["input"] == {k: row[k] for k in ("entities", "events", "records", "input", "_source")}
    assert o["_source"] == {"file": "in.jsonl", "line": 1} and o["source"] == "wire"


def test_given_sentences_are_the_boundaries_and_kept_under_input(model_dir, tmp_path):
    text = ARTICLES[0]
    first = text.index(".") + 1
    rows = [
        {"id": "pairs", "text": text, "sentences": [[0, len(text)]]},
        {"id": "objects", "text": text, "sentences": [{"start": 0, "end": first, "events": ["ATTACK"]}]},
        {"id": "empty", "text": text, "sentences": []},  # empty: the splitter
        {"id": "outside", "text": text, "sentences": [[0, len(text) + 5]]},
        {"id": "reversed", "text": text, "sentences": [[5, 2]]},
        {"id": "not-a-list", "text": text, "sentences": "0-10"},
        {"id": "junk", "text": text, "sentences": [["a", "b"]]},
    ]
    src = write_lines(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    assert tag(model_dir, "--input", str(src), "--output", str(out)) == 1
    tagged = {o["id"]: o for o in strict_jsonl(out)}
    assert [(s["start"], s["end"]) for s in tagged["pairs"]["sentences"]] == [(0, len(text))]
    assert [(s["start"], s["end"]) for s in tagged["objects"]["sentences"]] == [(0, first)]
    assert len(tagged["empty"]["sentences"]) == 2
    assert tagged["objects"]["input"]["sentences"] == rows[1]["sentences"]
    errors = {e["id"]: e["reason"] for e in strict_jsonl(errors_path(out))}
    assert errors == {
        "outside": f"sentence 0 [0, {len(text) + 5}) is not inside the text ({len(text)} characters)",
        "reversed": f"sentence 0 [5, 2) is not inside the text ({len(text)} characters)",
        "not-a-list": "field 'sentences' must be a list of [start, end] pairs or {start, end} objects",
        "junk": "field 'sentences' must be a list of [start, end] pairs or {start, end} objects",
    }


def test_nan_and_infinity_are_refused_at_read_time_and_never_written(model_dir, tmp_path):
    src = write_lines(
        tmp_path / "in.jsonl",
        [
            b'{"id": "nan", "text": "x", "v": NaN}',
            b'{"id": "inf", "text": "x", "meta": {"deep": [1, Infinity]}}',
            b'{"id": "-inf", "text": "x", "v": -Infinity}',
            b'{"id": "overflow", "text": "x", "v": 1e400}',
            b'{"id": "ok", "text": "x", "v": 1e308, "w": -0.0}',
        ],
    )
    out = tmp_path / "out.jsonl"
    assert tag(model_dir, "--input", str(src), "--output", str(out)) == 1
    (o,) = strict_jsonl(out)
    assert o["id"] == "ok" and same(o["v"], 1e308) and same(o["w"], -0.0)
    errors = strict_jsonl(errors_path(out))
    # Refused by the one JSONL reader (rasd.jsonl.parse_line), before any field is looked at.
    assert [(e["line"], e["reason"]) for e in errors] == [
        (1, "non-standard JSON number NaN (NaN and Infinity are not JSON)"),
        (2, "non-standard JSON number Infinity (NaN and Infinity are not JSON)"),
        (3, "non-standard JSON number -Infinity (NaN and Infinity are not JSON)"),
        (4, "number 1e400 is out of range for a float"),
    ]


def test_a_byte_order_mark_does_not_reject_a_good_article(model_dir, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jsonl").write_bytes(BOM + line_of({"id": "a", "text": ARTICLES[0]}) + b"\r\n")
    (folder / "b.txt").write_bytes(BOM + ARTICLES[1].encode())
    out = tmp_path / "out.jsonl"
    assert tag(model_dir, "--input", str(folder), "--output", str(out)) == 0
    a, b = strict_jsonl(out)
    assert a["id"] == "a" and b["id"] == "b"
    assert all(ARTICLES[1][e["start"] : e["end"]] == e["text"] for e in b["entities"])  # offsets without the BOM


def test_output_lines_survive_any_line_splitter(tmp_path):
    text = "نص\u2028سطر\u2029آخر\x85نهاية"
    src = write_lines(tmp_path / "in.jsonl", [{"id": "a\u2028b", "text": text, "note": "\u2028\x85\u2029"}])
    out = tmp_path / "out.jsonl"
    run_tag_job(HostileTagger(), src, out, progress=False)
    assert len(out.read_text(encoding="utf-8").splitlines()) == 1  # str.splitlines cuts at U+2028, U+0085 too
    (o,) = strict_jsonl(out)
    assert o["id"] == "a\u2028b" and o["note"] == "\u2028\x85\u2029"


# ----------------------------------------------------------------------------- 7. directory entries


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX file types")
def test_directory_entries_are_read_or_reported_never_skipped_silently(model_dir, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="rasd.inference.tag_inputs")
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "A.TXT").write_text(ARTICLES[0], encoding="utf-8")
    write_lines(folder / "b.Jsonl", [{"id": "b", "text": ARTICLES[1]}])
    os.mkfifo(folder / "c.jsonl")  # reading it would block: reported instead
    (folder / "d.jsonl").symlink_to(folder / "missing.jsonl")
    (folder / "e.txt").symlink_to(folder / "e.txt")
    (folder / "f.jsonl").mkdir()
    (folder / "g.jsonl").symlink_to(folder / "b.Jsonl")  # a link to a file: read
    (folder / "notes.md").write_text("not an input")
    (folder / "sub").mkdir()
    odd = os.fsdecode(b"h\xff.jsonl")  # not UTF-8 on disk
    write_lines(folder / odd, [{"text": ARTICLES[2]}])
    out = tmp_path / "out.jsonl"
    assert tag(model_dir, "--input", str(folder), "--output", str(out)) == 1
    tagged = strict_jsonl(out)
    assert [(o["id"], o["_source"]["file"]) for o in tagged] == [
        ("A", "A.TXT"),
        ("b", "b.Jsonl"),
        ("b", "g.jsonl"),
        ("h\\xff:1", "h\\xff.jsonl"),
    ]
    errors = strict_jsonl(errors_path(out))
    assert [(Path(e["file"]).name, e["line"], e["reason"]) for e in errors] == [
        ("c.jsonl", None, "a FIFO (named pipe), not a regular file: not read"),
        ("d.jsonl", None, "broken symbolic link"),
        ("e.txt", None, "symbolic link loop"),
        ("f.jsonl", None, "a directory (directories inside the input directory are not read)"),
    ]
    assert f"{folder}: not reading 2 entries not named *.jsonl or *.txt: notes.md, sub" in caplog.text


# ----------------------------------------------------------------------------- 8. properties

WORDS = ["قصفت", "القوات", "قاعدة", "بغداد", "صواريخ", "طائرة", "مسيرة", ".", "،", " ", "\n", "\u2028", "\x85", "😀", "x"]
KEYS = ["source", "meta", "n", "entities", "events", "records", "input", "_source", "ملاحظة", "a b", ""]
BOM_LATER = BOM + b'{"text": "a BOM not on line 1"}'
BAD_LINES = [
    b'{"id": "broken", "text": ',
    b'{"id": "no-text"}',
    b'{"id": "int-text", "text": 42}',
    b'{"id": "nan", "text": "x", "v": NaN}',
    b'{"id": "inf", "text": "x", "v": [Infinity]}',
    b'{"text": "x", "v": 1e999}',
    b'{"id": "bad-utf8", "text": "\xff\xfe"}',
    b'{"id": "surrogate", "text": "\\udc00"}',
    b'{"id": "deep", "text": "x", "v": ' + b"[" * 150 + b"]" * 150 + b"}",
    b'{"text": "x", "n": ' + b"9" * 5000 + b"}",
    b'{"id": "long", "text": "' + "ب".encode() * 300 + b'"}',
    b'{"id": "wide", "text": "x"' + b" " * 4000 + b"}",
    b'{"id": "sentences", "text": "xy", "sentences": [[1, 9]]}',
    b"[1, 2]",
    b'"just a string"',
    b"null",
    BOM_LATER,
]
MAX_CHARS = 200

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
ids = st.none() | st.just("") | st.sampled_from(["a", "7", "dup"]) | st.integers(0, 9) | st.sampled_from([7.0, True])


@st.composite
def good_records(draw) -> dict:
    record: dict = {}
    doc_id = draw(ids)
    if doc_id is not None or draw(st.booleans()):
        record["id"] = doc_id
    text = "".join(draw(st.lists(st.sampled_from(WORDS), max_size=12)))
    record["text"] = text
    for key in draw(st.lists(st.sampled_from(KEYS), max_size=3, unique=True)):
        record[key] = draw(json_values)
    if text and draw(st.booleans()):
        record["sentences"] = [[0, len(text)]]
    if draw(st.booleans()):  # keys in another order
        record = dict(reversed(list(record.items())))
    return record


def _is_record(raw: bytes) -> bool:
    try:
        obj = json.loads(raw.removeprefix(BOM))
    except (ValueError, RecursionError):
        return False
    return isinstance(obj, dict)


@st.composite
def input_lines(draw, max_lines: int = 12) -> tuple[list[bytes], list[str]]:
    """Random JSONL input: good records, known bad lines, random bytes, blank lines."""
    lines, kinds = [], []
    for _ in range(draw(st.integers(1, max_lines))):
        kind = draw(st.sampled_from(["good", "good", "good", "bad", "garbage", "blank"]))
        if kind == "good":
            lines.append(line_of(draw(good_records())))
        elif kind == "bad":
            lines.append(draw(st.sampled_from(BAD_LINES)))
        elif kind == "blank":
            lines.append(draw(st.sampled_from([b"", b" ", b"\t\r", b"\x0c"])))
        else:
            raw = draw(st.binary(min_size=1, max_size=24).filter(lambda b: b"\n" not in b))
            if not raw.strip():
                kind = "blank"
            elif _is_record(raw):
                kind = "bad"  # random bytes that parse to an object: never one with a string text
                raw = b'{"no": "text"}'
            lines.append(raw)
        kinds.append("bad" if kind == "garbage" else kind)
    if kinds[0] == "good" and draw(st.booleans()):
        lines[0] = BOM + lines[0]
    if lines[0] == BOM_LATER:  # on line 1 the mark is skipped: a good record
        kinds[0] = "good"
    return lines, kinds


@contextlib.contextmanager
def scratch(base: Path):
    folder = Path(tempfile.mkdtemp(dir=base))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


PROPERTY = settings(
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


@settings(PROPERTY, max_examples=20)
@given(data=input_lines(), chunk=st.integers(1, 4))
def test_random_input_lines_keep_the_invariant(tagger, tmp_path, data, chunk):
    lines, kinds = data
    with scratch(tmp_path) as folder:
        src = folder / "in.jsonl"
        src.write_bytes(b"\n".join(lines) + b"\n")
        out = folder / "out.jsonl"
        summary = run_tag_job(tagger, src, out, max_chars=MAX_CHARS, chunk_size=chunk, progress=False)
        check_invariant(lines, kinds, out, {"in.jsonl"}, {"in"})
        assert summary.failures == kinds.count("bad") and summary.articles == kinds.count("good")


@settings(PROPERTY, max_examples=15)
@given(data=input_lines(), chunk=st.integers(1, 4), cut=st.floats(0, 1), corrupt=st.none() | st.floats(0, 1))
def test_resume_after_any_cut_or_corrupt_line_keeps_the_invariant(tagger, tmp_path, data, chunk, cut, corrupt):
    """An interrupted output (cut at any byte), maybe with a line garbled, resumes to the invariant."""
    lines, kinds = data
    with scratch(tmp_path) as folder:
        src = folder / "in.jsonl"
        src.write_bytes(b"\n".join(lines) + b"\n")
        out = folder / "out.jsonl"
        run_tag_job(tagger, src, out, max_chars=MAX_CHARS, chunk_size=chunk, progress=False)
        raw = out.read_bytes()
        raw = raw[: int(cut * len(raw))]
        if corrupt is not None and raw.count(b"\n") > 1:
            parts = raw.split(b"\n")
            k = int(corrupt * (len(parts) - 1))
            parts[k] = parts[k][: len(parts[k]) // 2] + b"\xff"
            raw = b"\n".join(parts)
        out.write_bytes(raw)
        run_tag_job(tagger, src, out, max_chars=MAX_CHARS, chunk_size=chunk, resume=True, progress=False)
        check_invariant(lines, kinds, out, {"in.jsonl"}, {"in"})


# ----------------------------------------------------------------------------- killed with SIGKILL

SERVER = r"""
import json, os, signal, sys, threading, time
os.environ["TOKENIZERS_PARALLELISM"] = "false"
import tqdm.std
from rasd.cli import build_parser, main
from rasd.inference.tagger import Tagger

# No tqdm monitor thread, and a process-local tqdm lock: its default multiprocessing lock would be
# shared by the forked children, and a child killed holding it would block all later ones.
tqdm.std.tqdm.monitor_interval = 0
tqdm.std.tqdm.set_lock(threading.RLock())
# Import and warm up everything once, on one thread; each run is a fork of this process.
build_parser()
Tagger.from_pretrained(sys.argv[1], device="cpu", num_threads=1)
assert threading.active_count() == 1, threading.enumerate()

for request in sys.stdin:
    req = json.loads(request)
    if req["op"] == "wait":  # reap the child; one that hangs is killed and reported
        deadline, hung = time.monotonic() + req["timeout"], False
        while not (status := os.waitpid(req["pid"], os.WNOHANG))[0]:
            if time.monotonic() > deadline:
                hung = True
                os.kill(req["pid"], signal.SIGKILL)
                status = os.waitpid(req["pid"], 0)
                break
            time.sleep(0.002)
        print(json.dumps({"code": os.waitstatus_to_exitcode(status[1]), "hung": hung}), flush=True)
        continue
    pid = os.fork()
    if pid == 0:
        code = 99
        try:
            tqdm.std.tqdm.set_lock(threading.RLock())
            os.dup2(os.open(req["stdin"], os.O_RDONLY), 0)
            log = os.open(req["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(log, 1)
            os.dup2(log, 2)
            sys.stdin = open(0, encoding="utf-8", closefd=False)
            sys.stdout = open(1, "w", encoding="utf-8", closefd=False)
            sys.stderr = open(2, "w", encoding="utf-8", closefd=False)
            code = main(req["argv"])
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:
            import traceback
            traceback.print_exc()
            sys.stderr.flush()
        os._exit(code)
    print(json.dumps({"pid": pid}), flush=True)
"""


class ForkServer:
    """Runs ``rasd.cli.main(argv)`` in forked child processes of one long-lived Python process."""

    def __init__(self, model_dir: Path) -> None:
        env = dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
        self.proc = subprocess.Popen(
            [sys.executable, "-P", "-c", SERVER, str(model_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )

    def _ask(self, **request) -> dict:
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline()
        assert reply, "the fork server died"
        return json.loads(reply)

    def start(self, argv: list[str], stdin: Path, log: Path) -> int:
        return self._ask(op="run", argv=argv, stdin=str(stdin), log=str(log))["pid"]

    def wait(self, pid: int, log: Path, timeout: float = 60) -> int:
        reply = self._ask(op="wait", pid=pid, timeout=timeout)
        assert not reply["hung"], "a run hung:\n" + log.read_text(encoding="utf-8", errors="replace")
        return reply["code"]

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def fork_server(model_dir):
    if not hasattr(os, "fork"):
        pytest.skip("needs os.fork")
    server = ForkServer(model_dir)
    yield server
    server.close()


def complete_lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


kills = st.lists(
    st.tuples(st.integers(0, 8), st.sampled_from([0.0, 0.0005, 0.002, 0.01, 0.05, 0.2]), st.booleans()),
    min_size=1,
    max_size=3,
)


def kill_and_resume_trial(server: ForkServer, model_dir: Path, base: Path, data, chunk: int, schedule) -> None:
    """Runs killed by SIGKILL after ``after`` output lines and ``delay`` seconds, each resumed (from the
    file or from stdin), then a last run to the end: the invariant holds and the CSV mirrors OUT."""
    lines, kinds = data
    with scratch(base) as folder:
        src = folder / "in.jsonl"
        src.write_bytes(b"\n".join(lines) + b"\n")
        out, rec, log = folder / "out.jsonl", folder / "r.csv", folder / "log.txt"
        common = ["tag", "--model", str(model_dir), "--no-progress", "--device", "cpu", "--num-threads", "1"]
        common += ["--output", str(out), "--records", str(rec), "--max-chars", str(MAX_CHARS), "--chunk-size", str(chunk)]
        for k, (after, delay, use_stdin) in enumerate([*schedule, (None, 0.0, False)]):
            argv = [*common, "--input", "-" if use_stdin else str(src), *(["--resume"] if k else [])]
            pid = server.start(argv, src if use_stdin else Path(os.devnull), log)
            if after is not None:
                deadline = time.monotonic() + 10
                while complete_lines(out) < min(after, kinds.count("good")) and time.monotonic() < deadline:
                    time.sleep(0.0005)
                time.sleep(delay)
                os.kill(pid, signal.SIGKILL)  # a child that already ended is a zombie until waited: harmless
            code = server.wait(pid, log)
            if after is None:
                assert code == (1 if "bad" in kinds else 0), log.read_text(encoding="utf-8", errors="replace")
            else:
                assert code in (0, 1, -signal.SIGKILL), log.read_text(encoding="utf-8", errors="replace")
        check_invariant(lines, kinds, out, {"in.jsonl", "-"}, {"in", "<stdin>"})
        table = list(csv.DictReader(io.StringIO(rec.read_bytes().decode("utf-8-sig"))))
        assert len(table) == sum(len(o["records"]) for o in strict_jsonl(out))


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX signals")
@settings(PROPERTY, max_examples=20)
@given(data=input_lines(max_lines=8), chunk=st.integers(1, 4), schedule=kills)
def test_killed_and_resumed_runs_keep_the_invariant(fork_server, model_dir, tmp_path, data, chunk, schedule):
    kill_and_resume_trial(fork_server, model_dir, tmp_path, data, chunk, schedule)


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX signals")
@settings(PROPERTY, max_examples=200)
@given(data=input_lines(max_lines=16), chunk=st.integers(1, 4), schedule=kills)
def test_killed_and_resumed_runs_keep_the_invariant_many(fork_server, model_dir, tmp_path, data, chunk, schedule):
    kill_and_resume_trial(fork_server, model_dir, tmp_path, data, chunk, schedule)


@pytest.mark.skipif(tag_outputs.fcntl is None, reason="no fcntl.flock here")
def test_a_second_process_on_the_same_output_is_refused_and_the_first_finishes(fork_server, model_dir, tmp_path):
    rows = [{"id": f"d{i}", "text": ARTICLES[i % 3] + f" رقم {i}"} for i in range(300)]
    src = write_lines(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    argv = ["tag", "--model", str(model_dir), "--no-progress", "--device", "cpu", "--num-threads", "1"]
    argv += ["--input", str(src), "--output", str(out), "--chunk-size", "4"]
    first = fork_server.start(argv, Path(os.devnull), tmp_path / "first.log")
    deadline = time.monotonic() + 30
    while complete_lines(out) < 1 and time.monotonic() < deadline:  # the first job holds the lock
        time.sleep(0.001)
    second = fork_server.start([*argv, "--chunk-size", "1"], Path(os.devnull), tmp_path / "second.log")
    assert fork_server.wait(second, tmp_path / "second.log") == 2
    assert complete_lines(out) < len(rows), "the first job ended too soon for the test"
    assert f"rasd: error: --output {out} is locked by another rasd tag" in (tmp_path / "second.log").read_text()
    assert fork_server.wait(first, tmp_path / "first.log") == 0
    assert [o["id"] for o in strict_jsonl(out)] == [r["id"] for r in rows]
