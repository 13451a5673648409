"""Gray-mapped square QAM (BPSK, QPSK, 16-QAM, 64-QAM) with unit average power, max-log LLRs
and the exact closed-form bit error rate of hard decisions in AWGN.

Bit convention: ``llr = ln P(b=0 | y) / P(b=1 | y)`` (positive favours 0; hard decision
``b = llr < 0``). Each square constellation is two Gray-coded PAM axes: the first half of a
symbol's bits (MSB first) select the in-phase level, the second half the quadrature level.
BPSK is the real axis only (``0 -> +1``, ``1 -> -1``).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.special import erfc

from ..errors import ConfigError, ShapeError

BITS_PER_SYMBOL = {"bpsk": 1, "qpsk": 2, "16qam": 4, "64qam": 6}


def bits_per_symbol(modulation: str) -> int:
    try:
        return BITS_PER_SYMBOL[modulation]
    except KeyError:
        raise ConfigError(f"frame.payload_modulation: {modulation!r} is not one of "
                          f"{list(BITS_PER_SYMBOL)}") from None


@lru_cache(maxsize=None)
def _pam(modulation: str) -> tuple[np.ndarray, np.ndarray, float]:
    """Gray PAM of one axis. Output: levels (L,) float64 ascending-by-label order, i.e.
    ``levels[label]`` is the amplitude of the Gray label ``label`` (MSB first), labels (L, k)
    uint8 bits of each level index, and the axis scale (unit average *symbol* power overall)."""
    m = bits_per_symbol(modulation)
    k = 1 if m == 1 else m // 2
    n = 1 << k
    pos = np.arange(n)                       # position on the axis, left to right
    gray = pos ^ (pos >> 1)                  # Gray label of each position
    amp = (n - 1) - 2.0 * pos                # (n-1) .. -(n-1): label 0 is the positive end
    levels = np.empty(n)
    levels[gray] = amp                       # amplitude indexed by label
    # Average power of one axis is (n^2-1)/3; BPSK uses one axis, square QAM two.
    scale = 1.0 / np.sqrt((n * n - 1) / 3.0 * (1 if m == 1 else 2))
    labels = ((np.arange(n)[:, None] >> np.arange(k - 1, -1, -1)[None, :]) & 1).astype(np.uint8)
    return levels * scale, labels, scale


def constellation(modulation: str) -> np.ndarray:
    """All 2**m points, indexed by the integer whose bits (MSB first) map to them. (2**m,) complex64."""
    m = bits_per_symbol(modulation)
    idx = np.arange(1 << m)
    bits = ((idx[:, None] >> np.arange(m - 1, -1, -1)[None, :]) & 1).astype(np.uint8)
    return map_bits(bits.reshape(-1), modulation)


def map_bits(bits: np.ndarray, modulation: str) -> np.ndarray:
    """Map bits to symbols.

    Input: bits (n * m,) uint8 in {0, 1}, m = bits per symbol. Output: (n,) complex64, unit average power.
    """
    m = bits_per_symbol(modulation)
    b = np.asarray(bits).reshape(-1)
    if b.size % m:
        raise ShapeError(f"{modulation}: {b.size} bits is not a multiple of {m} bits per symbol")
    levels, _, _ = _pam(modulation)
    if m == 1:
        return levels[b.astype(np.intp)].astype(np.complex64)
    k = m // 2
    b = b.reshape(-1, 2, k).astype(np.intp)
    weights = 1 << np.arange(k - 1, -1, -1)
    li = b[:, 0, :] @ weights
    lq = b[:, 1, :] @ weights
    out = np.empty(li.shape[0], np.complex64)
    out.real = levels[li]
    out.imag = levels[lq]
    return out


def _axis_llr(y: np.ndarray, levels: np.ndarray, labels: np.ndarray, inv_nv: np.ndarray) -> np.ndarray:
    """Max-log LLRs of one axis. y (n,) float, inv_nv (n,) -> (n, k) float32."""
    d = (y[:, None] - levels[None, :]) ** 2                          # (n, L)
    k = labels.shape[1]
    out = np.empty((y.shape[0], k), np.float32)
    for j in range(k):
        one = labels[:, j].astype(bool)
        # ln P0/P1 ~ (min_{b=1} d - min_{b=0} d) / N0: the axis carries half the complex noise,
        # so the Gaussian exponent |y-s|^2 / N0 is exactly this per-axis squared distance / N0.
        out[:, j] = (d[:, one].min(axis=1) - d[:, ~one].min(axis=1)) * inv_nv
    return out


def demap_llr(y: np.ndarray, noise_var, modulation: str) -> np.ndarray:
    """Max-log LLRs.

    Input: y (n,) complex -- equalized symbols; noise_var float or (n,) float -- complex noise
    variance per symbol (``E|y - x|^2``). Output: (n * m,) float32 LLRs in the order of ``map_bits``.
    """
    m = bits_per_symbol(modulation)
    y = np.asarray(y).reshape(-1)
    nv = np.broadcast_to(np.asarray(noise_var, np.float64), y.shape)
    inv = 1.0 / np.maximum(nv, 1e-12)
    levels, labels, _ = _pam(modulation)
    if m == 1:
        return _axis_llr(y.real.astype(np.float64), levels, labels, inv).reshape(-1)
    li = _axis_llr(y.real.astype(np.float64), levels, labels, inv)
    lq = _axis_llr(y.imag.astype(np.float64), levels, labels, inv)
    return np.concatenate([li, lq], axis=1).reshape(-1)


def hard_bits(llr: np.ndarray) -> np.ndarray:
    """(n,) float LLRs -> (n,) uint8 decisions."""
    return (np.asarray(llr) < 0).astype(np.uint8)


def _qfunc(x):
    return 0.5 * erfc(np.asarray(x, np.float64) / np.sqrt(2.0))


def ber_awgn(modulation: str, snr_db) -> np.ndarray:
    """Exact BER of nearest-point (= max-log hard) decisions on Gray square QAM in complex AWGN.

    Input: snr_db float or (k,) -- Es/N0 per symbol in dB. Output: same shape float64.
    Sums, over every transmitted level of one axis, the probability of landing in each decision
    interval times the Gray labels' Hamming distance (no nearest-neighbour approximation).
    For QPSK this is ``Q(sqrt(Es/N0))``, for BPSK ``Q(sqrt(2 Es/N0))``.
    """
    return _ber_gray(modulation, snr_db, _qfunc)


def _qfunc_rayleigh(z):
    """``E[Q(z sqrt(g))]`` for ``g ~ Exp(1)`` (unit-mean Rayleigh power): ``(1 - sign(z) sqrt(z^2 /
    (2 + z^2))) / 2`` -- the Q-function averaged over a Rayleigh-faded amplitude."""
    z = np.asarray(z, np.float64)
    with np.errstate(divide="ignore"):
        r = 1.0 / np.sqrt(1.0 + 2.0 / (z * z))
    return 0.5 * (1.0 - np.sign(z) * r)


def ber_rayleigh(modulation: str, snr_db) -> np.ndarray:
    """Exact BER of the same Gray square QAM with perfect CSI on a Rayleigh channel: the per-symbol
    SNR is ``snr * |h|^2`` with ``|h|^2 ~ Exp(1)``; every Q term of :func:`ber_awgn` is averaged
    in closed form. ``snr_db``: mean Es/N0 in dB. For QPSK (Gray) and BPSK with ``g`` the mean
    Eb/N0 this is ``0.5 * (1 - sqrt(g / (1 + g)))``. Output: same shape as snr_db, float64.
    Holds per resource element for any channel whose frequency response is CN(0, 1) there (every
    non-LOS tapped-delay-line profile with unit total power), uncoded, ICI ignored."""
    return _ber_gray(modulation, snr_db, _qfunc_rayleigh)


def _ber_gray(modulation: str, snr_db, qfun) -> np.ndarray:
    snr = 10.0 ** (np.asarray(snr_db, np.float64) / 10.0)
    sigma = np.sqrt(1.0 / snr / 2.0)                     # per-axis noise std, Es = 1
    levels, labels, _ = _pam(modulation)
    order = np.argsort(levels)
    lv, lab = levels[order], labels[order]
    bounds = np.concatenate([[-np.inf], (lv[1:] + lv[:-1]) / 2, [np.inf]])
    ham = (lab[:, None, :] != lab[None, :, :]).sum(-1)   # (L, L)
    sig = np.asarray(sigma)[..., None, None]
    # P(decide j | sent i) = Q((b_j - a_i)/s) - Q((b_{j+1} - a_i)/s)
    lo = (bounds[None, :-1] - lv[:, None])
    hi = (bounds[None, 1:] - lv[:, None])
    p = qfun(lo / sig) - qfun(hi / sig)                  # (..., L, L)
    k = lab.shape[1]
    return (p * ham).sum((-1, -2)) / (k * lv.size)
