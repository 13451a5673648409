"""Semantic codec (DeepSC-style, Xie et al. 2021): tokenizer, model, crossed CE/MINE training,
the conventional digital baseline, text metrics and the shared sentence-embedding similarity.

Two shipped checkpoints: ``SemanticCodec.load()`` / ``load("europarl")`` -- ``deepsc_europarl.pt``,
trained on Europarl (issue 3's numbers); ``load("lamsc")`` -- ``deepsc_lamsc.pt``, the same model
fine-tuned on Europarl mixed with caption-style text (:mod:`.captions`), which the pipeline uses by
default (``SemanticConfig.checkpoint = "lamsc"``). torch is imported only when a model is used.
"""
from .codec import SemanticCodec
from .config import SemanticConfig, SemanticTrainConfig

__all__ = ["SemanticCodec", "SemanticConfig", "SemanticTrainConfig"]
