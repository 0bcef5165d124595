"""Errors of the library that mean "your input cannot be used", light to import (no torch).

``rasd.cli.main`` reports them as its one ``rasd: error:`` line, so they live here rather than
in the torch-importing module that raises them.
"""

from __future__ import annotations


class ModelFolderError(ValueError):
    """A model folder that cannot be used, e.g. a bad value in its ``rasd.json``.

    The message is one line naming the file and the field:
    ``runs/m/rasd.json: max_length must be an integer from 8 to 8192, got 0``.
    """
