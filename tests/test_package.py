"""Packaging: one top-level package, ``rasd``, whatever else is installed beside it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SKIP = shutil.ignore_patterns(".git", ".venv*", "runs", "outputs", "build", "dist", "*.egg-info", "__pycache__", ".*_cache")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from a copy of the tree (the build never writes into the checkout)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=SKIP)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp / "dist"), str(src)],
        check=True,
        capture_output=True,
    )
    (built,) = (tmp / "dist").glob("rasd-*.whl")
    return built


def test_wheel_has_one_top_level_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert top == {"rasd"}
    assert "rasd/training/trainer.py" in names
    assert "rasd/inference/tagger.py" in names
    assert "rasd/training/templates/model_card.md" in names
    assert "rasd/py.typed" in names


def test_unrelated_inference_and_training_packages_change_nothing(wheel: Path, tmp_path: Path) -> None:
    """The wheel unpacked into a site folder that also holds other top-level ``inference`` and
    ``training`` packages (as PyPI's ``inference`` would install): rasd imports only its own."""
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    for name in ("inference", "training"):
        (site / name).mkdir()
        (site / name / "__init__.py").write_text("OTHER = True\n")
    code = (
        "import sys, inference, training, rasd; from rasd import Tagger; "
        "import rasd.training.trainer, rasd.inference.batch; "
        "assert 'torch' in sys.modules; "
        "assert inference.OTHER and training.OTHER; "
        f"assert Tagger.__module__ == 'rasd.inference.tagger'; "
        f"assert rasd.inference.batch.__file__.startswith({str(site)!r}), rasd.inference.batch.__file__; "
        f"assert rasd.training.trainer.__file__.startswith({str(site)!r}); "
        "print(rasd.__version__)"
    )
    out = subprocess.run(
        [sys.executable, "-P", "-c", code], env={"PYTHONPATH": str(site), "PATH": ""}, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == __import__("rasd").__version__


def test_import_rasd_is_light() -> None:
    code = "import sys, rasd; assert 'torch' not in sys.modules and 'transformers' not in sys.modules; print(rasd.__version__)"
    out = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_repository_root_is_not_importable() -> None:
    """The suite runs with ``python -P``: the folders training/ and inference/ are not importable by
    their folder names, so a stray ``import training`` fails here as it would for users."""
    import importlib.util

    assert importlib.util.find_spec("training") is None
    assert importlib.util.find_spec("inference") is None


def test_cli_parser_is_light() -> None:
    """Every subcommand registers without importing torch, so `rasd validate` / `rasd --help` are instant."""
    code = (
        "import sys; from rasd.cli import build_parser; build_parser(); "
        "assert 'torch' not in sys.modules, 'building the parser imported torch'"
    )
    out = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
