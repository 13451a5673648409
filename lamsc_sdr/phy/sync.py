"""Preamble and synchronization: detection, timing and carrier-frequency offset on a stream.

Preamble (802.11a-like, for any FFT size ``N``):

- **STF**: 8 repetitions of ``N/2`` samples (``4N`` in all) -- an OFDM symbol with only even
  subcarriers has two identical halves (Schmidl & Cox 1997). Detection uses the normalized lag-
  ``N/2`` autocorrelation over a ``2N`` window, computed for the whole stream from cumulative sums
  (O(1) per lag); its phase gives the fractional CFO in (-1, 1] subcarrier spacings.
- **LTF**: a cyclic prefix of ``min(2 cp, N)`` then two copies of a known full-band symbol. It
  resolves the integer CFO (even multiples of the spacing) by a search over spectral shifts of a
  channel-insensitive *adjacent-subcarrier differential* correlation, then gives fine timing
  (cross-correlation with the known pair), a fine CFO (phase between the copies), the channel
  estimate for the header, and the noise variance (difference of the copies).

Every resource element of the preamble has unit average power, like the data.
All functions work on ``K`` candidates at once: arrays ``(K, ...)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import fft as sfft

from .grid import ResourceGrid

STF_HALVES = 8
LTF_WEIGHT = 0.3


@dataclass(frozen=True)
class Preamble:
    """The preamble of a grid and where its parts sit relative to the frame start."""

    grid: ResourceGrid
    stf_freq: np.ndarray      # (n_used,) complex64, zero on odd subcarriers
    ltf_freq: np.ndarray      # (n_used,) complex64, |X| = 1
    ltf_sym: np.ndarray       # (N,) complex64 time-domain LTF symbol
    time: np.ndarray          # (length,) complex64 whole preamble
    ltf_cp: int

    @property
    def n(self) -> int:
        return self.grid.fft_size

    @property
    def stf_len(self) -> int:
        return STF_HALVES * self.n // 2

    @property
    def ltf1(self) -> int:
        """Offset of the first LTF copy from the frame start."""
        return self.stf_len + self.ltf_cp

    @property
    def length(self) -> int:
        return self.ltf1 + 2 * self.n


def to_time(grid: ResourceGrid, freq: np.ndarray) -> np.ndarray:
    """Used-subcarrier values (..., n_used) -> one unitary-IFFT symbol (..., N) without CP."""
    full = np.zeros(freq.shape[:-1] + (grid.fft_size,), np.complex64)
    full[..., grid.used_bins] = freq
    return sfft.ifft(full, axis=-1, norm="ortho").astype(np.complex64)


def _pn_qpsk(n: int, seed: int) -> np.ndarray:
    """Fixed pseudo-random unit-modulus QPSK sequence. (n,) complex64.

    Not Zadoff-Chu: a ZC sequence's adjacent-subcarrier differential is a pure tone, which makes
    the differential integer-CFO search blind to the shift; a random sequence's is not."""
    q = np.random.default_rng(seed).integers(0, 4, n)
    return np.exp(1j * np.pi * (0.25 + 0.5 * q)).astype(np.complex64)


@lru_cache(maxsize=16)
def make_preamble(grid: ResourceGrid) -> Preamble:
    n = grid.fft_size
    k = grid.used_k
    even = (k % 2) == 0
    stf = np.zeros(grid.n_used, np.complex64)
    # Boost the even subcarriers so the used band keeps unit power per resource element.
    stf[even] = _pn_qpsk(int(even.sum()), 0x57F) * np.sqrt(grid.n_used / even.sum())
    ltf = _pn_qpsk(grid.n_used, 0x17F)
    s = to_time(grid, stf)
    half = s[: n // 2]
    l_sym = to_time(grid, ltf)
    cp = min(2 * grid.cp_len, n)
    time = np.concatenate([np.tile(half, STF_HALVES), l_sym[n - cp:], l_sym, l_sym]).astype(np.complex64)
    for a in (stf, ltf, l_sym, time):
        a.setflags(write=False)
    return Preamble(grid, stf, ltf, l_sym, time, cp)


def detect(x: np.ndarray, pre: Preamble, threshold: float, hop: int = 8,
           merge: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Schmidl-Cox detection on a whole buffer.

    Input: x (n,) complex64; threshold in (0, 1) on ``|P| / ((E1 + E2)/2)`` (1 for a noiseless
    STF, about ``snr/(1+snr)`` per sample in noise, ~``1/sqrt(2N)`` for noise alone).
    Output: coarse frame starts (K,) int64 (accurate to a few tens of samples) and the summed
    autocorrelation over each detection (K,) complex128, whose phase is ``pi * cfo / spacing``.
    Lags are evaluated every ``hop`` samples: the STF plateau is ``4N - 3N + 1`` = ``N + 1`` lags wide.
    """
    n = pre.n
    lag, win = n // 2, 2 * n
    if lag % hop or x.size < lag + win + hop:
        return np.zeros(0, np.int64), np.zeros(0, np.complex128)
    # Block sums of ``hop`` samples (one BLAS matrix-vector product each), then running sums over
    # blocks: every windowed sum at a lag that is a multiple of ``hop`` costs O(1), and the
    # full-rate work is a conjugate product and two block reductions.
    nb = (x.size - lag) // hop
    prod = x[lag: lag + nb * hop] * np.conj(x[: nb * hop])          # r[m+L] r*[m]
    pb = prod.reshape(nb, hop) @ np.ones(hop, np.complex64)         # (nb,)
    xf = x[: (nb * hop + lag)].view(np.float32)
    eb = (xf * xf).reshape(-1, 2 * hop) @ np.ones(2 * hop, np.float32)   # |x|^2 per block
    c = np.concatenate([[0], np.cumsum(pb, dtype=np.complex128)])
    e = np.concatenate([[0], np.cumsum(eb, dtype=np.float64)])
    wb, lb = win // hop, lag // hop
    n_lags = min(nb - wb + 1, e.size - 1 - wb - lb)
    if n_lags <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.complex128)
    j = np.arange(n_lags)
    d = j * hop
    p = c[j + wb] - c[j]
    e1 = e[j + wb] - e[j]
    e2 = e[j + lb + wb] - e[j + lb]
    p2 = p.real * p.real + p.imag * p.imag
    den = 0.5 * (e1 + e2)
    hits = np.flatnonzero(p2 > (threshold * threshold) * den * den + 1e-30)
    if hits.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.complex128)
    merge = merge if merge is not None else win
    brk = np.flatnonzero(np.diff(hits) * hop > merge) + 1
    first = np.concatenate([[0], brk])
    last = np.concatenate([brk - 1, [hits.size - 1]])
    keep = last > first                                  # a lone lag above threshold is noise
    first, last = first[keep], last[keep]
    cs = np.concatenate([[0], np.cumsum(p[hits])])
    psum = cs[last + 1] - cs[first]                      # coherent sum over each group
    mid = (d[hits[first]] + d[hits[last]]) // 2
    plateau = pre.stf_len - win - lag                    # last lag of the full-STF plateau
    return (mid - plateau // 2).astype(np.int64), psum


@dataclass
class SyncResult:
    """Synchronization of K candidates (arrays of shape (K,))."""

    start: np.ndarray         # int64, fine frame start (first STF sample) in the buffer
    cfo: np.ndarray           # float64, CFO in subcarrier spacings
    metric: np.ndarray        # float64, normalized LTF correlation in [0, 1]
    int_shift: np.ndarray     # int64, even integer part found by the search


def _gather(x: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """(K,) starts -> (K, length) samples, zeros outside the buffer."""
    idx = starts[:, None] + np.arange(length)[None, :]
    ok = (idx >= 0) & (idx < x.size)
    return np.where(ok, x[np.clip(idx, 0, x.size - 1)], 0).astype(np.complex64)


def synchronize(x: np.ndarray, coarse: np.ndarray, psum: np.ndarray, pre: Preamble,
                max_cfo: float, search: int | None = None) -> SyncResult:
    """Fractional + integer + fine CFO and fine timing of K candidates.

    Input: x (n,) complex64 buffer; coarse (K,) starts and psum (K,) from :func:`detect`;
    max_cfo: largest |CFO| searched, in subcarrier spacings; search: fine-timing search half-width
    in samples (default ``N``). Output: :class:`SyncResult`.
    """
    n = pre.n
    k_n = coarse.size
    r = search if search is not None else n
    seg_len = 2 * r + pre.length
    seg0 = coarse - r
    seg = _gather(x, seg0, seg_len)                                   # (K, S)
    rel = (np.arange(seg_len) - r)[None, :]                           # samples from the coarse start
    eps_f = np.angle(psum) / np.pi                                    # (K,) in (-1, 1]
    seg1 = seg * np.exp(-2j * np.pi * eps_f[:, None] * rel / n).astype(np.complex64)
    # Integer CFO: three STF windows (even subcarriers) and one LTF window, placed so that coarse
    # timing errors of a few tens of samples keep them inside their fields. Per window, the
    # adjacent-(used)-subcarrier differential correlation is insensitive to the channel and to
    # the timing phase slope; the windows' metrics add coherently (same slope in each).
    g_max = int(np.ceil(max(max_cfo - 1.0, 0.0) / 2.0))
    shifts = 2 * np.arange(-g_max, g_max + 1)
    metric = np.zeros((k_n, shifts.size), np.complex128)
    ltf_w = pre.stf_len + (pre.ltf_cp + n) // 2
    for off, ref in ((n // 2, pre.stf_freq), (3 * n // 2, pre.stf_freq), (5 * n // 2, pre.stf_freq),
                     (ltf_w, pre.ltf_freq)):
        used = np.flatnonzero(ref)
        y = sfft.fft(seg1[:, r + off: r + off + n], axis=-1, norm="ortho")          # (K, N)
        bins = (pre.grid.used_bins[used][None, :] + shifts[:, None]) % n            # (G, U)
        z = y[:, bins] * np.conj(ref[used])[None, None, :]                          # (K, G, U)
        metric += (z[..., 1:] * np.conj(z[..., :-1])).sum(-1)
    metric = np.abs(metric)
    shift = shifts[np.argmax(metric, axis=1)]
    eps1 = eps_f + shift
    seg2 = seg * np.exp(-2j * np.pi * eps1[:, None] * rel / n).astype(np.complex64)
    # Fine timing: correlate with the known LTF pair over lags -r..r around the coarse start.
    tmpl = np.conj(np.concatenate([pre.ltf_sym, pre.ltf_sym]))
    a = r + pre.ltf1 - r
    wins = sliding_window_view(seg2, 2 * n, axis=1)[:, a: a + 2 * r + 1]   # (K, 2r+1, 2N)
    corr = wins @ tmpl                                                # (K, 2r+1)
    en = np.concatenate([np.zeros((k_n, 1)), np.cumsum(np.abs(seg2) ** 2, axis=1)], axis=1)
    e_w = en[:, a + 2 * n: a + 2 * n + 2 * r + 1] - en[:, a: a + 2 * r + 1]
    c2 = np.abs(corr) ** 2
    best = np.argmax(c2, axis=1)
    rows = np.arange(k_n)
    e_t = float(np.sum(np.abs(tmpl) ** 2))
    rho = c2[rows, best] / np.maximum(e_w[rows, best] * e_t, 1e-30)
    tau = best - r
    # Fine CFO from the two LTF copies (N apart): unambiguous within +-0.5 spacing.
    l1 = wins[rows, best, :n]
    l2 = wins[rows, best, n:]
    delta = np.angle((l2 * np.conj(l1)).sum(-1)) / (2 * np.pi)
    # The STF estimate (many lags) is measured ~1.5x more precise than the LTF one (two copies), so
    # combine them with inverse-variance weights: 0.3 on the LTF's correction.
    return SyncResult(start=(coarse + tau).astype(np.int64), cfo=eps1 + LTF_WEIGHT * delta,
                      metric=np.nan_to_num(rho.astype(np.float64)), int_shift=shift.astype(np.int64))


def ltf_estimate(y1: np.ndarray, y2: np.ndarray, pre: Preamble) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Channel, noise variance and SNR from the two received LTF copies.

    Input: y1, y2 (K, n_used) complex -- used subcarriers of the two copies.
    Output: h (K, n_used) complex64 (LS, error variance N0/2), n0 (K,) float64, snr (K,) float64
    (per resource element, linear). ``y1 - y2`` is pure noise of variance 2 N0 on a static channel.
    """
    diff = y1 - y2
    n0 = np.maximum(np.mean(np.abs(diff) ** 2, axis=-1) / 2.0, 1e-12)
    h = ((y1 + y2) / 2.0) / pre.ltf_freq[None, :]
    sig = np.mean(np.abs(h) ** 2, axis=-1) - n0 / 2.0
    return h.astype(np.complex64), n0, np.maximum(sig, 1e-12) / n0


def windows_at(x: np.ndarray, pos: np.ndarray, rel: np.ndarray, cfo: np.ndarray, n: int) -> np.ndarray:
    """Flat version of :func:`windows` for windows of different frames.

    Input: pos (R,) absolute window starts in ``x``; rel (R,) the same relative to each one's frame
    start (where the derotation phase is zero); cfo (R,) spacings. Output: (R, N) complex64.
    """
    idx = pos[:, None] + np.arange(n)[None, :]
    if pos.size and (pos.min() < 0 or pos.max() + n > x.size):
        ok = (idx >= 0) & (idx < x.size)
        s = np.where(ok, x[np.clip(idx, 0, x.size - 1)], 0)
    else:
        s = x[idx]
    ph = np.exp(-2j * np.pi * cfo * rel / n).astype(np.complex64)
    # the in-window ramp depends only on the CFO: group identical CFOs (one per frame)
    u, inv = np.unique(cfo, return_inverse=True)
    ramp = np.exp(-2j * np.pi * u[:, None] * np.arange(n)[None, :] / n).astype(np.complex64)
    return s * ph[:, None] * ramp[inv]
