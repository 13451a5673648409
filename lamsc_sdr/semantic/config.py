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
    init: str | None = None           # fine-tune from this checkpoint ('europarl', 'lamsc' or a path): its
                                      # tokenizer and weights are kept (no new tokenizer is trained)
    mix_captions: float = 0.0         # share of each batch drawn from generated caption-style text
    n_captions: int = 40000           # captions generated (seed = run seed) for the mix

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
        if not 0.0 <= self.mix_captions < 1.0:
            raise ConfigError(f"semantic.train.mix_captions: must be in [0, 1), got {self.mix_captions}")
        if self.mix_captions > 0 and self.n_captions < 1:
            raise ConfigError("semantic.train.n_captions must be >= 1 when mix_captions > 0")


@dataclass(frozen=True)
class SemanticConfig:
    """DeepSC-style codec: sizes of the tokenizer and the network.

    ``checkpoint``: which trained codec the pipeline loads -- ``"lamsc"`` (default): the shipped
    checkpoint adapted to LAM-MSC media descriptions (``deepsc_lamsc.pt``: Europarl + caption-style
    text); ``"europarl"``: the shipped Europarl-only checkpoint of issue 3 (``deepsc_europarl.pt``);
    anything else: a path. ``SemanticCodec.load(None)`` and ``lamsc eval text`` without
    ``--checkpoint`` load the Europarl one (see :func:`resolve_checkpoint`).
    ``symbols_per_token`` complex channel uses carry each token; a message of ``n`` tokens
    occupies ``n * symbols_per_token`` complex symbols with unit average power.
    """

    checkpoint: str | None = "lamsc"  # "lamsc" | "europarl" | a path (None = "europarl")
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


SHIPPED_CHECKPOINTS = {"europarl": "deepsc_europarl.pt", "lamsc": "deepsc_lamsc.pt"}


def resolve_checkpoint(name: str | None):
    """``None`` / ``"europarl"`` -> the shipped Europarl checkpoint; ``"lamsc"`` -> the shipped
    LAM-MSC-adapted one; anything else is taken as a path. Returns a ``pathlib.Path``."""
    from pathlib import Path
    here = Path(__file__).parent / "checkpoints"
    if name is None:
        return here / SHIPPED_CHECKPOINTS["europarl"]
    if str(name) in SHIPPED_CHECKPOINTS:
        return here / SHIPPED_CHECKPOINTS[str(name)]
    return Path(name)
