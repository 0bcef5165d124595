"""Every docstring example of the installed package runs (``doctest``, by module name).

pytest's ``--doctest-modules`` imports files by their path (``training/config.py`` as
``training.config``), which would put the repository root on ``sys.path`` and load each module
twice; importing by installed name checks what users import.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest


def _modules() -> list[str]:
    # rasd.training and rasd.inference live in their own folders (package-dir mapping), so an
    # editable install does not list them under rasd.__path__: walk each package root.
    names = []
    for root in ("rasd", "rasd.training", "rasd.inference"):
        package = importlib.import_module(root)
        names += [root, *(m.name for m in pkgutil.walk_packages(package.__path__, root + "."))]
    return sorted(set(names))


MODULES = _modules()


def test_walk_finds_the_mapped_subpackages() -> None:
    assert "rasd.training.trainer" in MODULES
    assert "rasd.inference.decode" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} doctest examples failed"


def test_some_examples_run() -> None:
    attempted = sum(
        doctest.testmod(importlib.import_module(n), verbose=False, report=False).attempted for n in MODULES
    )
    assert attempted >= 20
