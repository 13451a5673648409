"""Channel second-order statistics for the LMMSE estimators, and grid-level channel draws.

Thin wrappers over :mod:`lamsc_sdr.channel` (``frequency_correlation``, ``time_correlation``,
``grid_channel``), plus one profile of our own for the mismatched LMMSE: ``exp`` / ``exp:RMS_NS``,
an exponential power-delay profile (the classic "robust" assumption when the true one is unknown).

Conventions: a slot grid is ``(n_symbols, n_used)`` flattened row-major, so the full channel
covariance of one slot is ``R = kron(R_t, R_f)`` (time index outer, subcarrier index inner).
"""
from __future__ import annotations

import numpy as np

from .. import channel as ch
from ..errors import ConfigError
from ..phy.grid import ResourceGrid


def _exp_pdp(name: str) -> tuple[np.ndarray, np.ndarray]:
    """``exp`` (1 us rms) or ``exp:RMS_NS``: exponential PDP sampled at 33 delays over 8 rms spreads.
    Output: delays (L,) seconds, powers (L,) summing to 1."""
    try:
        rms = float(name.split(":", 1)[1]) * 1e-9 if ":" in name else 1e-6
    except ValueError as err:
        raise ConfigError(f"profile {name!r}: expected exp or exp:RMS_NS") from err
    if not rms > 0:
        raise ConfigError(f"profile {name!r}: the rms delay spread must be > 0")
    tau = np.linspace(0, 8 * rms, 33)
    p = np.exp(-tau / rms)
    return tau, p / p.sum()


def _is_exp(name) -> bool:
    return isinstance(name, str) and name.lower().startswith("exp")


def frequency_correlation(profile: str, grid: ResourceGrid, delay_spread_ns: float = 100.0) -> np.ndarray:
    """``R_f[k1, k2] = E[H(k1) H(k2)^*]`` over the used subcarriers. (n_used, n_used) complex128.

    ``profile`` may also be ``exp`` / ``exp:RMS_NS`` (an exponential power-delay profile, the
    classic robust assumption of a mismatched LMMSE)."""
    if not _is_exp(profile):
        return np.asarray(ch.frequency_correlation(profile, grid, delay_spread_ns), np.complex128)
    tau, p = _exp_pdp(profile)
    f = grid.used_k * grid.subcarrier_spacing
    df = f[:, None] - f[None, :]
    return np.einsum("l,kjl->kj", p, np.exp(-2j * np.pi * df[..., None] * tau[None, None, :]))


def time_correlation(doppler_hz: float, grid: ResourceGrid) -> np.ndarray:
    """Clarke/Jakes ``R_t[t1, t2] = J0(2 pi f_D (t1 - t2) T_sym)``. (n_symbols, n_symbols) float64."""
    return np.asarray(ch.time_correlation(doppler_hz, grid), np.float64).real


def grid_channel(profile: str, grid: ResourceGrid, n: int, rng: np.random.Generator,
                 doppler_hz: float = 0.0, delay_spread_ns: float = 100.0) -> np.ndarray:
    """``n`` grid-level channel realizations. Output: (n, n_symbols, n_used) complex64."""
    if not _is_exp(profile):
        return np.asarray(ch.grid_channel(profile, grid, n, rng, doppler_hz=doppler_hz,
                                          delay_spread_ns=delay_spread_ns), np.complex64)
    tau, p = _exp_pdp(profile)
    rt = time_correlation(doppler_hz, grid)
    w, v = np.linalg.eigh(rt)
    sq = v * np.sqrt(np.clip(w, 0, None))                       # (T, T): sq sq^T = R_t
    g = (rng.standard_normal((n, tau.size, grid.n_symbols))
         + 1j * rng.standard_normal((n, tau.size, grid.n_symbols))) * np.sqrt(p / 2)[None, :, None]
    g = g @ sq.T                                               # (n, L, T) time-correlated taps
    f = grid.used_k * grid.subcarrier_spacing
    e = np.exp(-2j * np.pi * tau[:, None] * f[None, :])        # (L, F)
    return np.einsum("nlt,lf->ntf", g, e).astype(np.complex64)


def _lag_cycles(grid: ResourceGrid) -> np.ndarray:
    """Subcarrier-index differences in cycles per sample, ``(k - l) / N``. (n_used, n_used) float64."""
    k = np.asarray(grid.used_k, np.float64)
    return (k[:, None] - k[None, :]) / grid.fft_size


def timing_spread(r_f: np.ndarray, grid: ResourceGrid, uncertainty_samples: float) -> np.ndarray:
    """``R_f`` of the channel *as a receiver sees it* when its FFT window may sit up to
    ``uncertainty_samples`` early or late (uniform): every path delay moves by ``d ~ U[-u, u]``
    samples, so ``R_f[k, l]`` is multiplied by ``E[exp(-j 2 pi (k - l) d / N)] = sinc(2 u (k - l) / N)``.
    A frame receiver's residual timing error (sync jitter, filter delay) is such a shift; without it
    a genie LMMSE puts (almost) no prior weight on delays before the first path and fails badly on
    the slots whose timing lands late. Output: (n_used, n_used) complex128."""
    if not uncertainty_samples >= 0:
        raise ConfigError(f"estimator.timing_uncertainty_samples: must be >= 0, got {uncertainty_samples}")
    r_f = np.asarray(r_f, np.complex128)
    if uncertainty_samples == 0:
        return r_f
    return r_f * np.sinc(2 * uncertainty_samples * _lag_cycles(grid))


def robust_frequency_correlation(grid: ResourceGrid, max_delay_samples: float | None = None,
                                 pre_samples: float = 0.0) -> np.ndarray:
    """The robust LMMSE frequency correlation: a uniform power-delay profile over
    ``[-pre_samples, max_delay_samples]`` (default: the cyclic prefix), the worst case a receiver can
    assume without knowing the profile (Li, Cimini, Sollenberger 1998). ``R_f[k, l] =
    exp(-j pi D (a + b)) sinc(D (b - a))`` with ``D = (k - l) / N``, ``[a, b]`` the delay span.
    Output: (n_used, n_used) complex128, unit diagonal."""
    b = float(grid.cp_len if max_delay_samples is None else max_delay_samples)
    a = -float(pre_samples)
    if not b > a:
        raise ConfigError(f"robust statistics: empty delay span [{a}, {b}] samples")
    d = _lag_cycles(grid)
    return np.exp(-1j * np.pi * d * (a + b)) * np.sinc(d * (b - a))


def robust_time_correlation(max_doppler_hz: float, grid: ResourceGrid) -> np.ndarray:
    """The robust LMMSE time correlation: a flat Doppler spectrum over ``[-f, f]`` (covers Jakes
    fading up to ``f`` and a residual CFO below it), ``R_t = sinc(2 f dt)``. (n_symbols, n_symbols) float64."""
    if not max_doppler_hz >= 0:
        raise ConfigError(f"robust statistics: max Doppler must be >= 0, got {max_doppler_hz}")
    t = np.arange(grid.n_symbols) * grid.symbol_len / grid.sample_rate
    return np.sinc(2 * max_doppler_hz * (t[:, None] - t[None, :]))


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
