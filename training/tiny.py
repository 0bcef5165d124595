"""An in-process tiny BERT and a WordPiece tokenizer trained on the corpus texts.

Lets tests and ``make demo`` train end to end offline in seconds. Quality is not the
point: the tiny model exercises every code path a real encoder uses.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import BertConfig, PreTrainedTokenizerFast

from rasd.corpus import Document
from rasd.modeling import RasdModel
from rasd.text import NormalizationOptions, normalize

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def train_tokenizer(texts: Iterable[str], vocab_size: int = 2000) -> PreTrainedTokenizerFast:
    """A fast WordPiece tokenizer (BERT pre-tokenisation, no lower-casing) trained on ``texts``."""
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    # Keep case and marks: rasd's own normalisation decides what the model sees.
    tok.normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False, clean_text=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, min_frequency=1)
    tok.train_from_iterator(texts, trainer=trainer)
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
