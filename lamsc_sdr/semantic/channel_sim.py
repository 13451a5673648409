"""Symbol-level channels for training and quick evaluation of the semantic codec.

What the receiver sees after channel estimation and equalization, per complex symbol:

* ``awgn``: ``y = x + n``, ``n ~ CN(0, N0)``, ``N0 = 10**(-snr_db/10)`` (Es/N0 per symbol, Es = 1).
* ``fading`` (Rayleigh with imperfect CSI, one independent gain per symbol -- what an ideal
  interleaver over an OFDM frame approaches): ``r = h x + n``, ``h ~ CN(0, 1)``; the receiver holds
  an LS-like estimate ``h_hat = h + e``, ``e ~ CN(0, c N0)`` (LS on a unit-power pilot: c = 1), and
  equalizes without bias, ``y = r / h_hat``, reporting the effective noise variance
  ``nv = (c N0 + N0) / |h_hat|^2`` (residual channel error times unit symbol power plus noise,
  scaled by the equalizer gain). This is the ``(symbols, noise_var)`` pair the decoder takes.

Torch versions (batched, for training) and NumPy versions (for evaluation) implement the same model.
"""
from __future__ import annotations

import numpy as np

from ..errors import ConfigError, ShapeError



def torch_channel(x, snr_db, fading, csi_c, gen):
    """Batched symbol-level channel for training.

    Input:  x (B, T, k, 2) float; snr_db (B,) float; fading (B,) bool; csi_c (B,) float;
            gen: torch.Generator.
    Output: y (B, T, k, 2) float -- equalized symbols; nv (B, T, k) float -- their noise variance.
    """
    import torch

    B, T, k, _ = x.shape
    dev = x.device                      # draws come from the CPU generator (same numbers on any device)
    snr_db, fading, csi_c = snr_db.to(dev), fading.to(dev), csi_c.to(dev)
    n0 = (10.0 ** (-snr_db / 10.0))[:, None, None]                         # (B, 1, 1)
    noise = torch.randn(B, T, k, 2, generator=gen).to(dev) * (n0[..., None] / 2).sqrt()
    # fading branch (computed for all, selected per sentence)
    h = torch.randn(B, T, k, 2, generator=gen).to(dev) * 0.5 ** 0.5        # CN(0, 1)
    e = torch.randn(B, T, k, 2, generator=gen).to(dev) * (csi_c[:, None, None, None] * n0[..., None] / 2).sqrt()
    hc = torch.complex(h[..., 0], h[..., 1])
    hh = hc + torch.complex(e[..., 0], e[..., 1])                          # (B, T, k) estimate
    xc = torch.complex(x[..., 0], x[..., 1])
    r = hc * xc + torch.complex(noise[..., 0], noise[..., 1])
    mag2 = (hh.real ** 2 + hh.imag ** 2).clamp_min(1e-12)
    yf = r * hh.conj() / mag2                                              # unbiased (ZF) equalizer
    nvf = ((csi_c[:, None, None] + 1.0) * n0) / mag2                       # (B, T, k)
    ya = x + noise
    nva = n0.expand(B, T, k)
    sel = fading[:, None, None]
    y = torch.where(sel[..., None], torch.stack([yf.real, yf.imag], -1), ya)
    nv = torch.where(sel, nvf, nva)
    return y, nv


def numpy_channel(x: np.ndarray, snr_db: float, kind: str, rng: np.random.Generator,
                  csi_c: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """One message through the symbol-level channel.

    Input:  x (n,) complex64; snr_db; kind "awgn" | "rayleigh" (imperfect CSI with error
            variance ``csi_c * N0``; ``csi_c = 0`` is perfect CSI); rng.
    Output: y (n,) complex64 equalized; nv (n,) float32 noise variance per symbol.
    """
    x = np.asarray(x)
    if x.ndim != 1 or not np.iscomplexobj(x):
        raise ShapeError(f"x must be a 1-D complex array, got shape {x.shape} dtype {x.dtype}")
    n0 = 10.0 ** (-snr_db / 10.0)
    n = x.shape[0]
    noise = (rng.standard_normal(n) + 1j * rng.standard_normal(n)) * np.sqrt(n0 / 2)
    if kind == "awgn":
        return (x + noise).astype(np.complex64), np.full(n, n0, np.float32)
    if kind != "rayleigh":
        raise ConfigError(f"symbol-level channel must be 'awgn' or 'rayleigh', got {kind!r}")
    h = (rng.standard_normal(n) + 1j * rng.standard_normal(n)) * np.sqrt(0.5)
    e = (rng.standard_normal(n) + 1j * rng.standard_normal(n)) * np.sqrt(csi_c * n0 / 2)
    hh = h + e
    mag2 = np.maximum(np.abs(hh) ** 2, 1e-12)
    y = (h * x + noise) * np.conj(hh) / mag2
    nv = (csi_c + 1.0) * n0 / mag2
    return y.astype(np.complex64), nv.astype(np.float32)
