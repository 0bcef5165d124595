"""Shared fixtures: a small hand-written corpus built from markup."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from rasd.corpus import Document, write_jsonl
from rasd.markup import parse_markup

MARKUP = {
    "syn-001": """# source: synthetic/wire
# synthetic: true
أعلنت [[ACTOR:وزارة الدفاع العراقية]] [[TIME:يوم الأحد]] أن [[WEAPON:صاروخين]] سقطا قرب [[SITE:قاعدة عين الأسد الجوية]] في [[LOCATION:محافظة الأنبار]].{{ATTACK}} وأضافت أن الهجوم لم يسفر عن إصابات.
وقال المتحدث [[PERSON:يحيى رسول]] إن [[ACTOR:قوات الأمن]] فتحت تحقيقا.""",
    "syn-002": """# source: synthetic/wire
# synthetic: true
أسقطت [[ACTOR:الدفاعات الجوية]] [[WEAPON:طائرة مسيرة]] فوق [[LOCATION:أربيل]] [[TIME:مساء الاثنين]].{{INTERCEPTION}} وتبنت [[ACTOR:المقاومة الإسلامية في العراق]] الهجوم في بيان.{{RESPONSIBILITY}}""",
    "real-001": """# source: news/example
# synthetic: false
قتل 3 جنود وأصيب 5 آخرون في انفجار عبوة ناسفة استهدف دورية ل[[ACTOR:لقوات الأمريكية]] شمال شرق [[LOCATION:سوريا]].{{EXPLOSION,CASUALTIES}}
وحذرت [[ACTOR:واشنطن]] من أنها سترد على أي هجوم جديد.{{THREAT}}""",
    "real-002": """# source: news/example
# synthetic: false
التقى [[PERSON:أنتوني بلينكن]] رئيس الوزراء [[PERSON:محمد شياع السوداني]] في [[LOCATION:بغداد]] [[TIME:أوائل فبراير]] وبحثا انسحاب [[ACTOR:قوات التحالف]].{{DIPLOMACY,DEPLOYMENT}}""",
}


def build_corpus() -> list[Document]:
    return [parse_markup(src, doc_id=doc_id) for doc_id, src in MARKUP.items()]


@pytest.fixture
def corpus() -> list[Document]:
    """Four documents (two synthetic, two real) with entities of every label and events."""
    return build_corpus()


@pytest.fixture
def corpus_path(tmp_path: Path, corpus: list[Document]) -> Path:
    """The fixture corpus written as one JSONL file."""
    path = tmp_path / "corpus.jsonl"
    write_jsonl(corpus, path)
    return path


@pytest.fixture
def write_lines(tmp_path: Path) -> Callable[..., Path]:
    """``write_lines(*lines, name="x.jsonl")``: write a JSONL file in ``tmp_path`` and return its path."""

    def write(*lines: str | bytes | dict, name: str = "x.jsonl") -> Path:
        """One line each: a dict as JSON, a string as UTF-8, bytes as they are (broken input)."""
        raw = b""
        for line in lines:
            if isinstance(line, dict):
                line = json.dumps(line, ensure_ascii=False)
            raw += (line.encode("utf-8") if isinstance(line, str) else line) + b"\n"
        path = tmp_path / name
        path.write_bytes(raw)
        return path

    return write


@pytest.fixture(scope="session")
def trained_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture corpus trained for a few steps (:func:`train_tiny`), once per test session;
    shared by the card and publish tests, which read it and never write into it."""
    root = tmp_path_factory.mktemp("trained")
    corpus_file = root / "corpus.jsonl"
    write_jsonl(build_corpus(), corpus_file)
    return train_tiny(root / "model", corpus_file)


def train_tiny(out: Path, corpus_file: Path) -> Path:
    """A tiny model trained for a few steps by the real trainer, with dev and test metrics
    (the trainer also writes its model card)."""
    from rasd.training.config import load_config
    from rasd.training.trainer import train

    config = load_config(
        None,
        [
            f"data.train_files={corpus_file}",
            f"data.test_files={corpus_file}",
            "data.dev_fraction=0.25",
            "data.max_length=64",
            "model.tiny.vocab_size=300",
            "model.tiny.hidden_size=32",
            "model.tiny.num_layers=1",
            "training.max_steps=4",
            "training.batch_size=4",
            f"training.output_dir={out}",
        ],
    )
    return Path(train(config).output_dir)
