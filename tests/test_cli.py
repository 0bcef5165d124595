"""The one error style and exit statuses of ``rasd``, the one JSONL reader, and ``--output -``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from rasd import cli
from rasd.cli import EXIT_DATA, EXIT_OK, EXIT_USAGE, main
from rasd.corpus import Document, RecordError, load_documents, write_jsonl
from rasd.inference.tag_outputs import errors_path
from rasd.jsonl import MAX_DEPTH, read_jsonl
from rasd.modeling import RasdMeta
from rasd.training.tiny import build_tiny_model

ARTICLES = [
    "قصفت القوات الأمريكية قاعدة عين الأسد في بغداد يوم الاثنين. وقتل جنديان.",
    "أسقطت الدفاعات الجوية طائرة مسيرة فوق أربيل. وتبنت المقاومة الإسلامية الهجوم.",
]
DEEP = "[" * 100_000 + "]" * 100_000  # too deep for json's parser: RecursionError
NESTED = '{"id": "nested", "text": "x", "meta": ' + "[" * 500 + "]" * 500 + "}"  # parses, but too deep
HUGE = '{"id": "huge-int", "text": "x", "n": ' + "7" * 5000 + "}"  # over Python's 4300-digit limit
SURROGATE = '{"id": "surrogate", "text": "\\ud800"}'  # a lone surrogate: cannot be written as UTF-8


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model, tokenizer = build_tiny_model([Document(str(i), t) for i, t in enumerate(ARTICLES)], vocab_size=300)
    meta = RasdMeta(max_length=24, stride=4)
    return model.save_pretrained(tmp_path_factory.mktemp("model"), tokenizer, meta)


def write_lines(path: Path, lines: list[str | bytes]) -> Path:
    path.write_bytes(b"".join((x.encode("utf-8") if isinstance(x, str) else x) + b"\n" for x in lines))
    return path


def one_error_line(capsys) -> str:
    """stderr must be exactly one ``rasd: error:`` line; return its message."""
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("rasd: error: "), err
    return err[len("rasd: error: ") : -1]


def good_doc(doc_id: str, text: str = ARTICLES[0]) -> str:
    return json.dumps({"id": doc_id, "text": text, "entities": [], "sentences": []}, ensure_ascii=False)


# ----------------------------------------------------------------------------- the line reader


def test_reader_reports_each_poison_line_and_keeps_the_good_ones(tmp_path):
    path = write_lines(
        tmp_path / "in.jsonl",
        [good_doc("a"), '{"id": "broken", "text": ', DEEP, good_doc("b"), HUGE, NESTED, SURROGATE, b"\xff{}", good_doc("c")],
    )
    items = list(read_jsonl(path))
    assert [(line, obj["id"]) for line, obj in items if not isinstance(obj, RecordError)] == [(1, "a"), (4, "b"), (9, "c")]
    errors = {line: str(obj) for line, obj in items if isinstance(obj, RecordError)}
    assert errors == {
        2: f"{path}:2: invalid JSON: Expecting value (column 26)",
        3: f"{path}:3: JSON nested deeper than {MAX_DEPTH} levels",
        5: f"{path}:5: invalid JSON: Exceeds the limit (4300 digits) for integer string conversion: "
        "value has 5000 digits; use sys.set_int_max_str_digits() to increase the limit",
        6: f"{path}:6: JSON nested deeper than {MAX_DEPTH} levels",
        7: f"{path}:7: JSON string with a lone surrogate \\ud800 (not valid UTF-8)",
        8: f"{path}:8: invalid UTF-8 at byte 0",
    }
    assert all("\n" not in message for message in errors.values())


def test_reader_accepts_crlf_and_a_byte_order_mark(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + good_doc("a").encode() + b"\r\n\r\n" + good_doc("b").encode() + b"\r\n")
    assert [(line, obj["id"]) for line, obj in read_jsonl(path)] == [(1, "a"), (3, "b")]


@pytest.mark.parametrize(("line", "reason"), [(DEEP, "nested deeper"), (HUGE, "4300 digits")])
def test_corpus_loading_stops_on_the_bad_line_naming_file_and_line(tmp_path, line, reason):
    path = write_lines(tmp_path / "c.jsonl", [good_doc("a"), line, good_doc("b")])
    with pytest.raises(RecordError) as caught:
        load_documents(path)
    assert (caught.value.path, caught.value.line) == (str(path), 2) and reason in caught.value.reason
    assert str(caught.value).startswith(f"{path}:2: ")


def test_validator_reports_poison_lines_and_checks_the_rest(tmp_path, capsys):
    path = write_lines(tmp_path / "c.jsonl", [DEEP, HUGE, good_doc("a").replace('"entities"', '"entitie"')])
    assert main(["validate", str(path)]) == EXIT_DATA
    out = capsys.readouterr().out
    assert f"{path}:1 error: JSON nested deeper than {MAX_DEPTH} levels" in out
    assert f"{path}:2 error: invalid JSON: Exceeds the limit (4300 digits)" in out
    assert f"{path}:3 [a] error: missing field 'entities'" in out  # the line after them is still checked


def test_stats_on_a_bad_record_is_one_line_status_1(tmp_path, capsys):
    path = write_lines(tmp_path / "c.jsonl", [good_doc("a"), HUGE])
    assert main(["stats", str(path)]) == EXIT_DATA
    message = one_error_line(capsys)
    assert message.startswith(f"{path}:2: invalid JSON: Exceeds the limit") and "rasd validate" in message


# ----------------------------------------------------------------------------- errors and statuses


def test_missing_input_file_is_one_line_status_2(tmp_path, capsys, model_dir):
    nope = tmp_path / "nope.jsonl"
    assert main(["stats", str(nope)]) == EXIT_USAGE
    assert one_error_line(capsys) == f"{nope}: no such file or directory"
    assert main(["convert", "to-conll", str(nope), str(tmp_path / "o.conll")]) == EXIT_USAGE
    assert one_error_line(capsys) == f"{nope}: no such file or directory"
    assert main(["convert", "markup", str(tmp_path / "nope.txt"), str(tmp_path / "o.jsonl")]) == EXIT_USAGE
    assert one_error_line(capsys) == f"{tmp_path / 'nope.txt'}: no such file or directory"
    assert main(["evaluate", "--model", str(model_dir), "--data", str(nope)]) == EXIT_USAGE
    assert str(nope) in one_error_line(capsys)
    assert main(["tag", "--model", str(model_dir), "--input", str(nope), "--output", str(tmp_path / "o")]) == 2
    assert one_error_line(capsys) == f"no such input file or directory: {nope}"
    assert not (tmp_path / "o").exists()


def test_bad_config_key_is_one_line_status_2(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("training: {epochs: 1}\n", encoding="utf-8")
    assert main(["train", "--config", str(config), "training.epoch=1"]) == EXIT_USAGE
    assert "did you mean training.epochs" in one_error_line(capsys)
    config.write_text("training: [unclosed\n", encoding="utf-8")
    assert main(["train", "--config", str(config)]) == EXIT_USAGE
    assert one_error_line(capsys).startswith(f"{config}: invalid YAML: ")


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["evaluate", "--model", "m", "--data", "d", "--batch-size", "0"], "--batch-size"),
        (["tag", "--model", "m", "--input", "i", "--output", "o", "--batch-size", "0"], "--batch-size"),
        (["tag", "--model", "m", "--input", "i", "--output", "o", "--token-budget", "-5"], "--token-budget"),
        (["tag", "--model", "m", "--input", "i", "--output", "o", "--num-threads", "x"], "--num-threads"),
        (["train", "--config", "c.yaml", "--cv", "0"], "--cv"),
        (["convert", "conll", "in", "out", "--sentences-per-doc", "0"], "--sentences-per-doc"),
    ],
)
def test_counts_must_be_positive(capsys, argv, option):
    assert main(argv) == EXIT_USAGE
    message = one_error_line(capsys)
    assert message.startswith(f"argument {option}: must be a positive integer, got ")
    assert message.endswith(f"(see `rasd {argv[0]}{' conll' if argv[0] == 'convert' else ''} --help`)")


def test_usage_errors_are_one_line_status_2(tmp_path, capsys):
    assert main(["tag", "--model", "m", "--input", "i"]) == EXIT_USAGE
    assert "the following arguments are required: --output" in one_error_line(capsys)
    assert main(["train", "--config", "c.yaml", "--cv", "1"]) == EXIT_USAGE
    assert one_error_line(capsys) == "--cv: k-fold cross-validation needs K ≥ 2 folds"
    assert main(["convert", "to-conll", "only-one"]) == EXIT_USAGE
    assert one_error_line(capsys) == "to-conll needs IN... OUT"
    assert main(["convert", "conll", "in", "out", "--map", "PERS"]) == EXIT_USAGE
    assert one_error_line(capsys) == "--map: bad label mapping 'PERS' (expected SRC=DST)"
    assert main(["tag", "--model", "m", "--input", "i", "--output", "-", "--resume"]) == EXIT_USAGE
    assert one_error_line(capsys) == "--resume needs an --output file, not stdout"


def test_unloadable_model_is_one_line_status_2(tmp_path, capsys):
    src = write_lines(tmp_path / "in.jsonl", [good_doc("a")])
    argv = ["tag", "--model", str(tmp_path / "no-model"), "--input", str(src), "--output", str(tmp_path / "o.jsonl")]
    assert main([*argv, "--device", "cpu"]) == EXIT_USAGE
    assert one_error_line(capsys).startswith(f"cannot load model {tmp_path / 'no-model'} on cpu: ")


def test_missing_optional_module_is_named(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "yaml", None)  # `import yaml` now fails as if not installed
    assert main(["train", "--config", str(tmp_path / "c.yaml")]) == EXIT_USAGE
    assert one_error_line(capsys) == "no module named 'yaml': this command needs it installed"


def test_a_command_module_that_fails_to_import_is_not_hidden(monkeypatch):
    monkeypatch.setattr(cli, "COMMANDS", [*cli.COMMANDS, "rasd.commands.no_such_command"])
    with pytest.raises(ModuleNotFoundError, match="no_such_command"):
        cli.build_parser()


def test_help_documents_the_exit_statuses(capsys):
    assert main(["--help"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "exit status: 0 success; 1 bad input data" in " ".join(out.split())
    for command in ("validate", "tag", "evaluate", "train", "convert"):
        assert main([command, "--help"]) == EXIT_OK
        assert "2 the command could not run" in " ".join(capsys.readouterr().out.split()), command
    assert "0     success" in cli.__doc__ and "2     the command could not run" in cli.__doc__


# ----------------------------------------------------------------------------- --output -


def test_tag_output_dash_writes_jsonl_to_stdout_and_skips_bad_lines(model_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    src = write_lines(tmp_path / "in.jsonl", [good_doc("a"), DEEP, HUGE, good_doc("b", ARTICLES[1])])
    status = main(["tag", "--model", str(model_dir), "--no-progress", "--device", "cpu", "--input", str(src), "--output", "-"])
    assert status == EXIT_DATA  # two inputs skipped
    captured = capsys.readouterr()
    tagged = [json.loads(line) for line in captured.out.splitlines()]
    assert [t["id"] for t in tagged] == ["a", "b"]
    assert all(list(t)[:5] == ["id", "entities", "sentences", "events", "records"] for t in tagged)
    assert "articles: 2 tagged, 0 skipped (already in output), 2 failed" in captured.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]  # no file named '-' or '-.errors.jsonl'


def test_tag_to_a_file_lists_poison_lines_in_the_errors_file(model_dir, tmp_path):
    src = write_lines(tmp_path / "in.jsonl", [DEEP, good_doc("a"), SURROGATE, HUGE, NESTED, good_doc("b", ARTICLES[1])])
    out = tmp_path / "out.jsonl"
    argv = ["tag", "--model", str(model_dir), "--no-progress", "--device", "cpu", "--input", str(src)]
    assert main([*argv, "--output", str(out), "--records", str(tmp_path / "r.csv")]) == EXIT_DATA
    assert [json.loads(line)["id"] for line in out.read_text(encoding="utf-8").splitlines()] == ["a", "b"]
    errors = [json.loads(line) for line in errors_path(out).read_text(encoding="utf-8").splitlines()]
    assert [(e["file"], e["line"]) for e in errors] == [(str(src), n) for n in (1, 3, 4, 5)]
    assert set(errors[0]) == {"file", "line", "id", "reason"}


def test_converters_write_to_stdout(corpus_path, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["convert", "to-conll", str(corpus_path), "-"]) == EXIT_OK
    captured = capsys.readouterr()
    assert "قاعدة B-SITE" in captured.out.splitlines() and "4 documents" in captured.err
    assert "documents" not in captured.out
    src = tmp_path / "a.txt"
    src.write_text("# id: a-1\nسقط [[WEAPON:صاروخ]] في [[LOCATION:أربيل]].{{ATTACK}}\n", encoding="utf-8")
    assert main(["convert", "markup", str(src), "-"]) == EXIT_OK
    captured = capsys.readouterr()
    (doc,) = [json.loads(line) for line in captured.out.splitlines()]
    assert doc["id"] == "a-1" and [e["label"] for e in doc["entities"]] == ["WEAPON", "LOCATION"]
    assert "1 documents → -" in captured.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "corpus.jsonl"]


def test_write_jsonl_to_dash_is_stdout(capsys, corpus):
    assert write_jsonl(corpus[:2], "-") == 2
    assert [json.loads(line)["id"] for line in capsys.readouterr().out.splitlines()] == [d.id for d in corpus[:2]]


def test_more_folds_than_documents_is_one_line_status_2(tmp_path, corpus_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(f"data: {{train_files: ['{corpus_path}']}}\n")
    out = tmp_path / "cv"
    assert main(["train", "--config", str(config), "--output", str(out), "--cv", "9"]) == EXIT_USAGE
    assert one_error_line(capsys) == "--cv 9: k must be between 2 and the number of documents (4), got 9"
    assert not (out / "fold-0").exists()  # said before any fold trains
    assert main(["train", "--config", str(config), "--output", str(out), "--cv", "3", "--cv-test", "real"]) == EXIT_USAGE
    assert "number of real documents (2)" in one_error_line(capsys)


def test_stats_on_a_folder_without_documents_is_status_1(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["stats", str(tmp_path / "empty")]) == EXIT_DATA
    assert one_error_line(capsys).startswith(f"no documents in {tmp_path / 'empty'}")
