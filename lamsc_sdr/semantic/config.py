"""Semantic codec configuration section (``semantic:`` in the run YAML).

Two parts: the *model* fields (tokenizer and network sizes; a checkpoint must match them) and
the *training* fields (``semantic.train``), which only ``lamsc train semantic`` reads.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ConfigError


@dataclass(frozen=True)
class SemanticTrainConfig:
    """How ``lamsc train semantic`` trains the DeepSC-style codec (crossed training)."""

    steps: int = 2800                 # optimizer steps in total (semantic + channel phases)
    batch_size: int = 80              # sentences per step
    lr: float = 1.5e-3                 # AdamW peak learning rate (linear warm-up, cosine decay)
    warmup_steps: int = 200
    weight_decay: float = 0.01
    semantic_phase_steps: int = 400   # crossed training: semantic enc/dec trained, channel frozen ...
    channel_phase_steps: int = 100    # ... then channel enc/dec (CE - mi_weight * MINE) trained, semantic frozen
    mi_weight: float = 0.05           # weight of the MINE mutual-information term in the channel phase
    mine_hidden: int = 64             # MINE statistics network width
    mine_lr: float = 1e-3
    snr_db_min: float = -3.0          # training SNR range (Es/N0 per complex symbol), uniform per sentence
    snr_db_max: float = 20.0
    fading_fraction: float = 0.5      # share of sentences on Rayleigh fading with imperfect CSI (rest AWGN)
    csi_error_min: float = 0.3        # channel-estimate error variance = c * N0, c ~ U(min, max)
    csi_error_max: float = 1.5        # (LS on a unit pilot has c = 1)
    holdout_permille: int = 10        # sentences with sha256 % 1000 < this are held out (never trained on)
    max_sentences: int = 0            # 0 = the whole corpus
    log_every: int = 50
    save_every: int = 400             # write OUT.partial every so many steps (0 = never)
    num_threads: int = 1

    def __post_init__(self):
        if self.steps < 1 or self.batch_size < 1:
            raise ConfigError("semantic.train.steps and semantic.train.batch_size must be >= 1")
        if self.semantic_phase_steps < 1 or self.channel_phase_steps < 0:
            raise ConfigError("semantic.train.semantic_phase_steps must be >= 1, channel_phase_steps >= 0")
        if self.snr_db_max < self.snr_db_min:
            raise ConfigError("semantic.train.snr_db_max must be >= snr_db_min")
        if not 0.0 <= self.fading_fraction <= 1.0:
            raise ConfigError(f"semantic.train.fading_fraction: must be in [0, 1], got {self.fading_fraction}")
        if not 0 <= self.holdout_permille < 1000:
            raise ConfigError(f"semantic.train.holdout_permille: must be in [0, 1000), got {self.holdout_permille}")


@dataclass(frozen=True)
class SemanticConfig:
    """DeepSC-style codec: sizes of the tokenizer and the network.

    ``checkpoint``: path of a trained codec, ``None`` = the shipped one.
    ``symbols_per_token`` complex channel uses carry each token; a message of ``n`` tokens
    occupies ``n * symbols_per_token`` complex symbols with unit average power.
    """

    checkpoint: str | None = None     # None = the shipped checkpoint
    vocab_size: int = 4096            # byte-level BPE vocabulary (incl. special tokens)
    lowercase: bool = True            # as DeepSC; the sentence embedder is uncased anyway
    max_tokens: int = 48              # tokens per segment; longer texts are segmented
    d_model: int = 128
    n_heads: int = 4
    n_enc_layers: int = 2
    n_dec_layers: int = 3
    d_ff: int = 384
    dropout: float = 0.0
    symbols_per_token: int = 8        # complex symbols per token (16 reals, as DeepSC)
    train: SemanticTrainConfig = field(default_factory=SemanticTrainConfig)

    def __post_init__(self):
        if self.vocab_size < 300:
            raise ConfigError(f"semantic.vocab_size: must be >= 300 (256 bytes + merges), got {self.vocab_size}")
        if self.d_model % self.n_heads:
            raise ConfigError(f"semantic.d_model ({self.d_model}) must be divisible by semantic.n_heads ({self.n_heads})")
        for name in ("max_tokens", "d_model", "n_heads", "n_enc_layers", "n_dec_layers", "d_ff", "symbols_per_token"):
            if getattr(self, name) < 1:
                raise ConfigError(f"semantic.{name}: must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"semantic.dropout: must be in [0, 1), got {self.dropout}")

    def model_dict(self) -> dict:
        """The fields a checkpoint must match (everything but ``checkpoint`` and ``train``)."""
        return {k: getattr(self, k) for k in ("vocab_size", "lowercase", "max_tokens", "d_model", "n_heads",
                                              "n_enc_layers", "n_dec_layers", "d_ff", "dropout",
                                              "symbols_per_token")}
