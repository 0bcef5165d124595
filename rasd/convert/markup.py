"""Markup files (``rasd.markup``) → corpus documents, with errors naming the file."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from rasd.corpus import Document, corpus_files
from rasd.markup import MarkupError, iter_markup_file


def markup_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand files and directories (``*.txt`` inside, sorted; folders named ``*.txt`` skipped);
    ``FileNotFoundError`` for a missing path, ``OSError`` for a broken link or a link loop."""
    return corpus_files(paths, pattern="*.txt")


def markup_to_documents(paths: Iterable[str | Path]) -> list[Document]:
    """Parse every markup file; raise :class:`MarkupError` naming the file and line on the first
    problem (ids must be unique across all files), ``OSError`` for a missing or unreadable path."""
    docs: list[Document] = []
    seen: dict[str, str] = {}
    for path in markup_files(paths):
        for line, doc in iter_markup_file(path):
            if doc.id in seen:
                raise MarkupError(path, line, f"duplicate id {doc.id!r} (first at {seen[doc.id]})", doc.id)
            seen[doc.id] = f"{path}:{line}"
            docs.append(doc)
    return docs
