"""Markup files (``rasd.markup``) → corpus documents, with errors naming the file."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from rasd.corpus import Document, corpus_files
from rasd.markup import MarkupError, read_markup_file


def markup_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand files and directories (``*.txt`` inside, sorted); ``FileNotFoundError`` for a missing path."""
    return corpus_files(paths, pattern="*.txt")


def markup_to_documents(paths: Iterable[str | Path]) -> list[Document]:
    """Parse every markup file; raise :class:`MarkupError` naming the file on any problem in one
    (``FileNotFoundError`` for a missing path)."""
    docs: list[Document] = []
    seen: dict[str, Path] = {}
    for path in markup_files(paths):
        try:
            parsed = read_markup_file(path)
        except UnicodeDecodeError as exc:
            raise MarkupError(f"{path}: invalid UTF-8 at byte {exc.start}") from None
        except MarkupError as exc:
            msg = str(exc)
            raise MarkupError(msg if str(path) in msg else f"{path}: {msg}") from None
        for doc in parsed:
            if doc.id in seen:
                raise MarkupError(f"{path}: duplicate id {doc.id!r} (also in {seen[doc.id]})")
            seen[doc.id] = path
            docs.append(doc)
    return docs
