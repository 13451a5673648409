"""Channel second-order statistics for the LMMSE estimators, and grid-level channel draws.

The statistics come from :mod:`lamsc_sdr.channel` (``get_profile``, ``frequency_correlation``,
``time_correlation``, ``grid_channel``) when that package provides them. Until then -- and only
then -- a small private fallback with the same signatures is used (a handful of published
profiles, exact separable statistics), so the estimators can be built and tested on their own.

Conventions: a slot grid is ``(n_symbols, n_used)`` flattened row-major, so the full channel
covariance of one slot is ``R = kron(R_t, R_f)`` (time index outer, subcarrier index inner).
"""
from __future__ import annotations

import logging

import numpy as np

from ..errors import ConfigError
from ..phy.grid import ResourceGrid

log = logging.getLogger(__name__)

# -- private fallback profiles (delays in seconds, powers in dB) -------------------------------
# EPA/EVA: 3GPP TS 36.104 Annex B.2; Veh-A/Ped-A: ITU-R M.1225; lammsc: the LAM-MSC authors'
# estimator profile (sample delays 0,3,5,6,8 at the frame's sample rate: resolved at use).
_FALLBACK = {
    "epa": ([0, 30, 70, 90, 110, 190, 410], [0, -1, -2, -3, -8, -17.2, -20.8], 1e-9),
    "eva": ([0, 30, 150, 310, 370, 710, 1090, 1730, 2510],
            [0, -1.5, -1.4, -3.6, -0.6, -9.1, -7.0, -12.0, -16.9], 1e-9),
    "etu": ([0, 50, 120, 200, 230, 500, 1600, 2300, 5000], [-1, -1, -1, 0, 0, 0, -3, -5, -7], 1e-9),
    "veh-a": ([0, 310, 710, 1090, 1730, 2510], [0, -1, -9, -10, -15, -20], 1e-9),
    "ped-a": ([0, 110, 190, 410], [0, -9.7, -19.2, -22.8], 1e-9),
    "rayleigh": ([0], [0], 1.0),
    "lammsc": ([0, 3, 5, 6, 8], [0, -8, -17, -21, -25], None),   # sample delays
}


def _channel_api():
    """The channel package's functions, or None while it does not provide them yet."""
    try:
        from .. import channel as ch
    except ImportError:  # pragma: no cover
        return None
    names = ("get_profile", "frequency_correlation", "time_correlation", "grid_channel")
    if all(hasattr(ch, n) for n in names):
        return ch
    return None


def _fallback_pdp(name: str, grid: ResourceGrid) -> tuple[np.ndarray, np.ndarray]:
    key = name.lower()
    if key.startswith("exp"):
        # "exp" or "exp:<rms delay spread in ns>": exponential PDP, 16 taps per rms spread
        rms = float(key.split(":", 1)[1]) * 1e-9 if ":" in key else 1e-6
        tau = np.linspace(0, 8 * rms, 33)
        p = np.exp(-tau / rms)
        return tau, p / p.sum()
    if key not in _FALLBACK:
        raise ConfigError(f"channel profile {name!r} unknown; known: {sorted(_FALLBACK)} or exp[:RMS_NS]")
    d, pdb, unit = _FALLBACK[key]
    tau = np.asarray(d, float) * (unit if unit is not None else 1.0 / grid.sample_rate)
    p = 10 ** (np.asarray(pdb, float) / 10)
    return tau, p / p.sum()


def _is_exp(name: str) -> bool:
    return name.lower().startswith("exp")


def frequency_correlation(profile: str, grid: ResourceGrid, delay_spread_ns: float = 100.0) -> np.ndarray:
    """``R_f[k1, k2] = E[H(k1) H(k2)^*]`` over the used subcarriers. (n_used, n_used) complex128.

    ``profile`` may also be ``exp`` / ``exp:RMS_NS`` (an exponential power-delay profile, the
    classic robust assumption of a mismatched LMMSE)."""
    ch = _channel_api()
    if ch is not None and not _is_exp(profile):
        return np.asarray(ch.frequency_correlation(profile, grid, delay_spread_ns), np.complex128)
    tau, p = _fallback_pdp(profile, grid)
    f = grid.used_k * grid.subcarrier_spacing
    df = f[:, None] - f[None, :]
    return np.einsum("l,kjl->kj", p, np.exp(-2j * np.pi * df[..., None] * tau[None, None, :]))


def time_correlation(doppler_hz: float, grid: ResourceGrid) -> np.ndarray:
    """Clarke/Jakes ``R_t[t1, t2] = J0(2 pi f_D (t1 - t2) T_sym)``. (n_symbols, n_symbols) float64."""
    ch = _channel_api()
    if ch is not None:
        return np.asarray(ch.time_correlation(doppler_hz, grid), np.float64).real
    from scipy.special import j0
    t = np.arange(grid.n_symbols) * grid.symbol_len / grid.sample_rate
    return j0(2 * np.pi * doppler_hz * (t[:, None] - t[None, :]))


def grid_channel(profile: str, grid: ResourceGrid, n: int, rng: np.random.Generator,
                 doppler_hz: float = 0.0, delay_spread_ns: float = 100.0) -> np.ndarray:
    """``n`` grid-level channel realizations. Output: (n, n_symbols, n_used) complex64."""
    ch = _channel_api()
    if ch is not None and not _is_exp(profile):
        return np.asarray(ch.grid_channel(profile, grid, n, rng, doppler_hz=doppler_hz,
                                          delay_spread_ns=delay_spread_ns), np.complex64)
    tau, p = _fallback_pdp(profile, grid)
    rt = time_correlation(doppler_hz, grid)
    w, v = np.linalg.eigh(rt)
    sq = v * np.sqrt(np.clip(w, 0, None))                       # (T, T): sq sq^T = R_t
    g = (rng.standard_normal((n, tau.size, grid.n_symbols))
         + 1j * rng.standard_normal((n, tau.size, grid.n_symbols))) * np.sqrt(p / 2)[None, :, None]
    g = g @ sq.T                                               # (n, L, T) time-correlated taps
    f = grid.used_k * grid.subcarrier_spacing
    e = np.exp(-2j * np.pi * tau[:, None] * f[None, :])        # (L, F)
    return np.einsum("nlt,lf->ntf", g, e).astype(np.complex64)


def slot_covariance(r_t: np.ndarray, r_f: np.ndarray) -> np.ndarray:
    """Full slot covariance for the row-major flattened grid. (T*F, T*F) complex128."""
    return np.kron(np.asarray(r_t, np.complex128), np.asarray(r_f, np.complex128))


def empirical_correlations(h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Separable sample statistics of measured channels ``h: (n, T, F)`` normalised so that
    ``R_t`` has unit mean diagonal and ``R_f`` carries the power. Returns ``(R_t (T, T), R_f (F, F))`` complex128."""
    h = np.asarray(h, np.complex128)
    n, t, f = h.shape
    r_f = np.einsum("ntf,ntg->fg", h, h.conj()) / (n * t)
    r_t = np.einsum("ntf,nsf->ts", h, h.conj()) / (n * f)
    pt = np.real(np.trace(r_t)) / t
    if not pt > 0:
        raise ConfigError("measured channels are all zero: no statistics to estimate")
    return r_t / pt, r_f
