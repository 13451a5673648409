"""Byte-level BPE tokenizer (``tokenizers``) for the semantic codec.

Byte-level: every UTF-8 byte is in the base alphabet, so no input (non-ASCII, emoji, digits,
punctuation) ever becomes an unknown token. Optional lowercasing (as DeepSC does) happens in the
normalizer; the sentence embedder used for evaluation is uncased, so it does not see the difference.
The whole tokenizer serializes to one JSON string that travels inside the checkpoint.
"""
from __future__ import annotations

import hashlib
from typing import Iterable, Sequence

import numpy as np

from ..errors import CheckpointMismatchError

PAD = "<pad>"
MASK = "<mask>"
SPECIALS = [PAD, MASK]


def train_tokenizer(sentences: Iterable[str], vocab_size: int, lowercase: bool = True) -> "TextTokenizer":
    """Train a byte-level BPE on ``sentences``; deterministic for a given input order."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    norms = [normalizers.NFC()] + ([normalizers.Lowercase()] if lowercase else [])
    tok.normalizer = normalizers.Sequence(norms)
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), min_frequency=2)
    tok.train_from_iterator(sentences, trainer=trainer)
    return TextTokenizer(tok.to_str())


class TextTokenizer:
    """Wraps a ``tokenizers.Tokenizer``: ``encode(text) -> (n,) int64`` and ``decode(ids) -> str``."""

    def __init__(self, json_str: str):
        from tokenizers import Tokenizer

        try:
            self._tok = Tokenizer.from_str(json_str)
        except Exception as err:  # tokenizers raises its own Exception type
            raise CheckpointMismatchError(f"tokenizer JSON in checkpoint is unreadable: {err}") from err
        self.json = json_str
        self.pad_id = self._tok.token_to_id(PAD)
        self.mask_id = self._tok.token_to_id(MASK)
        if self.pad_id is None or self.mask_id is None:
            raise CheckpointMismatchError("tokenizer lacks the special tokens <pad>/<mask>")

    @property
    def vocab_size(self) -> int:
        return self._tok.get_vocab_size()

    @property
    def digest(self) -> str:
        """sha256 of the tokenizer JSON (names the tokenizer in mismatch errors)."""
        return hashlib.sha256(self.json.encode()).hexdigest()[:16]

    def encode(self, text: str) -> np.ndarray:
        """text -> (n,) int64 token ids."""
        return np.asarray(self._tok.encode(text, add_special_tokens=False).ids, dtype=np.int64)

    def encode_batch(self, texts: Sequence[str]) -> list[np.ndarray]:
        return [np.asarray(e.ids, dtype=np.int64) for e in self._tok.encode_batch(list(texts), add_special_tokens=False)]

    def decode(self, ids: Sequence[int]) -> str:
        """(n,) token ids -> text; special tokens are dropped. Invalid UTF-8 becomes U+FFFD."""
        return self._tok.decode([int(i) for i in ids], skip_special_tokens=True)

    def token_strings(self, ids: Sequence[int]) -> list[str]:
        return [self._tok.id_to_token(int(i)) for i in ids]

    def starts_word(self, ids: Sequence[int]) -> np.ndarray:
        """(n,) bool: does token i begin a new word (a byte-level 'Ġ' space prefix)?"""
        return np.array([s.startswith("\u0120") for s in self.token_strings(ids)], dtype=bool)
