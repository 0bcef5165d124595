"""Inference: the :class:`Tagger` API, decoding, event records and the ``rasd tag`` batch job.

``from rasd.inference import Tagger`` does not import torch until a tagger is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rasd.inference.tagger import Tagger

__all__ = ["Tagger"]


def __getattr__(name: str) -> Any:
    if name == "Tagger":
        from rasd.inference.tagger import Tagger

        return Tagger
    raise AttributeError(f"module 'rasd.inference' has no attribute {name!r}")
