"""Training-data augmentation that keeps every offset exact (pure Python, no torch).

* :func:`replace_mentions` swaps entity mentions for other mentions of the same
  label taken from the corpus itself;
* :func:`orthographic_noise` applies spelling variants seen in real news
  (bare alef for hamza forms, final ى/ي, final ة→ه, tatweel, occasional
  diacritics, Western↔Arabic-Indic digits);
* :func:`add_furniture` appends a related-articles list («اقرأ أيضا» + bulleted
  headlines borrowed from other documents, entities kept, **no events**), the page
  furniture of real news pages that the guidelines (§5) leave without event types;
* :func:`augment_corpus` combines them under an :class:`AugmentConfig`.

Both rebuild the text piece by piece and move every entity and sentence
offset with it, so augmented documents pass ``rasd validate`` like the
originals. Augmented ids are ``<id>#aug<k>``; randomness is seeded per
document (``random.Random(f"{seed}:{id}:{k}")``), so results do not depend on
corpus order.
"""

from __future__ import annotations

import bisect
import random
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from rasd.corpus import Document, Sentence, Span
from rasd.text import split_sentences

AUG_SEP = "#aug"


@dataclass
class AugmentConfig:
    """Augmentation settings embedded in the training config."""

    enabled: bool = False
    copies: int = 1
    mention_prob: float = 0.5
    noise_prob: float = 0.1
    seed: int = 0
    min_count: int = 1
    furniture_prob: float = 0.0  # share of synthetic originals given a related-articles list
    furniture_items: int = 4  # at most this many bulleted headlines per list


FURNITURE_HEADERS = ("اقرأ أيضا:", "أخبار ذات صلة", "الأكثر قراءة", "مواضيع ذات صلة", "اقرأ المزيد")


class _Editor:
    """Applies non-overlapping edits ``(start, end, replacement)`` and maps old offsets to new.

    An insertion at ``x`` attaches to the character before it: a span starting
    at ``x`` starts after it, a span ending at ``x`` includes it.
    """

    def __init__(self, text: str):
        self.text = text
        self.edits: list[tuple[int, int, str]] = []
        self._ends: list[int] = []
        self._shift: list[int] = []  # cumulative length change after each edit

    def replace(self, start: int, end: int, new: str) -> None:
        self.edits.append((start, end, new))

    def apply(self) -> str:
        self.edits.sort(key=lambda e: (e[0], e[1]))
        parts: list[str] = []
        pos = acc = 0
        for start, end, new in self.edits:
            if start < pos:
                raise ValueError(f"overlapping edits at {start}")
            parts += [self.text[pos:start], new]
            acc += len(new) - (end - start)
            self._ends.append(end)
            self._shift.append(acc)
            pos = end
        parts.append(self.text[pos:])
        return "".join(parts)

    def map(self, old: int) -> int:
        """New offset of ``old``: moved by every edit ending at or before it."""
        i = bisect.bisect_right(self._ends, old)
        if i < len(self.edits) and self.edits[i][0] < old:
            raise ValueError(f"offset {old} falls inside edited text {self.edits[i][0]}-{self.edits[i][1]}")
        return old + (self._shift[i - 1] if i else 0)


def _rebuild(doc: Document, editor: _Editor, new_id: str, kind: str) -> Document:
    text = editor.apply()
    entities = [Span(editor.map(s.start), editor.map(s.end), s.label) for s in doc.entities]
    sentences = [Sentence(editor.map(s.start), editor.map(s.end), list(s.events)) for s in doc.sentences]
    extra = dict(doc.extra)
    prior = doc.extra.get("augmented")
    if isinstance(prior, dict) and "of" in prior:
        extra["augmented"] = {"of": prior["of"], "kind": f"{prior.get('kind', '')}+{kind}".lstrip("+")}
    else:
        extra["augmented"] = {"of": doc.id, "kind": kind}
    return Document(new_id, text, doc.source, doc.synthetic, entities, sentences, extra)


# --- mention replacement ------------------------------------------------------------------

_LAM_PREFIXES = {"ل", "ول", "فل"}


def _after_attached_lam(text: str, start: int) -> bool:
    """Whether the span at ``start`` follows an attached preposition ل (``للقوات`` → span ``لقوات``)."""
    w = start
    while w > 0 and not text[w - 1].isspace():
        w -= 1
    return text[w:start] in _LAM_PREFIXES


def _fit(candidate: str, after_lam: bool) -> str:
    """The candidate as written in its slot: after ل, ``الX`` contracts to ``لX``."""
    if after_lam and candidate.startswith("ال"):
        return candidate[1:]
    return candidate


def mention_pool(docs: Iterable[Document], min_count: int = 1) -> dict[str, list[str]]:
    """Distinct mentions per label seen at least ``min_count`` times (sorted, one line each).

    Mentions written in the contracted form after ``ل`` are left out (their full form is ambiguous).
    """
    counts: dict[str, Counter[str]] = {}
    for doc in docs:
        for span in doc.entities:
            mention = doc.span_text(span)
            if not mention or "\n" in mention or mention != mention.strip():
                continue
            if _after_attached_lam(doc.text, span.start) and mention.startswith("ل"):
                continue
            counts.setdefault(span.label, Counter())[mention] += 1
    pool = {label: sorted(m for m, n in c.items() if n >= min_count) for label, c in counts.items()}
    return {label: mentions for label, mentions in pool.items() if mentions}


def _replace_doc(
    doc: Document, pool: dict[str, list[str]], prob: float, rng: random.Random, new_id: str
) -> Document | None:
    editor = _Editor(doc.text)
    bounds = {b for s in doc.sentences for b in (s.start, s.end)}
    for span in sorted(doc.entities):
        options = pool.get(span.label, [])
        if not options or rng.random() >= prob:
            continue
        if any(span.start < b < span.end for b in bounds):
            continue  # an entity crossing a sentence boundary cannot be moved safely
        after_lam = _after_attached_lam(doc.text, span.start)
        current = doc.span_text(span)
        # «ل» + «اللواء» is spelt «للواء», which the slot cannot express: skip such candidates.
        choices = [
            c for c in options if _fit(c, after_lam) != current and not (after_lam and c.startswith("الل"))
        ]
        if not choices:
            continue
        editor.replace(span.start, span.end, _fit(rng.choice(choices), after_lam))
    if not editor.edits:
        return None
    return _rebuild(doc, editor, new_id, "mentions")


def replace_mentions(
    docs: Iterable[Document], *, copies: int = 1, prob: float = 0.5, seed: int = 0, min_count: int = 1
) -> list[Document]:
    """Augmented copies (not the originals) with mentions swapped for same-label corpus mentions.

    Each entity is replaced with probability ``prob``; a copy in which nothing
    changed is not returned.
    """
    docs = list(docs)
    pool = mention_pool(docs, min_count)
    out: list[Document] = []
    for doc in docs:
        for k in range(1, copies + 1):
            rng = random.Random(f"{seed}:{doc.id}:{k}")
            new = _replace_doc(doc, pool, prob, rng, f"{doc.id}{AUG_SEP}{k}")
            if new is not None:
                out.append(new)
    return out


# --- orthographic noise -------------------------------------------------------------------

_HAMZA_ALEF = "أإآ"
_DIACRITICS = "\u064e\u064f\u0650\u0651\u0652"  # fatha, damma, kasra, shadda, sukun
_TATWEEL = "\u0640"
_LONG_VOWELS_HAMZA = set("اأإآءؤئوىية")
# Letters that join to the following letter (tatweel may follow them inside a word).
_JOINING = set("بتثجحخسشصضطظعغفقكلمنهيئ")
_ARABIC_LETTER = re.compile(r"[\u0621-\u064A]")
_WEST_TO_ARABIC = {str(d): chr(0x0660 + d) for d in range(10)}
_ARABIC_TO_WEST = {chr(0x0660 + d): str(d) for d in range(10)}


def _variants(word: str, at: int) -> list[tuple[int, int, str]]:
    """Candidate edits ``(start, end, new)`` (absolute offsets) for a word starting at ``at``."""
    out: list[tuple[int, int, str]] = []
    for i, ch in enumerate(word):
        if ch in _HAMZA_ALEF:
            out.append((at + i, at + i + 1, "ا"))
        if ch in _WEST_TO_ARABIC:
            out.append((at + i, at + i + 1, _WEST_TO_ARABIC[ch]))
        elif ch in _ARABIC_TO_WEST:
            out.append((at + i, at + i + 1, _ARABIC_TO_WEST[ch]))
    letters = [i for i, ch in enumerate(word) if _ARABIC_LETTER.match(ch)]
    if letters:
        last = letters[-1]
        swap = {"ى": "ي", "ي": "ى", "ة": "ه"}.get(word[last])
        if swap and last >= 1:
            out.append((at + last, at + last + 1, swap))
        inner = [
            i
            for i in letters[:-1]
            if word[i] in _JOINING and i + 1 < len(word) and _ARABIC_LETTER.match(word[i + 1])
        ]
        if inner:
            i = inner[len(inner) // 2]
            out.append((at + i + 1, at + i + 1, _TATWEEL))
        consonants = [i for i in letters[: max(1, len(letters) - 1)] if word[i] not in _LONG_VOWELS_HAMZA]
        if consonants:
            i = consonants[len(consonants) // 2]
            out.append((at + i + 1, at + i + 1, _DIACRITICS[(i + len(word)) % len(_DIACRITICS)]))
    return out


def orthographic_noise(doc: Document, *, prob: float, seed: int, new_id: str | None = None) -> Document:
    """A copy of ``doc`` where each word, with probability ``prob``, gets one spelling variant.

    Insertions (tatweel, diacritics) attach to the preceding letter: a span
    starting right after one excludes it, a span ending right before one includes it.
    """
    rng = random.Random(f"{seed}:{doc.id}:noise")
    editor = _Editor(doc.text)
    for m in re.finditer(r"\S+", doc.text):
        if rng.random() >= prob:
            continue
        options = _variants(m.group(), m.start())
        if options:
            editor.replace(*rng.choice(options))
    return _rebuild(doc, editor, new_id or doc.id, "noise")


# --- page furniture -------------------------------------------------------------------------


def furniture_donors(docs: Iterable[Document], max_chars: int = 160) -> list[tuple[str, str, list[Span]]]:
    """``(doc id, sentence text, entities relative to it)`` for one-line sentences that report events:
    the headlines a related-articles list would show."""
    out = []
    for doc in docs:
        for sent in doc.sentences:
            text = doc.text[sent.start : sent.end]
            if not sent.events or len(text) > max_chars or "\n" in text:
                continue
            spans = [
                Span(e.start - sent.start, e.end - sent.start, e.label)
                for e in doc.entities
                if sent.start <= e.start and e.end <= sent.end
            ]
            out.append((doc.id, text, spans))
    return out


def add_furniture(
    doc: Document, donors: list[tuple[str, str, list[Span]]], rng: random.Random, max_items: int = 4
) -> Document:
    """``doc`` with a related-articles block appended: a header line and 2..``max_items``
    «• headline» lines taken from other documents. Their entities come along; every new
    sentence has no event types (GUIDELINES §5), so the model learns that teasers are not
    the article's events. Returns ``doc`` unchanged when there are no donors."""
    candidates = [d for d in donors if d[0] != doc.id]
    if not candidates:
        return doc
    items = rng.sample(candidates, min(len(candidates), rng.randint(2, max(2, max_items))))
    text = doc.text.rstrip()
    entities = list(doc.entities)
    block_start = len(text) + 2
    text += "\n\n" + rng.choice(FURNITURE_HEADERS)
    for _, headline, spans in items:
        text += "\n• "
        entities += [Span(len(text) + s.start, len(text) + s.end, s.label) for s in spans]
        text += headline
    # Sentences of the block as the splitter cuts them (one per line), all without events.
    new = [Sentence(block_start + a, block_start + b, []) for a, b in split_sentences(text[block_start:])]
    sentences = list(doc.sentences) + new
    extra = dict(doc.extra) | {"furniture": len(items)}
    return Document(doc.id, text, doc.source, doc.synthetic, entities, sentences, extra)


# --- both ---------------------------------------------------------------------------------


def augment_corpus(docs: Iterable[Document], config: AugmentConfig) -> list[Document]:
    """The originals followed by ``config.copies`` augmented copies of each (when enabled).

    With ``furniture_prob`` > 0, that share of the synthetic originals first gets a
    related-articles list (:func:`add_furniture`; real articles carry their own). Copy ``k``
    of a document has mentions replaced (``mention_prob``) and then orthographic noise
    (``noise_prob``); copies identical to the original are skipped.
    """
    docs = list(docs)
    if not config.enabled:
        return docs
    if config.furniture_prob > 0:
        donors = furniture_donors(docs)
        with_furniture = []
        for d in docs:
            rng = random.Random(f"{config.seed}:{d.id}:furniture")
            if d.synthetic and rng.random() < config.furniture_prob:
                d = add_furniture(d, donors, rng, config.furniture_items)
            with_furniture.append(d)
        docs = with_furniture
    if config.copies < 1:
        return docs
    pool = mention_pool(docs, config.min_count)
    out = list(docs)
    for doc in docs:
        for k in range(1, config.copies + 1):
            new_id = f"{doc.id}{AUG_SEP}{k}"
            rng = random.Random(f"{config.seed}:{doc.id}:{k}")
            new = (
                _replace_doc(doc, pool, config.mention_prob, rng, new_id) if config.mention_prob > 0 else None
            )
            base = new or doc
            if config.noise_prob > 0:
                base = orthographic_noise(base, prob=config.noise_prob, seed=config.seed + k, new_id=new_id)
            if base.text != doc.text:
                out.append(base)
    return out
