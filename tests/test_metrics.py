"""Metrics against hand-computed values."""

from __future__ import annotations

import pytest

from rasd.training.metrics import (
    error_summary,
    event_metrics,
    prf,
    seqeval_metrics,
    span_metrics,
    tune_thresholds,
)


def test_prf_and_undefined_cases():
    assert prf(2, 1, 1) == pytest.approx({"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3, "support": 3})
    assert prf(0, 0, 0) == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


def test_span_metrics_exact_match():
    gold = [{(0, 5, "ACTOR"), (10, 15, "LOCATION")}, {(3, 8, "PERSON")}]
    pred = [{(0, 5, "ACTOR"), (10, 14, "LOCATION")}, {(3, 8, "PERSON"), (20, 25, "ACTOR")}]
    m = span_metrics(gold, pred, ["ACTOR", "PERSON", "LOCATION", "TIME"])
    # ACTOR tp1 fp1 fn0; PERSON tp1; LOCATION tp0 fp1 fn1; TIME unseen.
    assert m["micro"] == pytest.approx({"precision": 2 / 4, "recall": 2 / 3, "f1": 4 / 7, "support": 3})
    assert m["per_label"]["ACTOR"]["f1"] == pytest.approx(2 / 3)
    assert m["per_label"]["LOCATION"]["f1"] == 0.0
    assert m["per_label"]["TIME"]["support"] == 0
    # Macro over the three labels that occur (TIME never does).
    assert m["macro"]["f1"] == pytest.approx((2 / 3 + 1 + 0) / 3)


def test_seqeval_strict_iob2():
    gold = [["B-ACTOR", "I-ACTOR", "O", "B-LOCATION"], ["B-PERSON", "I-PERSON"]]
    pred = [["B-ACTOR", "I-ACTOR", "O", "O"], ["I-PERSON", "I-PERSON"]]  # strict: I- start is no entity
    m = seqeval_metrics(gold, pred)
    assert m["micro"]["precision"] == pytest.approx(1.0)
    assert m["micro"]["recall"] == pytest.approx(1 / 3)
    assert m["micro"]["f1"] == pytest.approx(0.5)
    assert m["per_label"]["ACTOR"]["f1"] == pytest.approx(1.0)
    assert m["per_label"]["PERSON"]["f1"] == 0.0


def test_event_metrics_sentence_and_document():
    gold = [{"ATTACK"}, {"ATTACK", "CASUALTIES"}, set()]
    pred = [{"ATTACK"}, {"CASUALTIES"}, {"THREAT"}]
    m = event_metrics(gold, pred, ["ATTACK", "CASUALTIES", "THREAT", "DIPLOMACY"])
    # tp: ATTACK 1, CASUALTIES 1; fn: ATTACK 1; fp: THREAT 1.
    assert m["micro"] == pytest.approx({"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3, "support": 3})
    assert m["per_type"]["ATTACK"] == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2})
    assert m["macro"]["f1"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    # Document level: union over the sentences of one document.
    doc = event_metrics([set().union(*gold)], [set().union(*pred)], ["ATTACK", "CASUALTIES", "THREAT"])
    assert doc["micro"] == pytest.approx({"precision": 2 / 3, "recall": 1.0, "f1": 0.8, "support": 2})


def test_error_summary_kinds():
    text = "القوات الأمريكية في العراق وبغداد"
    gold = [{(0, 16, "ACTOR"), (20, 26, "LOCATION"), (28, 33, "LOCATION")}]
    pred = [{(0, 6, "ACTOR"), (20, 26, "ACTOR"), (17, 19, "TIME")}]
    s = error_summary(gold, pred, [{"ATTACK"}], [{"THREAT"}], [text])
    kinds = {(e["kind"], e["gold"], e["pred"]): e for e in s["entities"]}
    assert kinds[("boundary", "ACTOR", "ACTOR")]["example"] == "القوات الأمريكية"
    assert kinds[("wrong_label", "LOCATION", "ACTOR")]["example"] == "العراق"
    assert ("missed", "LOCATION", "-") in kinds
    assert kinds[("spurious", "-", "TIME")]["example"] == "في"
    assert {(e["kind"], e["type"]) for e in s["events"]} == {("false_positive", "THREAT"), ("false_negative", "ATTACK")}


def test_threshold_tuning():
    probs = [[0.9, 0.1], [0.35, 0.2], [0.3, 0.6], [0.1, 0.05]]
    gold = [{"ATTACK"}, {"ATTACK"}, set(), set()]
    th = tune_thresholds(probs, gold, ["ATTACK", "THREAT"])
    # ATTACK: any threshold in (0.30, 0.35] separates perfectly; 0.35 is the grid point.
    assert th["ATTACK"] == pytest.approx(0.35)
    assert th["THREAT"] == 0.5  # no positives: untouched
