"""Hostile inputs meet a ``file:line`` error, never a traceback nor a silently written bad record.

``rasd validate`` and ``rasd stats`` (corpus JSONL), every ``rasd convert`` direction (Label
Studio, markup, CoNLL, to-conll, to-labelstudio), ``rasd.json`` checked at load, and the
``Tagger.tag`` sequence guard. Each defect of the issue has a regression test here, whether it
was already handled or not.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from rasd.cli import EXIT_DATA, EXIT_OK, EXIT_USAGE, main
from rasd.convert.conll import conll_to_documents
from rasd.convert.labelstudio import LabelStudioError, load_tasks, read_tasks, task_to_document
from rasd.corpus import document_from_dict, load_documents
from rasd.errors import ModelFolderError
from rasd.jsonl import RecordError
from rasd.markup import MarkupError, parse_markup

TEXT = "قصفت القوات الأمريكية مواقع في بغداد."  # القوات الأمريكية 5-21, بغداد 31-36, sentence 0-37


def doc(**changes) -> dict:
    out = {
        "id": "d-1",
        "text": TEXT,
        "source": "test",
        "synthetic": False,
        "entities": [{"start": 5, "end": 21, "label": "ACTOR"}, {"start": 31, "end": 36, "label": "LOCATION"}],
        "sentences": [{"start": 0, "end": 37, "events": ["AIRSTRIKE"]}],
    }
    out.update(changes)
    return out


def entity(start, end, label="ACTOR") -> dict:
    return doc(entities=[{"start": start, "end": end, "label": label}])


def one_error_line(capsys) -> str:
    """stderr is exactly one ``rasd: error:`` line (no traceback); return its message."""
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("rasd: error: "), err
    return err[len("rasd: error: ") : -1]


DEEP = "[" * 100_000 + "]" * 100_000
HUGE_INT = '{"id": "h", "text": "x", "n": ' + "7" * 5000 + "}"
SURROGATE = '{"id": "s", "text": "a\\ud800b", "entities": [], "sentences": []}'
INF_OFFSET = json.dumps(entity(5, 21)).replace('"start": 5', '"start": 1e999')
NAN_OFFSET = json.dumps(entity(5, 21)).replace('"start": 5', '"start": NaN')
BIG_OFFSET = json.dumps(entity(5, 21)).replace('"end": 21', '"end": ' + "9" * 300)


# ----------------------------------------------------------------------------- rasd validate


def test_validate_reports_poison_lines_by_file_and_line(capsys, write_lines):
    path = write_lines(DEEP, HUGE_INT, INF_OFFSET, SURROGATE, BIG_OFFSET, NAN_OFFSET, doc(), name="c.jsonl")
    assert main(["validate", str(path)]) == EXIT_DATA
    out = capsys.readouterr().out
    assert f"{path}:1 error: JSON nested deeper than 100 levels" in out
    assert f"{path}:2 error: invalid JSON: Exceeds the limit (4300 digits)" in out
    # not JSON numbers: refused by the one reader (rasd.jsonl), so no record id is known yet
    assert f"{path}:3 error: number 1e999 is out of range for a float" in out
    assert f"{path}:4 error: JSON string with a lone surrogate \\ud800" in out
    # a 300-digit offset is named, not printed in full
    assert f"{path}:5 [d-1] error: entity 5-<integer of 300 digits>: offsets out of bounds (text length 37)" in out
    assert f"{path}:6 error: non-standard JSON number NaN (NaN and Infinity are not JSON)" in out
    assert "FAILED: 1 file(s), 2 document(s)" in out  # line 7 was checked too (duplicate id)
    assert max(map(len, out.splitlines())) < 300


def test_validate_skips_a_folder_named_like_a_corpus_file(tmp_path, capsys, write_lines):
    write_lines(doc(), name="a.jsonl")
    (tmp_path / "x.jsonl").mkdir()
    assert main(["validate", str(tmp_path)]) == EXIT_OK
    assert "OK: 1 file(s), 1 document(s)" in capsys.readouterr().out
    # Named directly, an empty folder is an error, not "OK: 0 file(s)".
    assert main(["validate", str(tmp_path / "x.jsonl")]) == EXIT_DATA
    assert f"{tmp_path / 'x.jsonl'} error: directory holds no *.jsonl files" in capsys.readouterr().out


@pytest.mark.skipif(os.name == "nt", reason="symbolic links")
def test_validate_reports_link_loops_and_broken_links_per_file(tmp_path, capsys, write_lines):
    write_lines(doc(), name="a.jsonl")
    (tmp_path / "loop.jsonl").symlink_to(tmp_path / "loop.jsonl")
    (tmp_path / "gone.jsonl").symlink_to(tmp_path / "nowhere.jsonl")
    assert main(["validate", str(tmp_path), str(tmp_path / "loop.jsonl")]) == EXIT_DATA
    out = capsys.readouterr().out
    assert f"{tmp_path / 'loop.jsonl'} error: symbolic link loop" in out
    assert f"{tmp_path / 'gone.jsonl'} error:" in out
    assert "3 file(s), 1 document(s)" in out  # a.jsonl is still validated


# ----------------------------------------------------------------------------- rasd stats and the loader


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (DEEP, "JSON nested deeper than 100 levels"),
        (HUGE_INT, "invalid JSON: Exceeds the limit (4300 digits)"),
        (SURROGATE, "JSON string with a lone surrogate"),
        (INF_OFFSET, "number 1e999 is out of range for a float"),  # was OverflowError
        (NAN_OFFSET, "non-standard JSON number NaN"),
        (BIG_OFFSET, "entity #0: offsets 5-<integer of 300 digits> out of bounds (text length 37)"),
        (entity(True, 21), "entity #0: 'start' and 'end' must be integers, got True, 21"),  # was read as 1
        (entity(5.0, 21), "entity #0: 'start' and 'end' must be integers, got 5.0, 21"),  # was read as 5
        (entity(-1, 21), "entity #0: offsets -1-21 out of bounds (text length 37)"),
        (entity(5, 99), "entity #0: offsets 5-99 out of bounds (text length 37)"),
        (entity(21, 5), "entity #0: offsets 21-5: end before start"),
        (entity(5, 5), "entity #0: offsets 5-5: empty span"),
        (entity(5, 21, ["ACTOR"]), "entity #0: 'label' must be a non-empty string, got ['ACTOR']"),
        (doc(entities={"start": 5}), "field 'entities' must be a list, got dict"),
        (doc(entities=["x"]), "entity #0: expected an object, got str"),
        (doc(sentences=[{"start": 0, "end": 37, "events": "ATTACK"}]), "sentence #0: 'events' must be a list of strings"),
        (doc(synthetic="false"), "field 'synthetic' must be true or false"),  # was bool("false") == True
        (doc(source=3), "field 'source' must be a string"),
    ],
)
def test_stats_and_loader_stop_on_a_bad_record_with_file_and_line(capsys, record, reason, write_lines):
    path = write_lines(doc(id="ok"), record, name="c.jsonl")
    assert main(["stats", str(path)]) == EXIT_DATA
    message = one_error_line(capsys)
    assert message.startswith(f"{path}:2") and reason in message, message
    with pytest.raises(RecordError) as caught:
        load_documents(path)
    assert caught.value.line == 2
    # the validator reports the same record as an error, too
    assert main(["validate", "-q", str(path)]) == EXIT_DATA
    capsys.readouterr()


def test_stats_skips_a_folder_named_like_a_corpus_file(tmp_path, capsys, write_lines):
    write_lines(doc(), name="a.jsonl")
    (tmp_path / "x.jsonl").mkdir()
    assert main(["stats", "--json", str(tmp_path)]) == EXIT_OK
    assert json.loads(capsys.readouterr().out)["all"]["documents"] == 1


@pytest.mark.skipif(os.name == "nt", reason="symbolic links")
def test_stats_on_a_link_loop_is_one_line(tmp_path, capsys):
    loop = tmp_path / "loop.jsonl"
    loop.symlink_to(loop)
    assert main(["stats", str(loop)]) == EXIT_USAGE
    assert one_error_line(capsys) == f"{loop}: symbolic link loop"


def test_good_documents_still_load_unchanged():
    d = document_from_dict(doc(extra_field={"k": 1}))
    assert d.to_dict() == doc(extra_field={"k": 1}) and d.synthetic is False


@pytest.mark.parametrize("direction", ["to-conll", "to-labelstudio"])
def test_export_commands_stop_on_a_bad_record(tmp_path, capsys, direction, write_lines):
    path = write_lines(doc(), doc(entities=[{"start": 5.0, "end": 21, "label": "ACTOR"}]), name="c.jsonl")
    assert main(["convert", direction, str(path), str(tmp_path / "out")]) == EXIT_DATA
    assert one_error_line(capsys).startswith(f"{path}:2 [d-1]: entity #0: 'start' and 'end' must be integers")


# ----------------------------------------------------------------------------- Label Studio


def task(result=None, text="قال الجيش", **data) -> dict:
    t = {"data": {"text": text, "id": "t1", **data}}
    if result is not None:
        t["annotations"] = [{"result": result}]
    return t


def region(start, end, labels=("ACTOR",), **value) -> dict:
    labels = list(labels) if isinstance(labels, tuple) else labels
    return {"type": "labels", "from_name": "label", "value": {"start": start, "end": end, "labels": labels, **value}}


@pytest.mark.parametrize(
    ("tasks", "reason"),
    [
        ([1], "task #0: expected a JSON object, got int"),
        (["x"], "task #0: expected a JSON object, got str"),
        ([task(["str"])], "[t1]: task #0: result must be an object, got 'str'"),
        ([{"data": {"text": "x"}, "annotations": {"result": []}}], "task #0: 'annotations' must be a list, got dict"),
        ([task([{"type": "labels", "value": "x"}])], "task #0: result 'value' must be an object"),
        ([{"data": {"text": "x"}, "annotations": [{"result": "x"}]}], "'annotations[].result' must be a list"),
        ([task([region(-2, 3)])], "task #0: region offsets -2-3 out of bounds (text length 9)"),
        ([task([region(4, 200)])], "task #0: region offsets 4-200 out of bounds (text length 9)"),
        ([task([region(6, 4)])], "task #0: region offsets 6-4: end before start"),
        ([task([region(False, True)])], "task #0: region without integer start/end: got False, True"),
        ([task([region(4, 9.0)])], "task #0: region without integer start/end: got 4, 9.0"),
        ([task([region(4, 9, "ACTOR")])], "task #0: region 'labels' must be a list of strings, got 'ACTOR'"),
        ([task([region(4, 9, ("FOO",))])], "task #0: entity region 4-9: unknown label 'FOO'"),
        ([task([region(4, 9, text=5)])], "task #0: region 4-9: 'text' must be a string"),
        (
            [task([{"type": "choices", "from_name": "events", "value": {"start": 0, "end": 9, "choices": "ATTACK"}}])],
            "task #0: region 'choices' must be a list of strings, got 'ATTACK'",
        ),
        (
            [task([{"type": "choices", "from_name": "events", "value": {"start": 0, "end": 9, "choices": ["NOPE"]}}])],
            "task #0: unknown event type 'NOPE'",
        ),
        ([task([], id=["x"])], "task #0: data.id must be a string or an integer, got ['x']"),
        ([task([], synthetic="false")], "task #0: data.synthetic must be true or false"),
        ([task([], text="a\ud800b")], "JSON string with a lone surrogate \\ud800"),
    ],
)
def test_from_labelstudio_refuses_what_the_corpus_format_forbids(tmp_path, capsys, tasks, reason):
    src = tmp_path / "tasks.json"
    src.write_text(json.dumps(tasks, ensure_ascii=True), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["convert", "from-labelstudio", str(src), str(out)]) == EXIT_DATA
    message = one_error_line(capsys)
    assert message.startswith(f"{src}:1") and reason in message, message
    assert not out.exists()  # nothing written


def test_from_labelstudio_names_the_line_of_the_bad_task(tmp_path, capsys):
    src = tmp_path / "export.json"
    src.write_text(json.dumps([task([region(4, 9)]), task([region(4, 99)])], indent=2), encoding="utf-8")
    line = src.read_text(encoding="utf-8").splitlines().index("  {", 2) + 1  # where the second task starts
    assert main(["convert", "from-labelstudio", str(src), str(tmp_path / "o.jsonl")]) == EXIT_DATA
    assert one_error_line(capsys).startswith(f"{src}:{line} [t1]: task #1: region offsets 4-99 out of bounds")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"[" * 100_000 + b"]" * 100_000, ":1: JSON nested deeper than 100 levels"),
        (b'[{"data": {"text": "x", "n": ' + b"1" * 5000 + b"}}]", ":1: invalid JSON: Exceeds the limit"),
        (b'[\n{"data": {"text": "x"}},\n{"x": 1', ":3: invalid JSON: Expecting ',' delimiter"),
        (b'[\n{"data": {"text": "x"}}\n', ":3: invalid JSON: the list of tasks is not closed"),
        (b'[{"data": {"text": "x"}}] []', ":1: invalid JSON: extra data after the list of tasks"),
        (b'[{"data": {"text": "x"}} {"data": {}}]', ":1: invalid JSON: expected ',' or ']' after a task"),
        (b'\n\n[{"data": {"text": "\xff"}}]', ":3: invalid UTF-8 at byte 20"),
        (b"  \n", ": empty file"),
    ],
)
def test_from_labelstudio_bad_json_is_one_line_with_the_line(tmp_path, capsys, raw, reason):
    src = tmp_path / "t.json"
    src.write_bytes(raw)
    assert main(["convert", "from-labelstudio", str(src), str(tmp_path / "o.jsonl")]) == EXIT_DATA
    message = one_error_line(capsys)
    assert message.startswith(f"{src}{reason}"), message


def test_labelstudio_reader_accepts_a_list_one_task_and_json_lines():
    one = json.dumps(task([region(4, 9)]), ensure_ascii=False).encode("utf-8")
    assert [line for line, _ in read_tasks(b"\xef\xbb\xbf[" + one + b",\n" + one + b"]")] == [1, 2]
    assert [line for line, _ in read_tasks(one)] == [1]
    assert [line for line, _ in read_tasks(one + b"\n\n" + one + b"\n")] == [1, 3]
    assert list(read_tasks(b" [ ] ")) == []


def test_labelstudio_good_export_still_converts(tmp_path):
    src = tmp_path / "t.json"
    src.write_text(json.dumps([task([region(4, 9, text="الجيش")])], ensure_ascii=False), encoding="utf-8")
    (d,) = load_tasks(src)
    assert (d.id, d.span_text(d.entities[0]), d.entities[0].label) == ("t1", "الجيش", "ACTOR")


def test_labelstudio_error_keeps_its_message_for_library_callers():
    with pytest.raises(LabelStudioError, match=r"^task #3 \[t1\]: region 'labels' must be a list of strings"):
        task_to_document(task([region(4, 9, "ACTOR")]), 3)


# ----------------------------------------------------------------------------- markup


@pytest.mark.parametrize(
    ("source", "where", "reason"),
    [
        ("# id: a\nسطر.\nقال [[ACTOR:زيد شيئا.\n", ":3 [a]", "unbalanced mark near 'قال [[ACTOR:زيد شيئا.'"),
        ("# id: a\nسطر.\nقال [[FOO:زيد]] شيئا.\n", ":3 [a]", "unknown label 'FOO' in '[[FOO:زيد]]'"),
        ("# id: a\n\nسطر.\n\nقال زيد.{{NOPE}}\n", ":5 [a]", "unknown event type 'NOPE' in '{{NOPE}}'"),
        ("# id: a\nسطر.\n{{ATTACK}} قال زيد.\n", ":3 [a]", "event mark ['ATTACK'] is not at the end of a sentence"),
        ("# id: a\nقال [[ACTOR: زيد]] شيئا.\n", ":2 [a]", "mention in '[[ACTOR: زيد]]' starts or ends with whitespace"),
        ("# id: a\nقال [[ACTOR:x[[PERSON:y]]]].\n", ":2 [a]", "nested mark"),
        ("نص.\n# ---\n# id: b\nسطر.\nقال [[actor:زيد]].\n", ":5 [b]", "unbalanced mark near"),
    ],
)
def test_markup_errors_name_file_and_line(tmp_path, capsys, source, where, reason):
    src = tmp_path / "m.txt"
    src.write_text(source, encoding="utf-8")
    assert main(["convert", "markup", str(src), str(tmp_path / "o.jsonl")]) == EXIT_DATA
    message = one_error_line(capsys)
    assert message.startswith(f"{src}{where}: ") and reason in message, message


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        ("# id: a\nسطر.\nقال ".encode() + b"\xff\n", ":3: invalid UTF-8 at byte 7"),
        (b"\xef\xbb\xbfq\xff\n", ":1: invalid UTF-8 at byte 1"),  # the byte-order mark is not counted
    ],
)
def test_markup_invalid_utf8_names_the_line(tmp_path, capsys, raw, where):
    src = tmp_path / "m.txt"
    src.write_bytes(raw)
    assert main(["convert", "markup", str(src), str(tmp_path / "o.jsonl")]) == EXIT_DATA
    assert one_error_line(capsys) == f"{src}{where}"


def test_markup_byte_order_mark_does_not_hide_the_header(tmp_path):
    src = tmp_path / "m.txt"
    src.write_bytes(b"\xef\xbb\xbf" + "# id: a\nوصل [[ACTOR:الجيش]].\n".encode())
    out = tmp_path / "o.jsonl"
    assert main(["convert", "markup", str(src), str(out)]) == EXIT_OK
    (d,) = load_documents(out)
    assert d.id == "a" and d.text == "وصل الجيش."


@pytest.mark.skipif(os.name == "nt", reason="symbolic links")
def test_markup_link_loops_and_folders_named_txt(tmp_path, capsys):
    (tmp_path / "a.txt").write_text("# id: a\nنص.\n", encoding="utf-8")
    (tmp_path / "d.txt").mkdir()  # a folder matching *.txt is skipped
    out = tmp_path / "o.jsonl"
    assert main(["convert", "markup", str(tmp_path), str(out)]) == EXIT_OK
    capsys.readouterr()
    loop = tmp_path / "loop.txt"
    loop.symlink_to(loop)
    assert main(["convert", "markup", str(loop), str(out)]) == EXIT_USAGE
    assert one_error_line(capsys) == f"{loop}: symbolic link loop"
    assert main(["convert", "markup", str(tmp_path), str(out)]) == EXIT_USAGE  # met inside the folder
    assert one_error_line(capsys).startswith(f"{loop}: ")


def test_parse_markup_error_is_a_record_error():
    with pytest.raises(MarkupError) as caught:
        parse_markup("سطر.\nقال [[FOO:زيد]].", doc_id="x", origin="f.txt", first_line=10)
    assert isinstance(caught.value, RecordError) and (caught.value.path, caught.value.line) == ("f.txt", 11)


# ----------------------------------------------------------------------------- CoNLL


def test_conll_invalid_utf8_names_the_line_not_the_byte(tmp_path, capsys):
    src = tmp_path / "c.conll"
    src.write_bytes("الجيش B-ACTOR\nقصف O\n\n".encode() + b"x\xff O\n")
    assert main(["convert", "conll", str(src), str(tmp_path / "o.jsonl")]) == EXIT_DATA
    assert one_error_line(capsys) == f"{src}:4: invalid UTF-8 at byte 1"


def test_conll_byte_order_mark_is_not_part_of_the_first_token(tmp_path, capsys):
    src = tmp_path / "c.conll"
    src.write_bytes(b"\xef\xbb\xbf" + "الجيش B-ACTOR\nقصف O\n".encode())
    out = tmp_path / "o.jsonl"
    assert main(["convert", "conll", str(src), str(out)]) == EXIT_OK
    (d,) = load_documents(out)
    assert d.text == "الجيش قصف" and d.span_text(d.entities[0]) == "الجيش"
    assert conll_to_documents(["\ufeffالجيش B-ACTOR"]).documents[0].text == "الجيش"


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ("a O\nb\n", ":2: expected 'token TAG', got 'b'"),
        ("a O\nb PERS\n", ":2: malformed tag 'PERS' (expected O, B-X or I-X)"),
        ("a O\n\nb B-FOO\n", ":3: label 'FOO' is neither mapped nor a schema label"),
    ],
)
def test_conll_errors_are_file_colon_line(tmp_path, capsys, lines, message):
    src = tmp_path / "c.conll"
    src.write_text(lines, encoding="utf-8")
    assert main(["convert", "conll", str(src), str(tmp_path / "o.jsonl")]) == EXIT_DATA
    assert one_error_line(capsys).startswith(f"{src}{message}")


def test_conll_bad_mapping_target_is_a_usage_error(tmp_path, capsys):
    src = tmp_path / "c.conll"
    src.write_text("a B-PERS\n", encoding="utf-8")
    assert main(["convert", "conll", str(src), str(tmp_path / "o.jsonl"), "--map", "PERS=FOO"]) == EXIT_USAGE
    assert one_error_line(capsys).startswith("--map: mapping target 'FOO' is not a schema label")


# ----------------------------------------------------------------------------- rasd.json at load


GOOD_META = {"max_length": 64, "stride": 8, "event_thresholds": {"ATTACK": 0.4}}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"max_length": 0}, "max_length must be an integer from 8 to 8192, got 0"),
        ({"max_length": 10**12}, "max_length must be an integer from 8 to 8192, got 1000000000000"),
        ({"max_length": "256"}, 'max_length must be an integer from 8 to 8192, got "256"'),
        ({"max_length": 64.0}, "max_length must be an integer from 8 to 8192, got 64.0"),
        ({"stride": -1}, "stride must be an integer from 0 to max_length - 1 (63), got -1"),
        ({"stride": 64}, "stride must be an integer from 0 to max_length - 1 (63), got 64"),
        ({"event_thresholds": {"ATTACK": float("nan")}}, "event_thresholds.ATTACK must be a number from 0 to 1, got nan"),
        ({"event_thresholds": {"ATTACK": 1.5}}, "event_thresholds.ATTACK must be a number from 0 to 1, got 1.5"),
        ({"event_thresholds": {"ATTACK": True}}, "event_thresholds.ATTACK must be a number from 0 to 1, got true"),
        ({"event_thresholds": {"NOPE": 0.5}}, 'event_thresholds: unknown event type "NOPE"'),
        ({"event_thresholds": [0.5]}, "event_thresholds must be an object mapping event types to numbers"),
        ({"normalization": {"strip_tatweel": "false"}}, 'normalization.strip_tatweel must be true or false, got "false"'),
        ({"label_all_subwords": "false"}, 'label_all_subwords must be true or false, got "false"'),
        ({"event_head": {"hidden_size": 10**12}}, "event_head.hidden_size must be null or an integer from 1 to 65536"),
        ({"event_head": {"hidden_size": 0}}, "event_head.hidden_size must be null or an integer from 1 to 65536, got 0"),
        ({"event_head": {"pooling": "sum"}}, "event_head.pooling must be 'mean' or 'mean_max', got \"sum\""),
        ({"event_head": {"dropout": 2}}, "event_head.dropout must be a number from 0 to 1, got 2"),
        ({"entity_labels": "ACTOR"}, 'entity_labels must be a list of non-empty strings, got "ACTOR"'),
        ({"entity_labels": ["ACTOR", 3]}, "entity_labels must be a list of non-empty strings, got ['ACTOR', 3]"),
        ({"entity_labels": []}, "entity_labels must be a non-empty list of strings, got []"),
        ({"event_types": ["ATTACK", "ATTACK"]}, "event_types must be a list without duplicates"),
        ({"format_version": 99}, "format_version 99 is newer than this rasd supports"),
        ({"format_version": "1"}, 'format_version must be a positive integer, got "1"'),
    ],
)
def test_rasd_json_values_are_checked_at_load(tmp_path, change, message):
    from rasd.modeling import RasdMeta

    path = tmp_path / "rasd.json"
    path.write_text(json.dumps(GOOD_META | change), encoding="utf-8")
    with pytest.raises(ModelFolderError) as caught:
        RasdMeta.load(path)
    assert str(caught.value) == f"{path}: {message}" or str(caught.value).startswith(f"{path}: {message}")
    assert "\n" not in str(caught.value) and isinstance(caught.value, ValueError)


def test_rasd_json_bad_json_is_one_line(tmp_path):
    from rasd.modeling import RasdMeta

    path = tmp_path / "rasd.json"
    path.write_text('{\n  "max_length": 64,\n  "stride": \n}', encoding="utf-8")
    with pytest.raises(ModelFolderError, match=r"rasd.json:4: invalid JSON: Expecting value"):
        RasdMeta.load(path)
    path.write_text("[1]", encoding="utf-8")
    with pytest.raises(ModelFolderError, match="expected a JSON object, got list"):
        RasdMeta.load(path)
    assert RasdMeta.from_dict(GOOD_META | {"future_key": 1}).max_length == 64  # unknown keys are ignored


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    import torch

    from rasd.corpus import Document
    from rasd.modeling import RasdMeta
    from rasd.training.tiny import build_tiny_model

    torch.manual_seed(0)
    model, tokenizer = build_tiny_model([Document("0", TEXT)], vocab_size=200, hidden=16, layers=1)
    return model.save_pretrained(tmp_path_factory.mktemp("model"), tokenizer, RasdMeta(max_length=24, stride=4))


def broken_model(model_dir: Path, tmp_path: Path, **change) -> Path:
    import shutil

    folder = tmp_path / "broken"
    shutil.copytree(model_dir, folder)
    meta = json.loads((folder / "rasd.json").read_text(encoding="utf-8")) | change
    (folder / "rasd.json").write_text(json.dumps(meta), encoding="utf-8")
    return folder


def test_bad_rasd_json_fails_tagger_tag_and_evaluate_with_one_line(model_dir, tmp_path, capsys, write_lines):
    from rasd.inference.tagger import Tagger

    folder = broken_model(model_dir, tmp_path, event_head={"hidden_size": 10**12, "pooling": "mean_max"})
    expected = f"{folder / 'rasd.json'}: event_head.hidden_size must be null or an integer from 1 to 65536"
    with pytest.raises(ModelFolderError, match="event_head.hidden_size"):  # before allocating 10^12 floats
        Tagger.from_pretrained(folder, device="cpu")
    corpus = write_lines(doc(), name="c.jsonl")
    assert main(["evaluate", "--model", str(folder), "--data", str(corpus)]) == EXIT_USAGE
    assert one_error_line(capsys).startswith(expected)
    assert main(["tag", "--model", str(folder), "--input", str(corpus), "--output", str(tmp_path / "o.jsonl")]) == 2
    assert expected in one_error_line(capsys)


# ----------------------------------------------------------------------------- Tagger.tag(str)


def test_tagger_tag_refuses_a_bare_string(model_dir):
    from rasd.inference.tagger import Tagger

    tagger = Tagger.from_pretrained(model_dir, device="cpu")
    for bad in ("قصفت القوات", b"bytes", {"text": "قصفت القوات"}):
        with pytest.raises(TypeError, match=r"use tagger\(text\)"):
            tagger.tag(bad)
    assert len(tagger.tag(["قصفت القوات"])) == 1
    assert tagger("قصفت القوات", show_progress_bar=False).text == "قصفت القوات"


@pytest.mark.parametrize(("override", "field"), [("data.stride=256", "data.stride"), ("data.max_length=4", "data.max_length")])
def test_training_config_refuses_what_rasd_json_would_refuse(override, field):
    from rasd.training.config import ConfigError, load_config

    with pytest.raises(ConfigError, match=field):  # else the trained folder would not load
        load_config(None, [override])
