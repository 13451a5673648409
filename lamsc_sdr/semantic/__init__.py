"""Semantic codec (DeepSC-style, Xie et al. 2021): tokenizer, model, crossed CE/MINE training,
the conventional digital baseline, text metrics and the shared sentence-embedding similarity.

``SemanticCodec.load()`` gives the shipped codec; torch is imported only when a model is used.
"""
from .codec import SemanticCodec
from .config import SemanticConfig, SemanticTrainConfig

__all__ = ["SemanticCodec", "SemanticConfig", "SemanticTrainConfig"]
