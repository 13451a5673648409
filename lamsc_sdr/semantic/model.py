"""DeepSC-style semantic + channel codec (Xie et al., IEEE TSP 2021), as torch modules.

Transmitter: token ids -> semantic encoder (transformer) -> channel encoder (dense) ->
``symbols_per_token`` complex symbols per token, normalized to unit average power per complex
symbol over each message. Receiver: equalized symbols + per-symbol noise variance -> channel
decoder (dense) -> semantic decoder (transformer, non-autoregressive: the message length is known
from the number of symbols, so every token is predicted in one pass, which keeps decoding fast)
-> logits over the vocabulary. ``Mine`` is the mutual-information estimator used to train the
channel encoder (Belghazi et al. 2018, the f-divergence bound "MINE-f").

Complex symbols are carried as real pairs ``(..., 2)`` = (real, imag) inside the network.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .config import SemanticConfig

LOG_NV_MIN, LOG_NV_MAX = -12.0, 12.0   # clamp of ln(noise variance) fed to the channel decoder


def power_normalize(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Scale each message to unit average power per complex symbol over its valid tokens.

    Input:  x (B, T, k, 2) float -- symbols as (re, im); mask (B, T) bool -- True on real tokens.
    Output: (B, T, k, 2) float, sum over valid symbols of |x|^2 = n_valid_tokens * k; pads are 0.
    """
    m = mask[:, :, None, None].to(x.dtype)                     # (B, T, 1, 1)
    x = x * m
    n_sym = (mask.sum(1).to(x.dtype) * x.shape[2]).clamp_min(1.0)  # (B,)
    p = x.pow(2).sum(dim=(1, 2, 3)) / n_sym                    # (B,) average power per complex symbol
    return x / p.clamp_min(1e-12).sqrt()[:, None, None, None]


def decoder_inputs(y: torch.Tensor, noise_var: torch.Tensor) -> torch.Tensor:
    """Channel-decoder features from unbiased equalized symbols and their noise variance.

    The symbol is shrunk as the linear MMSE estimate of a unit-power symbol, ``y / (1 + nv)``
    (bounded even where a deep fade makes ``y`` huge), and ``ln nv`` is appended.
    Input:  y (B, T, k, 2) float; noise_var (B, T, k) float > 0.
    Output: (B, T, 3k) float.
    """
    nv = noise_var.clamp_min(math.exp(LOG_NV_MIN))
    shrunk = y / (1.0 + nv)[..., None]                          # (B, T, k, 2)
    lognv = nv.log().clamp(LOG_NV_MIN, LOG_NV_MAX) / 4.0        # (B, T, k), roughly unit scale
    B, T, k = nv.shape
    return torch.cat([shrunk.reshape(B, T, 2 * k), lognv], dim=-1)


class _Transformer(nn.Module):
    """Pre-norm transformer encoder stack with learned positions (shared by both semantic halves)."""

    def __init__(self, cfg: SemanticConfig, n_layers: int):
        super().__init__()
        self.pos = nn.Embedding(cfg.max_tokens, cfg.d_model)
        layer = nn.TransformerEncoderLayer(cfg.d_model, cfg.n_heads, cfg.d_ff, cfg.dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.layers = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.d_model)

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """h (B, T, d), mask (B, T) bool (True = token) -> (B, T, d)."""
        T = h.shape[1]
        h = h + self.pos(torch.arange(T, device=h.device))[None]  # (B, T, d)
        h = self.layers(h, src_key_padding_mask=~mask)
        return self.norm(h)


class DeepSC(nn.Module):
    """The codec. ``encode(ids, mask) -> x`` and ``decode(y, noise_var, mask) -> logits``.

    Shapes: ids (B, T) int64; mask (B, T) bool; x, y (B, T, k, 2) float32 with
    k = ``cfg.symbols_per_token``; noise_var (B, T, k) float32; logits (B, T, vocab) float32.
    """

    def __init__(self, cfg: SemanticConfig):
        super().__init__()
        self.cfg = cfg
        d, k = cfg.d_model, cfg.symbols_per_token
        self.embed = nn.Embedding(cfg.vocab_size, d)
        self.sem_enc = _Transformer(cfg, cfg.n_enc_layers)
        self.ch_enc = nn.Sequential(nn.Linear(d, 2 * d), nn.ReLU(), nn.Linear(2 * d, 2 * k))
        self.ch_dec = nn.Sequential(nn.Linear(3 * k, 2 * d), nn.ReLU(), nn.Linear(2 * d, d), nn.LayerNorm(d))
        self.sem_dec = _Transformer(cfg, cfg.n_dec_layers)
        self.out = nn.Linear(d, cfg.vocab_size)
        nn.init.normal_(self.embed.weight, std=d ** -0.5)

    # groups for crossed training
    def semantic_parameters(self):
        for m in (self.embed, self.sem_enc, self.sem_dec, self.out):
            yield from m.parameters()

    def channel_parameters(self):
        for m in (self.ch_enc, self.ch_dec):
            yield from m.parameters()

    def encode(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """ids (B, T), mask (B, T) -> x (B, T, k, 2), unit average power per message."""
        B, T = ids.shape
        h = self.sem_enc(self.embed(ids) * math.sqrt(self.cfg.d_model), mask)  # (B, T, d)
        x = self.ch_enc(h).reshape(B, T, self.cfg.symbols_per_token, 2)         # (B, T, k, 2)
        return power_normalize(x, mask)

    def decode(self, y: torch.Tensor, noise_var: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """y (B, T, k, 2), noise_var (B, T, k), mask (B, T) -> logits (B, T, V)."""
        h = self.ch_dec(decoder_inputs(y, noise_var))   # (B, T, d)
        h = self.sem_dec(h, mask)                       # (B, T, d)
        return self.out(h)                              # (B, T, V)


class Mine(nn.Module):
    """Statistics network T(x, y) of MINE for one complex symbol pair.

    ``lower_bound(x, y, perm)`` returns the MINE-f bound  E_P[T] - E_{PxP}[exp(T - 1)]  (nats),
    a lower bound of I(x; y); the product of marginals pairs each x with a permuted y.
    Input: x, y (N, 2) float -- transmitted and received symbols (re, im); perm (N,) int64.
    """

    def __init__(self, hidden: int = 64):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, hidden), nn.ELU(), nn.Linear(hidden, hidden), nn.ELU(),
                                 nn.Linear(hidden, 1))

    def lower_bound(self, x: torch.Tensor, y: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
        joint = self.net(torch.cat([x, y], dim=-1)).squeeze(-1)          # (N,)
        marg = self.net(torch.cat([x, y[perm]], dim=-1)).squeeze(-1)     # (N,)
        return joint.mean() - torch.exp(marg.clamp(max=20.0) - 1.0).mean()
