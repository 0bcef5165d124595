"""The validator: every kind of broken input, with exact messages and exit statuses."""

from __future__ import annotations

import json

import pytest

from rasd.cli import main
from rasd.validate import validate_paths

TEXT = "قصفت القوات الأمريكية مواقع في بغداد. وأعلن الجيش الحصيلة."
# offsets: القوات الأمريكية 5-21, بغداد 31-36, sentence 1 0-37, الجيش 44-49, sentence 2 38-58


def good(**changes) -> dict:
    doc = {
        "id": "syn-004",
        "text": TEXT,
        "source": "synthetic/test",
        "synthetic": True,
        "entities": [
            {"start": 5, "end": 21, "label": "ACTOR"},
            {"start": 31, "end": 36, "label": "LOCATION"},
            {"start": 44, "end": 49, "label": "ACTOR"},
        ],
        "sentences": [
            {"start": 0, "end": 37, "events": ["AIRSTRIKE"]},
            {"start": 38, "end": 58, "events": []},
        ],
    }
    doc.update(changes)
    return doc


def run(capsys, *args: str) -> tuple[int, str]:
    status = main(["validate", *args])
    return status, capsys.readouterr().out


def test_text_offsets_in_fixture_constant():
    assert TEXT[5:21] == "القوات الأمريكية"
    assert TEXT[31:36] == "بغداد"
    assert TEXT[44:49] == "الجيش"
    assert TEXT[0:37].endswith("بغداد.") and TEXT[38:58].startswith("وأعلن") and len(TEXT) == 58


def test_valid_corpus_passes(capsys, corpus_path, write_lines):
    status, out = run(capsys, str(corpus_path), str(write_lines(good(), name="y.jsonl")))
    assert status == 0
    assert out.strip() == "OK: 2 file(s), 5 document(s): 0 error(s), 0 warning(s)"


def test_directory_is_expanded(tmp_path, capsys, write_lines):
    write_lines(good(), name="a.jsonl")
    write_lines(good(id="syn-005"), name="b.jsonl")
    status, out = run(capsys, str(tmp_path))
    assert status == 0 and "2 file(s), 2 document(s)" in out


def test_broken_json(capsys, write_lines):
    path = write_lines(good(), '{"id": "syn-005", "text": ')
    status, out = run(capsys, str(path))
    assert status == 1
    assert f"{path}:2 error: invalid JSON: Expecting value (column 27)" in out
    assert "FAILED: 1 file(s), 1 document(s): 1 error(s), 0 warning(s)" in out


def test_invalid_utf8(capsys, write_lines):
    path = write_lines(good(), b'{"id": "x", "text": "\xff\xfe"}')
    status, out = run(capsys, str(path))
    assert status == 1
    assert f"{path}:2 error: invalid UTF-8 at byte 21" in out


def test_not_an_object(capsys, write_lines):
    path = write_lines("[1, 2]")
    status, out = run(capsys, str(path))
    assert status == 1 and f"{path}:1 error: expected a JSON object, got list" in out


def test_missing_text_and_fields(capsys, write_lines):
    doc = good()
    del doc["text"]
    del doc["sentences"]
    path = write_lines(doc, {"text": "x", "entities": [], "sentences": [{"start": 0, "end": 1}]})
    status, out = run(capsys, str(path))
    assert status == 1
    assert f"{path}:1 [syn-004] error: missing field 'text'" in out
    assert f"{path}:1 [syn-004] error: missing field 'sentences'" in out
    assert f"{path}:2 error: missing field 'id'" in out


def test_wrong_types(capsys, write_lines):
    path = write_lines(good(text=5, synthetic="yes"), good(id="", entities={}))
    status, out = run(capsys, str(path))
    assert status == 1
    assert f"{path}:1 [syn-004] error: field 'text' must be a string, got int" in out
    assert f"{path}:1 [syn-004] error: field 'synthetic' must be true or false" in out
    assert f"{path}:2 error: field 'id' must be a non-empty string, got ''" in out
    assert f"{path}:2 error: field 'entities' must be a list" in out


def test_duplicate_ids_across_files(capsys, write_lines):
    first = write_lines(good(), name="a.jsonl")
    second = write_lines(good(id="syn-005"), good(), name="b.jsonl")
    status, out = run(capsys, str(first), str(second))
    assert status == 1
    assert f"{second}:2 [syn-004] error: duplicate id 'syn-004' (first at {first}:1)" in out


def test_float_offsets_are_not_ints(capsys, write_lines):
    doc = good(entities=[{"start": 5.0, "end": 21, "label": "ACTOR"}])
    status, out = run(capsys, str(write_lines(doc)))
    assert status == 1
    assert "[syn-004] error: entity #0: 'start' and 'end' must be integers, got 5.0, 21" in out


def test_out_of_bounds(capsys, write_lines):
    doc = good(entities=[{"start": 50, "end": 70, "label": "ACTOR"}])
    status, out = run(capsys, str(write_lines(doc)))
    assert status == 1
    assert "[syn-004] error: entity 50-70: offsets out of bounds (text length 58)" in out


def test_empty_and_reversed_spans(capsys, write_lines):
    doc = good(entities=[{"start": 5, "end": 5, "label": "ACTOR"}, {"start": 21, "end": 5, "label": "ACTOR"}])
    status, out = run(capsys, str(write_lines(doc)))
    assert status == 1
    assert "[syn-004] error: entity 5-5: empty span" in out
    assert "[syn-004] error: entity 21-5: end before start" in out


def test_overlapping_spans(capsys, write_lines):
    ents = [{"start": 5, "end": 21, "label": "ACTOR"}, {"start": 12, "end": 21, "label": "LOCATION"}]
    status, out = run(capsys, str(write_lines(good(entities=ents))))
    assert status == 1
    assert (
        "[syn-004] error: entity 12-21 'الأمريكية' LOCATION: overlaps entity 5-21 'القوات الأمريكية' ACTOR"
        in out
    )


def test_span_with_leading_or_trailing_space(capsys, write_lines):
    ents = [{"start": 4, "end": 21, "label": "ACTOR"}, {"start": 31, "end": 37, "label": "LOCATION"}]
    path = write_lines(good(entities=ents))
    status, out = run(capsys, str(path))
    assert status == 1
    assert f"{path}:1 [syn-004] error: entity 4-21 ' القوات الأمريكية' ACTOR: starts with whitespace" in out
    assert f"{path}:1 [syn-004] error: entity 31-37 'بغداد.' LOCATION: ends with punctuation '.'" in out


def test_span_ending_in_whitespace_and_starting_with_punct(capsys, write_lines):
    text = "قال «الجيش » إن"
    doc = good(
        text=text,
        entities=[{"start": 4, "end": 10, "label": "ACTOR"}, {"start": 5, "end": 11, "label": "ACTOR"}],
        sentences=[{"start": 0, "end": len(text), "events": []}],
    )
    status, out = run(capsys, str(write_lines(doc)))
    assert "entity 4-10 '«الجيش' ACTOR: starts with punctuation '«'" in out
    assert "entity 5-11 'الجيش ' ACTOR: ends with whitespace" in out
    assert status == 1


def test_initials_and_inner_brackets_are_allowed_but_not_enclosing_ones(capsys, write_lines):
    text = "قال محمد ب. إن قوات سوريا الديمقراطية (قسد) و(الجيش) و«الحشد» ردت"
    spans = [
        ("محمد ب.", "PERSON"),
        ("قوات سوريا الديمقراطية (قسد)", "ACTOR"),
        ("(الجيش)", "ACTOR"),
        ("«الحشد»", "ACTOR"),
    ]
    ents = []
    for mention, label in spans:
        start = text.index(mention)
        ents.append({"start": start, "end": start + len(mention), "label": label})
    doc = good(text=text, entities=ents, sentences=[{"start": 0, "end": len(text), "events": []}])
    status, out = run(capsys, str(write_lines(doc)))
    assert status == 1
    errors = [line.split(" error: ", 1)[1] for line in out.splitlines() if " error: " in line]
    assert errors == [
        "entity 45-52 '(الجيش)' ACTOR: starts with punctuation '('",
        "entity 45-52 '(الجيش)' ACTOR: ends with punctuation ')'",
        "entity 54-61 '«الحشد»' ACTOR: starts with punctuation '«'",
        "entity 54-61 '«الحشد»' ACTOR: ends with punctuation '»'",
    ]


def test_unknown_label_and_event_type(capsys, write_lines):
    doc = good(
        entities=[{"start": 44, "end": 49, "label": "ORG"}],
        sentences=[{"start": 0, "end": 37, "events": ["BOMBING"]}, {"start": 38, "end": 58, "events": []}],
    )
    path = write_lines(doc)
    status, out = run(capsys, str(path))
    assert status == 1
    assert (
        f"{path}:1 [syn-004] error: entity 44-49 'الجيش' ORG: unknown label 'ORG' (known: ACTOR, PERSON,"
        in out
    )
    assert (
        f"{path}:1 [syn-004] error: sentence 0 (0-37) 'قصفت القوات الأمريكية مواقع في بغداد.': "
        "unknown event type 'BOMBING' (known: ATTACK," in out
    )


def test_unordered_and_overlapping_sentences(capsys, write_lines):
    unordered = good(sentences=[{"start": 38, "end": 58}, {"start": 0, "end": 37}])
    overlapping = good(id="syn-005", sentences=[{"start": 0, "end": 40}, {"start": 38, "end": 58}])
    status, out = run(capsys, str(write_lines(unordered, overlapping)))
    assert status == 1
    assert (
        "[syn-004] error: sentence 1 (0-37) 'قصفت القوات الأمريكية مواقع في بغداد.': out of order "
        "(starts before sentence at 38-58)" in out
    )
    assert (
        "[syn-005] error: sentence 1 (38-58) 'وأعلن الجيش الحصيلة.': overlaps previous sentence 0-40" in out
    )


def test_uncovered_text(capsys, write_lines):
    doc = good(sentences=[{"start": 0, "end": 37, "events": []}])
    status, out = run(capsys, str(write_lines(doc)))
    assert status == 1
    assert "[syn-004] error: text 38-58 'وأعلن الجيش الحصيلة.' not covered by any sentence" in out


def test_sentence_out_of_bounds(capsys, write_lines):
    doc = good(sentences=[{"start": 0, "end": 37}, {"start": 38, "end": 99}])
    status, out = run(capsys, str(write_lines(doc)))
    assert status == 1
    assert "error: sentence 38-99: offsets out of bounds (text length 58)" in out
    assert "error: text 38-58 'وأعلن الجيش الحصيلة.' not covered by any sentence" in out


def test_proclitic_warning_and_strict(capsys, write_lines):
    doc = good(text=TEXT[:38] + "والجيش أعلن الحصيلة.", entities=[{"start": 38, "end": 44, "label": "ACTOR"}])
    doc["sentences"][1]["end"] = len(doc["text"])
    path = write_lines(doc)
    status, out = run(capsys, str(path))
    assert status == 0
    assert (
        f"{path}:1 [syn-004] warning: entity 38-44 'والجيش' ACTOR: starts with proclitic 'و'; "
        "the guidelines keep it outside (span should start at 'الجيش')" in out
    )
    assert "OK: 1 file(s), 1 document(s): 0 error(s), 1 warning(s)" in out
    status, out = run(capsys, "--strict", str(path))
    assert status == 1 and "FAILED" in out


def test_proclitic_written_with_tatweel_is_a_warning(capsys, write_lines):
    text = "أشاد المتحدث لـأنصار الله."
    doc = good(
        text=text,
        entities=[{"start": 13, "end": 25, "label": "ACTOR"}],
        sentences=[{"start": 0, "end": len(text), "events": []}],
    )
    status, out = run(capsys, str(write_lines(doc)))
    assert status == 0
    assert (
        "warning: entity 13-25 'لـأنصار الله' ACTOR: starts with proclitic 'لـ'; "
        "the guidelines keep it outside (span should start at 'أنصار الله')" in out
    )


def test_missing_path(tmp_path, capsys):
    status, out = run(capsys, str(tmp_path / "nope.jsonl"))
    assert status == 1 and "nope.jsonl error: no such file or directory" in out


def test_api_report(write_lines):
    path = write_lines(good(), "{")
    report = validate_paths([path])
    assert report.files == 1 and report.documents == 1
    assert [(i.level, i.line, i.doc_id) for i in report.issues] == [("error", 2, None)]
    assert not report.ok()


@pytest.mark.parametrize("quiet", [True, False])
def test_quiet_prints_summary_only(capsys, quiet, write_lines):
    path = write_lines("{")
    args = ["-q", str(path)] if quiet else [str(path)]
    status, out = run(capsys, *args)
    assert status == 1
    assert (len(out.strip().splitlines()) == 1) is quiet


def test_stats_counts_by_synthetic_and_real(corpus, corpus_path, capsys):
    from rasd.stats import corpus_stats

    stats = corpus_stats(corpus)
    assert stats["all"]["documents"] == 4
    assert stats["synthetic"]["documents"] == 2 and stats["real"]["documents"] == 2
    assert stats["synthetic"]["sentences"] == 5 and stats["real"]["sentences"] == 3
    assert stats["all"]["tokens"] == sum(len(d.text.split()) for d in corpus)
    assert stats["synthetic"]["entities"]["ACTOR"] == 4 and stats["real"]["entities"]["PERSON"] == 2
    assert stats["all"]["entities_total"] == 20
    assert stats["real"]["events"]["CASUALTIES"] == 1 and stats["synthetic"]["events"]["ATTACK"] == 1
    assert stats["all"]["sentences_with_events"] == 6
    assert main(["stats", "--json", str(corpus_path)]) == 0
    assert json.loads(capsys.readouterr().out) == stats
    assert main(["stats", str(corpus_path)]) == 0
    table = capsys.readouterr().out
    assert "entities.WEAPON" in table and "events.DIPLOMACY" in table


def test_stats_refuses_broken_corpus(capsys, write_lines):
    assert main(["stats", str(write_lines("{"))]) == 1
    assert "invalid JSON" in capsys.readouterr().err
