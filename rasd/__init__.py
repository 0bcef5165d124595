"""rasd (رصد): structured data from Arabic conflict news.

``import rasd`` is light (no torch); :class:`Tagger` is imported on first use:

>>> import rasd
>>> rasd.__version__
'0.1.0'
>>> from rasd import Tagger                     # doctest: +SKIP
>>> Tagger.from_pretrained("runs/e5")            # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from rasd.inference.tagger import Tagger

__all__ = ["Tagger", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "Tagger":
        from rasd.inference.tagger import Tagger

        return Tagger
    raise AttributeError(f"module 'rasd' has no attribute {name!r}")
