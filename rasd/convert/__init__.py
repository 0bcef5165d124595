"""Converters between the corpus JSONL format and CoNLL, Label Studio and markup files."""
