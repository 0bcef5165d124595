"""An in-process tiny BERT and a WordPiece tokenizer built from the corpus texts.

Lets tests and ``make demo`` train end to end offline in seconds. Quality is not the
point: the tiny model exercises every code path a real encoder uses.

The vocabulary is counted here rather than by ``tokenizers``' WordPiece trainer, whose
hash-map order breaks ties between equally frequent merges differently from run to run
(huggingface/tokenizers#1794): the same texts always give the same vocabulary, so a
config's ``seed`` reproduces a model.

>>> tok = train_tokenizer(["قصف الجيش قاعدة", "قصف الجيش"], vocab_size=29)
>>> tok.tokenize("قصف قاعدة")
['قصف', 'ق', '##ا', '##ع', '##د', '##ة']
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from transformers import BertConfig, PreTrainedTokenizerFast

from rasd.corpus import Document
from rasd.modeling import RasdModel
from rasd.text import NormalizationOptions, normalize

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def build_vocab(texts: Iterable[str], vocab_size: int = 2000) -> dict[str, int]:
    """A deterministic WordPiece vocabulary: special tokens, every character (word-initial and
    ``##`` continuation, sorted), then whole words by decreasing count, ties by string."""
    # Keep case and marks: rasd's own normalisation decides what the model sees.
    normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False, clean_text=True)
    pre = pre_tokenizers.BertPreTokenizer()
    words: Counter[str] = Counter()
    for text in texts:
        words.update(w for w, _ in pre.pre_tokenize_str(normalizer.normalize_str(text)))
    chars = sorted({c for w in words for c in w})
    pieces = [*SPECIAL_TOKENS, *chars, *("##" + c for c in chars)]
    known = set(pieces)
    ranked = sorted((w for w in words if len(w) > 1 and w not in known), key=lambda w: (-words[w], w))
    pieces += ranked[: max(0, vocab_size - len(pieces))]
    return {piece: i for i, piece in enumerate(pieces)}


def train_tokenizer(texts: Iterable[str], vocab_size: int = 2000) -> PreTrainedTokenizerFast:
    """A fast WordPiece tokenizer (BERT pre-tokenisation, no lower-casing) over ``texts``' vocabulary
    (:func:`build_vocab`; characters are always kept, so it can exceed ``vocab_size``)."""
    tok = Tokenizer(models.WordPiece(build_vocab(texts, vocab_size), unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False, clean_text=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        mask_token="[MASK]",
        model_max_length=512,
    )


def build_tiny_model(
    docs: Sequence[Document],
    vocab_size: int = 2000,
    hidden: int = 64,
    layers: int = 2,
    heads: int = 2,
    entity_labels: Sequence[str] | None = None,
    normalization: NormalizationOptions | None = None,
    **model_kwargs,
) -> tuple[RasdModel, PreTrainedTokenizerFast]:
    """A randomly initialised small BERT :class:`RasdModel` plus a tokenizer trained on ``docs``."""
    tokenizer = train_tokenizer((normalize(d.text, normalization).text for d in docs), vocab_size)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=hidden * 4,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
    )
    kwargs = {"entity_labels": tuple(entity_labels)} if entity_labels else {}
    return RasdModel.from_config(config, **kwargs, **model_kwargs), tokenizer
