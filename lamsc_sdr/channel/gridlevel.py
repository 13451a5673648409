"""Grid-level channels: what the OFDM receiver sees after CP removal, without the time-domain chain.

``H[t, k] = sum_p g_p(t) exp(-j 2 pi f_k tau_p)`` with ``f_k = k * subcarrier_spacing`` (``k``
the centred subcarrier index) and the continuous path delays ``tau_p`` -- the band-limited
channel the time-domain :class:`~lamsc_sdr.channel.model.Channel` approximates with its sinc
interpolator. ``g_p(t)`` is sampled once per OFDM symbol (at the symbol's FFT-window centre);
inter-carrier interference from Doppler within a symbol is not modelled at this level.

Time variation here is drawn as a Gaussian vector with the exact Jakes covariance
``J0(2 pi fd dt)`` across the slot's symbols (Cholesky / eigen factor), which is faster than a
sum of sinusoids and exactly Gaussian: CGE training draws ~1e5 slots.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import j0

from ..errors import ConfigError, ShapeError
from ..phy.grid import ResourceGrid
from .profiles import TDLProfile, resolve_profile


def _steering(profile: TDLProfile, grid: ResourceGrid) -> np.ndarray:
    """exp(-j 2 pi f_k tau_p): (P, n_used) complex128."""
    f = grid.used_k * grid.subcarrier_spacing
    return np.exp(-2j * np.pi * np.outer(profile.delays, f))


def frequency_correlation(profile, grid: ResourceGrid, delay_spread_ns: float = 100.0) -> np.ndarray:
    """Closed-form frequency correlation ``R[k, l] = E[H_k H_l^*] = sum_p P_p exp(-j 2 pi (f_k - f_l) tau_p)``.

    Input: profile (name or :class:`TDLProfile`), grid. Output: (n_used, n_used) complex128,
    Hermitian, unit diagonal. Holds for the LOS profiles too (their LOS phase is uniform).
    """
    prof = resolve_profile(profile, grid.sample_rate, delay_spread_ns)
    e = _steering(prof, grid)                                      # (P, K)
    return (e.T * prof.powers[None, :]) @ e.conj()


def time_correlation(doppler_hz: float, grid: ResourceGrid) -> np.ndarray:
    """Jakes time correlation between the slot's OFDM symbols: ``J0(2 pi fd (t - s) T_sym)`` with
    ``T_sym = symbol_len / sample_rate``. Output: (n_symbols, n_symbols) float64.
    (For a LOS profile this is the correlation of the diffuse part.)"""
    if not doppler_hz >= 0:
        raise ConfigError(f"channel.doppler_hz: must be >= 0, got {doppler_hz}")
    t = np.arange(grid.n_symbols) * grid.symbol_len / grid.sample_rate
    return j0(2 * np.pi * doppler_hz * np.abs(t[:, None] - t[None, :]))


def _sqrt_psd(r: np.ndarray, rel_tol: float = 1e-7) -> np.ndarray:
    """A low-rank factor ``A`` (m, r) with ``A A^H ~= r`` for a PSD (possibly singular) matrix,
    dropping eigenvalues below ``rel_tol`` times the largest (their total is below
    ``m * rel_tol`` of the largest: far under float32 resolution)."""
    w, v = np.linalg.eigh(r)
    keep = w > rel_tol * max(w.max(), 0.0)
    return v[:, keep] * np.sqrt(w[keep])[None, :]


def grid_channel(profile, grid: ResourceGrid, n: int, rng: np.random.Generator, doppler_hz: float = 0.0,
                 delay_spread_ns: float = 100.0, k_factor_db: float = 6.0) -> np.ndarray:
    """``n`` independent grid-level channel realizations.

    Args:
        profile: a name from :data:`~lamsc_sdr.channel.profiles.PROFILE_NAMES` or a TDLProfile.
        grid: the numerology. n: number of slots. rng: numpy Generator.
        doppler_hz: maximum Doppler (0: block fading, constant over the slot).
        delay_spread_ns, k_factor_db: as in :func:`~lamsc_sdr.channel.profiles.get_profile` (names only).
    Output:
        H (n, n_symbols, n_used) complex64 with ``E|H|^2 = 1`` per element.

    Method: every diffuse path shares the Jakes time correlation, so the diffuse channel is a
    Gaussian field with separable covariance ``R_t (x) R_f`` (``R_f`` from the diffuse PDP). It is
    drawn as ``A_t W A_f^T`` with low-rank factors of ``R_t`` and ``R_f`` and ``W`` i.i.d.
    CN(0, 1): exactly the per-path model's distribution, at a cost set by the rank of ``R_f``
    (a handful of modes for short delay spreads) instead of the number of paths. A LOS path
    (TDL-D/E, ``rician``) adds its deterministic-amplitude, random-phase term on top.
    """
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ShapeError(f"n must be a non-negative integer, got {n!r}")
    prof = resolve_profile(profile, grid.sample_rate, delay_spread_ns, k_factor_db)
    n_sym, n_used = grid.n_symbols, grid.n_used
    k = prof.k_linear
    if math.isinf(k):                                              # awgn: H = 1
        return np.ones((n, n_sym, n_used), dtype=np.complex64)
    e = _steering(prof, grid)                                      # (P, K)
    pd = prof.powers.copy()
    if k > 0:
        pd[0] /= k + 1                                             # diffuse share of the LOS path
    a_f = _sqrt_psd((e.T * pd[None, :]) @ e.conj()).astype(np.complex64)        # (K, r_f)
    a_t = _sqrt_psd(time_correlation(doppler_hz, grid)).astype(np.complex64) if doppler_hz > 0 \
        else np.ones((n_sym, 1), dtype=np.complex64)                            # (T, r_t)
    r_t, r_f = a_t.shape[1], a_f.shape[1]
    w = rng.standard_normal((n, r_f, r_t, 2), dtype=np.float32)
    w *= np.float32(math.sqrt(0.5))
    g = w.view(np.complex64)[..., 0]                                # (n, r_f, r_t) CN(0, 1)
    if doppler_hz > 0:
        g = (g.reshape(n * r_f, r_t) @ a_t.T).reshape(n, r_f, n_sym)  # time factor
        g = np.ascontiguousarray(g.transpose(0, 2, 1)).reshape(n * n_sym, r_f)
        h = (g @ a_f.T).reshape(n, n_sym, n_used)                    # frequency factor
    else:                                                           # block fading: one draw per slot
        h1 = g.reshape(n, r_f) @ a_f.T                               # (n, K)
        h = np.empty((n, n_sym, n_used), dtype=np.complex64)
        h[:] = h1[:, None, :]
    if k > 0:
        phi = rng.uniform(0, 2 * np.pi, size=(n, 1))
        if doppler_hz > 0:
            t = np.arange(n_sym) * grid.symbol_len / grid.sample_rate
            fl = doppler_hz * np.cos(rng.uniform(0, 2 * np.pi, size=(n, 1)))
            phi = phi + 2 * np.pi * fl * t[None, :]                   # (n, T)
        los = (math.sqrt(prof.powers[0] * k / (k + 1)) * np.exp(1j * phi)).astype(np.complex64)
        h += los[:, :, None] * e[0].astype(np.complex64)[None, None, :]
    return h
