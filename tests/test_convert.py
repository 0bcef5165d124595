"""Converters: CoNLL import/export, Label Studio round trip and config, markup files."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from rasd.cli import main
from rasd.convert.conll import ConllError, conll_to_documents, documents_to_conll
from rasd.convert.labelstudio import (
    LabelStudioError,
    document_to_task,
    labeling_config,
    task_to_document,
    tasks_to_documents,
)
from rasd.corpus import Document, Sentence, Span, load_documents
from rasd.schema import ENTITY_LABELS, EVENT_TYPES
from rasd.validate import validate_documents, validate_paths

CONLL = """\
فرانكفورت B-LOC
أعلن O
اتحاد B-ORG
صناعة I-ORG
السيارات I-ORG
في O
ألمانيا B-LOC
عن O
جائزة B-MISC
نوبل I-MISC

قال O
جورج B-PERS
بوش I-PERS
إن O
بغداد B-LOC
دمشق B-LOC
و O
الرياض I-LOC
.  O

-DOCSTART- O

عاد O
بوش B-PERS
"""
ANER = {"PERS": "PERSON", "LOC": "LOCATION", "ORG": "ACTOR"}


def b_count(text: str, labels) -> int:
    return sum(
        1
        for line in text.splitlines()
        if line.split() and line.split()[-1][2:] in labels and line.split()[-1].startswith("B-")
    )


def test_conll_entity_count_equals_b_tags():
    res = conll_to_documents(CONLL.splitlines(), label_map=ANER, drop_unmapped=True)
    produced = sum(res.entities.values())
    assert b_count(CONLL, ANER) == 7
    # every B- of a mapped label gives one entity, plus the stray I-LOC (treated as B-)
    assert produced == 7 + 1
    assert res.stray_i == {"LOC": 1}
    assert res.dropped == {"MISC": 1}
    assert res.b_tags["MISC"] == 1 and res.sentences == 3 and res.tokens == 21


def test_conll_text_and_offsets_exact():
    res = conll_to_documents(CONLL.splitlines(), label_map=ANER, drop_unmapped=True, id_prefix="t-")
    assert [d.id for d in res.documents] == ["t-00001", "t-00002", "t-00003"]
    first = res.documents[0]
    assert first.text == "فرانكفورت أعلن اتحاد صناعة السيارات في ألمانيا عن جائزة نوبل"
    assert [(first.span_text(e), e.label) for e in first.entities] == [
        ("فرانكفورت", "LOCATION"),
        ("اتحاد صناعة السيارات", "ACTOR"),
        ("ألمانيا", "LOCATION"),
    ]
    second = res.documents[1]
    assert [(second.span_text(e), e.label) for e in second.entities] == [
        ("جورج بوش", "PERSON"),
        ("بغداد", "LOCATION"),
        ("دمشق", "LOCATION"),
        ("الرياض", "LOCATION"),
    ]
    assert [(s.start, s.end) for s in second.sentences] == [(0, len(second.text))]
    assert all(not d.synthetic for d in res.documents)
    assert not validate_documents(res.documents).errors


def test_conll_grouping_and_docstart():
    res = conll_to_documents(CONLL.splitlines(), label_map=ANER, drop_unmapped=True, sentences_per_doc=5)
    # -DOCSTART- ends the first document even though it could hold more sentences
    assert len(res.documents) == 2
    doc = res.documents[0]
    assert len(doc.sentences) == 2
    assert doc.text[doc.sentences[0].end] == "\n"
    assert doc.text[doc.sentences[1].start : doc.sentences[1].end].startswith("قال جورج")
    assert doc.span_text(doc.entities[-1]) == "الرياض"
    assert not validate_documents(res.documents).errors


def test_conll_unmapped_label_is_an_error_naming_it():
    with pytest.raises(ConllError, match=r"line 9: label 'MISC' is neither mapped nor a schema label"):
        conll_to_documents(CONLL.splitlines(), label_map=ANER)


def test_conll_schema_labels_pass_through():
    res = conll_to_documents(["الجيش B-ACTOR", "العراقي I-ACTOR"])
    assert res.documents[0].entities == [Span(0, 13, "ACTOR")]


def test_conll_malformed_tag():
    with pytest.raises(ConllError, match=r"line 2: malformed tag 'PERS'"):
        conll_to_documents(["a O", "b PERS"])


def test_conll_cli(tmp_path, capsys):
    src = tmp_path / "sample.txt"
    src.write_text(CONLL, encoding="utf-8")
    out = tmp_path / "out.jsonl"
    status = main(
        [
            "convert",
            "conll",
            str(src),
            str(out),
            "--map",
            "PERS=PERSON,LOC=LOCATION,ORG=ACTOR",
            "--drop-unmapped",
            "--sentences-per-doc",
            "2",
        ]
    )
    assert status == 0
    printed = capsys.readouterr().out
    assert "2 documents, 3 sentences, 21 tokens" in printed and "(total 8)" in printed
    docs = load_documents(out)
    assert [d.id for d in docs] == ["sample-00001", "sample-00002"]
    assert docs[0].source == "conll:sample.txt"
    assert validate_paths([out]).ok()
    status = main(["convert", "conll", str(src), str(out), "--map", "PERS=PERSON"])
    assert status == 1
    assert "label 'LOC' is neither mapped" in capsys.readouterr().err


def test_to_conll_output_and_alignment_warnings(corpus):
    out = documents_to_conll([corpus[2]])  # real-001: «للقوات» with span «لقوات», «وحذرت واشنطن»
    lines = out.lines
    assert lines[:4] == ["قتل O", "3 O", "جنود O", "وأصيب O"]
    assert "للقوات B-ACTOR" in lines and "الأمريكية I-ACTOR" in lines
    assert "شمال O" in lines and "سوريا. B-LOCATION" in lines
    assert lines.count("") == 2  # one blank line after each sentence
    assert lines[lines.index("") + 1 : lines.index("") + 3] == ["وحذرت O", "واشنطن B-ACTOR"]
    assert out.warnings == [
        "[real-001] entity 60-75 'لقوات الأمريكية' ACTOR not aligned to word boundaries "
        "(tagged word(s) 'للقوات الأمريكية')",
        "[real-001] entity 85-90 'سوريا' LOCATION not aligned to word boundaries (tagged word(s) 'سوريا.')",
    ]


def test_to_conll_roundtrip_counts(tmp_path, capsys, corpus, corpus_path):
    out = tmp_path / "x.conll"
    assert main(["convert", "to-conll", str(corpus_path), str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    n_entities = sum(len(d.entities) for d in corpus)
    assert b_count(text, ENTITY_LABELS) == n_entities
    back = conll_to_documents(text.splitlines())
    assert sum(back.entities.values()) == n_entities
    assert back.sentences == sum(len(d.sentences) for d in corpus)


def test_labelstudio_round_trip_is_lossless(corpus):
    corpus[0].extra = {"url": "https://example.org/a", "notes": {"reviewed": True}}
    tasks = json.loads(json.dumps([document_to_task(d) for d in corpus], ensure_ascii=False))
    back = tasks_to_documents(tasks)
    assert [d.to_dict() for d in back] == [d.to_dict() for d in corpus]


def test_labelstudio_round_trip_cli(tmp_path, corpus_path):
    ls = tmp_path / "tasks.json"
    back = tmp_path / "back.jsonl"
    assert main(["convert", "to-labelstudio", str(corpus_path), str(ls)]) == 0
    assert main(["convert", "from-labelstudio", str(ls), str(back)]) == 0
    assert back.read_text(encoding="utf-8") == corpus_path.read_text(encoding="utf-8")


def test_labelstudio_task_layout(corpus):
    task = document_to_task(corpus[1])
    assert task["data"]["id"] == "syn-002" and task["data"]["synthetic"] is True
    result = task["annotations"][0]["result"]
    ents = [r for r in result if r["from_name"] == "label"]
    assert ents[0]["value"] == {"start": 6, "end": 21, "text": "الدفاعات الجوية", "labels": ["ACTOR"]}
    sents = [r for r in result if r["from_name"] == "sentence"]
    events = [r for r in result if r["from_name"] == "events"]
    assert [r["id"] for r in events] == [r["id"] for r in sents]
    assert events[1]["value"]["choices"] == ["RESPONSIBILITY"] and events[1]["type"] == "choices"


def test_reads_label_studio_export():
    text = "قصفت القوات الأمريكية مواقع في بغداد. وأعلن الجيش الحصيلة."
    export = [
        {
            "id": 17,
            "data": {"text": text},
            "annotations": [
                {"was_cancelled": True, "result": []},
                {
                    "result": [
                        {
                            "id": "a1",
                            "from_name": "label",
                            "to_name": "text",
                            "type": "labels",
                            "value": {"start": 5, "end": 21, "text": "القوات الأمريكية", "labels": ["ACTOR"]},
                        },
                        {
                            "id": "a2",
                            "from_name": "label",
                            "to_name": "text",
                            "type": "labels",
                            "value": {"start": 31, "end": 36, "text": "بغداد", "labels": ["LOCATION"]},
                        },
                    ]
                },
            ],
        }
    ]
    (doc,) = tasks_to_documents(export)
    assert doc.id == "ls-17"
    assert [(doc.span_text(e), e.label) for e in doc.entities] == [
        ("القوات الأمريكية", "ACTOR"),
        ("بغداد", "LOCATION"),
    ]
    assert [(s.start, s.end) for s in doc.sentences] == [(0, 37), (38, 58)]  # project splitter
    assert validate_documents([doc]).ok(strict=True)


def test_labelstudio_utf16_offsets_are_converted():
    text = "😀 بغداد"
    task = {
        "data": {"text": text, "id": "e"},
        "annotations": [
            {
                "result": [
                    {
                        "from_name": "label",
                        "type": "labels",
                        "value": {"start": 3, "end": 8, "text": "بغداد", "labels": ["LOCATION"]},
                    }
                ]
            }
        ],
    }
    assert task_to_document(task).entities == [Span(2, 7, "LOCATION")]


def test_labelstudio_mismatched_text_is_an_error():
    task = {
        "data": {"text": "قال الجيش", "id": "x"},
        "annotations": [
            {
                "result": [
                    {
                        "from_name": "label",
                        "type": "labels",
                        "value": {"start": 0, "end": 3, "text": "الجيش", "labels": ["ACTOR"]},
                    }
                ]
            }
        ],
    }
    with pytest.raises(LabelStudioError, match=r"task #0 \[x\]: region 0-3 text 'الجيش' does not match"):
        task_to_document(task)


def test_labelstudio_config_lists_schema(tmp_path):
    out = tmp_path / "config.xml"
    assert main(["convert", "labelstudio-config", str(out)]) == 0
    root = ET.fromstring(out.read_text(encoding="utf-8"))
    labels = {el.get("name"): [lab.get("value") for lab in el] for el in root.iter("Labels")}
    assert labels["label"] == list(ENTITY_LABELS) and labels["sentence"] == ["SENTENCE"]
    choices = next(root.iter("Choices"))
    assert choices.get("perRegion") == "true" and [c.get("value") for c in choices] == list(EVENT_TYPES)
    assert next(root.iter("Text")).get("value") == "$text"
    assert labeling_config() == out.read_text(encoding="utf-8")


def test_markup_conversion(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    (src / "b.txt").write_text("# id: b-1\nقال [[PERSON:يحيى رسول]] إن الوضع هادئ.\n", encoding="utf-8")
    (src / "a.txt").write_text(
        "# id: a-1\n# synthetic: true\nسقط [[WEAPON:صاروخ]] في [[LOCATION:أربيل]].{{ATTACK}}\n"
        "# ---\n# id: a-2\nوصل [[ACTOR:الجيش]].\n",
        encoding="utf-8",
    )
    (src / "notes.md").write_text("ignored", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["convert", "markup", str(src), str(out)]) == 0
    docs = load_documents(out)
    assert [d.id for d in docs] == ["a-1", "a-2", "b-1"]
    assert docs[0].synthetic and docs[0].sentences[0].events == ["ATTACK"]
    assert docs[0].span_text(docs[0].entities[1]) == "أربيل"
    assert validate_paths([out]).ok(strict=True)


def test_markup_errors_name_the_file(tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_text("# id: x\nقال [[ACTOR:الجيش إن\n", encoding="utf-8")
    assert main(["convert", "markup", str(bad), str(tmp_path / "o.jsonl")]) == 1
    err = capsys.readouterr().err
    assert str(bad) in err and "unbalanced mark" in err
    dup = tmp_path / "dup.txt"
    dup.write_text("# id: x\nنص.\n# ---\n# id: x\nنص.\n", encoding="utf-8")
    assert main(["convert", "markup", str(dup), str(tmp_path / "o.jsonl")]) == 1
    assert f"{dup}:4 [x]: duplicate id 'x' (first at {dup}:1)" in capsys.readouterr().err


def test_documents_helpers_exist():
    doc = Document("d", "نص.", sentences=[Sentence(0, 3, [])])
    assert documents_to_conll([doc]).lines == ["نص. O", ""]


def test_from_labelstudio_cli_error(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"x": 1', encoding="utf-8")
    assert main(["convert", "from-labelstudio", str(bad), str(tmp_path / "o.jsonl")]) == 1
    assert str(bad) in capsys.readouterr().err


def test_markup_round_trip_on_fixture(corpus):
    from rasd.markup import parse_markup, to_markup

    for doc in corpus:
        assert parse_markup(to_markup(doc), doc_id="other").to_dict() == doc.to_dict()


def test_markup_entity_at_sentence_end_round_trips():
    from rasd.markup import parse_markup, to_markup

    doc = parse_markup("وصل [[ACTOR:الجيش]]{{DEPLOYMENT}}", doc_id="e")
    assert doc.sentences[0].events == ["DEPLOYMENT"] and doc.span_text(doc.entities[0]) == "الجيش"
    assert to_markup(doc).endswith(
        "وصل [[ACTOR:الجيش]]{{DEPLOYMENT}}"
    )  # regression: the mark was inside «]]»
    assert parse_markup(to_markup(doc), doc_id="e").to_dict() == doc.to_dict()


def test_markup_hashtag_first_line_is_text():
    from rasd.markup import parse_markup

    doc = parse_markup("# id: h\n# a comment\n#عاجل\nوصل [[ACTOR:الجيش]].", doc_id="x")
    assert doc.id == "h" and doc.text == "#عاجل\nوصل الجيش."
    assert doc.span_text(doc.entities[0]) == "الجيش"
