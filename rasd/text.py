"""Arabic text utilities shared by annotation, training and inference.

* :func:`split_sentences` — the project's sentence splitter (the guidelines'
  segmentation is defined by it).
* :func:`normalize` — a normalised view of raw text plus an offset map, so
  every span found in the view maps back to the caller's original string.
* :func:`proclitic_length` — the guidelines' proclitic rule, used by the
  validator (warning) and the tagger (trimming).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

TERMINATORS = ".!?؟…"
# Characters that may follow a terminator and still belong to the sentence.
_CLOSERS = "\"'”’»)]}›"
_OPENERS = {"“": "”", "«": "»"}
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "gen", "col", "lt", "sgt", "st", "jr", "sr", "vs", "etc", "no",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "u.n",
    "د", "م", "هـ", "ه", "ق", "ص", "أ", "ت", "ج", "ق.م", "أ.د",
}


def _is_abbreviation(text: str, dot: int) -> bool:
    """True when the ``.`` at ``dot`` closes an abbreviation rather than a sentence."""
    start = dot
    while start > 0 and not text[start - 1].isspace() and text[start - 1] not in "(\"'«“":
        start -= 1
    token = text[start:dot].lower()
    if not token:
        return False
    if token in _ABBREVIATIONS:
        return True
    # Initials like "U.S" or "J" (single letters separated by dots).
    return bool(re.fullmatch(r"(?:[a-z]\.)*[a-z]", token))


def _quote_closes_later(line: str, pos: int) -> bool:
    """Whether the quotation open at ``pos`` is closed later on the same line."""
    return any(c in line[pos:] for c in ("”", "»", '"'))


def _split_line(text: str, lo: int, hi: int) -> list[tuple[int, int]]:
    """Sentence spans of one line ``text[lo:hi]`` (no line breaks inside)."""
    spans: list[tuple[int, int]] = []
    start = lo
    depth = 0
    in_ascii_quote = False
    i = lo
    while i < hi:
        ch = text[i]
        if ch in _OPENERS:
            depth += 1
        elif ch in ("”", "»"):
            depth = max(0, depth - 1)
        elif ch == '"':
            in_ascii_quote = not in_ascii_quote
        if ch in TERMINATORS:
            j = i
            while j + 1 < hi and text[j + 1] in TERMINATORS:
                j += 1
            k = j + 1
            while k < hi and text[k] in _CLOSERS:
                k += 1
            # Closing quotes right after the terminator end the quotation, boundary or not.
            closed = text[j + 1 : k]
            depth = max(0, depth - sum(c in "”»" for c in closed))
            if '"' in closed:
                in_ascii_quote = False
            boundary = k >= hi or text[k].isspace()
            if boundary and ch == "." and j == i and _is_abbreviation(text, i):
                boundary = False
            if boundary and (depth > 0 or in_ascii_quote) and k < hi and _quote_closes_later(text[k:hi], 0):
                # A quotation that continues after this terminator: keep going.
                boundary = False
            if boundary:
                spans.append((start, k))
                start = k
            i = k
            continue
        i += 1
    if start < hi:
        spans.append((start, hi))
    # Trim whitespace and drop empty pieces.
    out = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if s < e:
            out.append((s, e))
    return out


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Split raw text into sentence spans ``[start, end)``.

    A sentence ends at ``. ! ? ؟ …`` followed by space or end of line, or at a
    line break; not inside numbers (``3.5``), abbreviations (``U.S.``, ``د.``),
    domain names, or quotations that close later on the same line. Spans are
    stripped of surrounding whitespace and together cover every non-space
    character.

    >>> split_sentences("قال المسؤول. وأضاف: «لن نرد. أبدا».\\nعاجل")
    [(0, 12), (13, 35), (36, 40)]
    """
    spans: list[tuple[int, int]] = []
    pos = 0
    for m in re.finditer(r"[\n\r\u2028\u2029]", text + "\n"):
        spans.extend(_split_line(text, pos, min(m.start(), len(text))))
        pos = m.end()
    return spans


def sentence_bounds(text: str, sentences: Sequence[Any] | None = None) -> list[tuple[int, int]]:
    """The sentences of ``text`` as ``(start, end)`` pairs: the ones given (pairs, mappings with
    ``start``/``end``, or objects such as :class:`rasd.corpus.Sentence`), else :func:`split_sentences`.

    >>> sentence_bounds("قال المسؤول. وأضاف.")
    [(0, 12), (13, 19)]
    >>> sentence_bounds("قال المسؤول. وأضاف.", [{"start": 0, "end": 19}])
    [(0, 19)]
    """
    if sentences is None:
        return split_sentences(text)
    pairs = []
    for s in sentences:
        if isinstance(s, tuple | list):
            pairs.append((int(s[0]), int(s[1])))
        elif isinstance(s, dict):
            pairs.append((int(s["start"]), int(s["end"])))
        else:
            pairs.append((int(s.start), int(s.end)))
    return pairs


def given_sentence_bounds(text: str, given: Any) -> list[tuple[int, int]] | None:
    """Sentence boundaries an input supplies (a ``sentences`` field), checked against ``text``;
    ``None`` (or an empty list) means "use the splitter". Raises ``ValueError`` with the reason.

    >>> given_sentence_bounds("قال المسؤول.", [[0, 12]])
    [(0, 12)]
    >>> given_sentence_bounds("قال المسؤول.", [[5, 2]])
    Traceback (most recent call last):
    ValueError: sentence 0 [5, 2) is not inside the text (12 characters)
    """
    if given is None or (isinstance(given, list) and not given):
        return None
    bad = "field 'sentences' must be a list of [start, end] pairs or {start, end} objects"
    if not isinstance(given, list):
        raise ValueError(bad)
    try:
        bounds = sentence_bounds(text, given)
    except (TypeError, KeyError, ValueError, IndexError, AttributeError, OverflowError):
        raise ValueError(bad) from None
    for k, (a, b) in enumerate(bounds):
        if not 0 <= a < b <= len(text):
            raise ValueError(f"sentence {k} [{a}, {b}) is not inside the text ({len(text)} characters)")
    return bounds


# --- normalisation with an offset map -------------------------------------------------

_DIACRITICS = re.compile(r"[\u0610-\u061A\u064B-\u065F\u0670\u06D6-\u06ED]")
_INVISIBLE = re.compile(r"[\u200B-\u200F\u202A-\u202E\u2060-\u2069\uFEFF\u061C\u00AD]")
_TATWEEL = "\u0640"
_ALEF = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا"})
_DIGITS = str.maketrans({**{chr(0x0660 + d): str(d) for d in range(10)}, **{chr(0x06F0 + d): str(d) for d in range(10)}})


@dataclass(frozen=True)
class NormalizationOptions:
    """Which normalisations the model's view of the text applies (saved with the model)."""

    strip_diacritics: bool = True
    strip_tatweel: bool = True
    strip_invisible: bool = True
    arabic_digits: bool = True
    unify_alef: bool = False
    unify_yeh: bool = False
    unify_teh_marbuta: bool = False


@dataclass(frozen=True)
class NormalizedText:
    """A normalised string and, for each of its characters, the index in the original."""

    text: str
    offsets: tuple[int, ...]
    original_length: int
    original: str = field(default="", repr=False, compare=False)

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a normalised span ``[start, end)`` back to original offsets.

        Diacritics removed right after the span's last character belong to it and are included.
        """
        if start >= end:
            pos = self.offsets[start] if start < len(self.offsets) else self.original_length
            return pos, pos
        stop = self.offsets[end - 1] + 1
        limit = self.offsets[end] if end < len(self.offsets) else min(self.original_length, len(self.original))
        while stop < limit and _DIACRITICS.match(self.original[stop]):
            stop += 1
        return self.offsets[start], stop


def normalize(text: str, options: NormalizationOptions | None = None) -> NormalizedText:
    """Return the normalised view of ``text`` with an offset map back to ``text``.

    Deleting normalisations (diacritics, tatweel, invisible marks) drop
    characters; substituting ones (digits, alef, yeh, teh marbuta) keep length.
    Control characters become spaces so they never glue words together.

    >>> n = normalize("الـقُوّات")
    >>> n.text, n.to_original(0, len(n.text))
    ('القوات', (0, 9))
    """
    deletable, table = _plan(options or NormalizationOptions())
    # Whole runs are cut and kept slices translated at C speed: a per-character loop cost
    # ~3% of batch tagging (benchmarks/README.md).
    pieces: list[str] = []
    offsets: list[int] = []
    pos = 0
    if deletable is not None:
        for m in deletable.finditer(text):
            pieces.append(text[pos : m.start()])
            offsets.extend(range(pos, m.start()))
            pos = m.end()
    pieces.append(text[pos:])
    offsets.extend(range(pos, len(text)))
    return NormalizedText("".join(pieces).translate(table), tuple(offsets), len(text), text)


_CONTROL = "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f"


@functools.cache
def _plan(opts: NormalizationOptions) -> tuple[re.Pattern[str] | None, dict[int, str]]:
    """The deletion pattern (runs of deletable characters) and the substitution table of ``opts``."""
    classes = []
    if opts.strip_diacritics:
        classes.append(_DIACRITICS.pattern[1:-1])
    if opts.strip_tatweel:
        classes.append(_TATWEEL)
    if opts.strip_invisible:
        classes.append(_INVISIBLE.pattern[1:-1])
    table: dict[int, str] = {ord(c): " " for c in _CONTROL}
    if opts.arabic_digits:
        table.update(_DIGITS)
    if opts.unify_alef:
        table.update(_ALEF)
    if opts.unify_yeh:
        table[ord("ى")] = "ي"
    if opts.unify_teh_marbuta:
        table[ord("ة")] = "ه"
    return (re.compile("[" + "".join(classes) + "]+") if classes else None), table


# --- proclitics --------------------------------------------------------------------------

_PROCLITIC_RE = re.compile(r"^(?:[وف])?(?:[بكل])?(?=ال)|^(?:[وف])?ل(?=ل)")
# A clitic written apart with tatweel, «لـأنصار الله», «بـطائرتين», «وبـ…»: the kashida marks the
# letters before it as a separate proclitic. Not س: «سـ» before a name is a stretched «سوريا».
_TATWEEL_PROCLITIC_RE = re.compile(r"^(?:[وف][\u064B-\u0652]*)?(?:[بكل][\u064B-\u0652]*)?\u0640+")
ARABIC_LETTER = re.compile(r"[\u0621-\u064A\u0671-\u06D3]")


def proclitic_length(word: str) -> int:
    """Length of the proclitic prefix (و ف ب ك ل) that the guidelines keep outside a span.

    Only prefixes that certainly are clitics are counted: those followed by the
    article ``ال`` (``والقوات`` → 1, ``وبالقاعدة`` → 2), the contraction
    ``لل`` (``للقوات`` → 1, leaving ``لقوات``), and those written apart with
    tatweel, which is counted with them (``لـأنصار`` → 2, leaving ``أنصار``;
    ``وبـطائرتين`` → 3). A bare initial letter is part of the word (``بغداد``,
    ``واشنطن``), so it is never counted.

    >>> [proclitic_length(w) for w in ("والقوات", "لـأنصار", "لـ", "بغداد", "الـقوات")]
    [1, 2, 2, 0, 0]
    """
    m = _TATWEEL_PROCLITIC_RE.match(word)
    if m and m.end() > word.count("\u0640", 0, m.end()):  # at least one clitic letter before the tatweel
        # The clitic alone («لـ» before «كتائب») or two letters left at least: «لـه» (to him) is a pronoun.
        return m.end() if len(ARABIC_LETTER.findall(word[m.end() :])) != 1 else 0
    m = _PROCLITIC_RE.match(word)
    if not m:
        return 0
    n = m.end()
    # Keep at least the article plus two letters: «ال» alone or «الله» are not clitic cases.
    if len(word) - n < 4:
        return 0
    return n


def is_arabic(text: str) -> bool:
    """Whether ``text`` contains at least one Arabic letter."""
    return bool(ARABIC_LETTER.search(text))
