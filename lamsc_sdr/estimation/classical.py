"""Classical estimators: LS + linear interpolation, LMMSE (genie or mismatched), perfect oracle.

All are batched over any leading dimensions and fully vectorised (one matrix product per batch).

Signal model at the pilots: ``y_p = h_p p + n``, ``n ~ CN(0, N0)``, so the LS estimate
``h_ls = y_p / p`` has error variance ``N0 / |p|^2`` (the pilot sequence is unit-modulus, so N0).
"""
from __future__ import annotations

import numpy as np

from ..errors import ConfigError, ShapeError
from ..phy.pilots import PilotPattern
from .base import ChannelEstimator, check_grid


def _interp_weights(x_known: np.ndarray, x_all: np.ndarray) -> np.ndarray:
    """Linear-interpolation weights with constant extrapolation beyond the end points
    (``np.interp`` semantics). Output: (len(x_all), len(x_known)) float64; rows sum to 1."""
    w = np.zeros((x_all.size, x_known.size))
    for j in range(x_known.size):
        e = np.zeros(x_known.size)
        e[j] = 1.0
        w[:, j] = np.interp(x_all, x_known, e)
    return w


def interpolation_matrix(pilots: PilotPattern) -> np.ndarray:
    """The linear operator of "LS at the pilots, then linear interpolation in frequency (per
    pilot-bearing OFDM symbol), then linear interpolation in time (per subcarrier)".

    Output: A (n_symbols * n_used, n_pilots) float64 with ``vec(H_hat) = A @ h_ls`` (grid flattened
    row-major, pilots in ``pilots.pilot_index`` order). Edges are held constant, never extrapolated."""
    t_idx, f_idx = pilots.pilot_index
    n_sym, n_used = pilots.grid.shape
    rows = np.unique(t_idx)
    f_all = np.arange(n_used, dtype=float)
    freq = np.zeros((rows.size, n_used, t_idx.size))              # (S, F, P)
    for r, t in enumerate(rows):
        sel = np.nonzero(t_idx == t)[0]
        freq[r][:, sel] = _interp_weights(f_idx[sel].astype(float), f_all)
    wt = _interp_weights(rows.astype(float), np.arange(n_sym, dtype=float))   # (T, S)
    a = np.einsum("ts,sfp->tfp", wt, freq)
    return a.reshape(n_sym * n_used, t_idx.size)


def _lead_noise(noise_var: np.ndarray, lead: tuple[int, ...]) -> np.ndarray:
    """Broadcast a scalar or per-grid noise variance to the leading shape. Output: lead float64."""
    try:
        return np.broadcast_to(np.asarray(noise_var, np.float64), lead)
    except ValueError as err:
        raise ShapeError(f"noise_var of shape {np.shape(noise_var)} does not broadcast to the "
                         f"grids' leading shape {lead}") from err


def ls_at_pilots(y: np.ndarray, pilots: PilotPattern) -> np.ndarray:
    """LS estimates at the pilots. y: (..., T, F) complex -> (..., n_pilots) complex64."""
    t, f = pilots.pilot_index
    return (y[..., t, f] / pilots.values[t, f]).astype(np.complex64)


class _PatternCache:
    """Per-pilot-pattern precomputation (estimators are built for one frame, but stay correct
    if handed another pattern)."""

    def __init__(self, build):
        self._build = build
        self._cache: dict = {}

    def get(self, pilots: PilotPattern):
        key = (pilots.grid, pilots.kind, pilots.time_spacing, pilots.freq_spacing, pilots.shift, pilots.offset)
        if key not in self._cache:
            if len(self._cache) > 8:
                self._cache.clear()
            self._cache[key] = self._build(pilots)
        return self._cache[key]


class LSEstimator(ChannelEstimator):
    """LS at the pilots + 2-D linear interpolation (frequency, then time).

    Input:  y (..., T, F) complex64, pilots, noise_var float or (...,).
    Output: h_hat (..., T, F) complex64; err_var (..., T, F) float32 = the noise part of the
    error, ``N0 * sum_j A_ij^2 / |p_j|^2`` (exactly ``N0/|p|^2`` at the pilots). The interpolation
    (model) error is not included: LS knows no channel statistics.
    """

    name = "ls"

    def __init__(self):
        self._cache = _LS_PLANS          # the plan depends only on the pattern: share it

    @staticmethod
    def _prepare(pilots: PilotPattern):
        """Separable form of :func:`interpolation_matrix`: every resource element is a lerp of two
        pilots of its pilot row (frequency), then a lerp of two pilot rows (time) -- at most 4
        pilots, so a gather + lerp costs O(T F) per grid instead of the dense O(T F P) product."""
        t_idx, f_idx = pilots.pilot_index
        n_sym, n_used = pilots.grid.shape
        rows = np.unique(t_idx)
        f_all = np.arange(n_used, dtype=float)
        lo = np.empty((rows.size, n_used), np.int64)              # (S, F) pilot index of the left pilot
        hi = np.empty((rows.size, n_used), np.int64)
        wf = np.empty((rows.size, n_used))
        for r, t in enumerate(rows):
            sel = np.nonzero(t_idx == t)[0]                       # pilots of this row, f ascending
            fk = f_idx[sel].astype(float)
            j = np.clip(np.searchsorted(fk, f_all, side="right") - 1, 0, sel.size - 1)
            j1 = np.minimum(j + 1, sel.size - 1)
            span = fk[j1] - fk[j]
            w = np.where(span > 0, (f_all - fk[j]) / np.where(span > 0, span, 1.0), 0.0)
            lo[r], hi[r], wf[r] = sel[j], sel[j1], np.clip(w, 0.0, 1.0)   # held constant at edges
        wt = _interp_weights(rows.astype(float), np.arange(n_sym, dtype=float))   # (T, S)
        if rows.size == n_sym:
            time = None                                           # every symbol carries pilots
        else:
            r_lo = np.argmax(wt > 0, axis=1)                      # first nonzero weight per symbol
            r_hi = np.minimum(r_lo + 1, rows.size - 1)
            time = (r_lo, r_hi, wt[np.arange(n_sym), r_hi].astype(np.float32)[:, None])
        # float32 views: complex element c is floats (2c, 2c+1)
        lo2 = np.stack([2 * lo, 2 * lo + 1], -1).reshape(-1)
        hi2 = np.stack([2 * hi, 2 * hi + 1], -1).reshape(-1)
        wf2 = np.repeat(wf.reshape(-1), 2).astype(np.float32)
        t, f = pilots.pilot_index
        inv_p = (1.0 / pilots.values[t, f]).astype(np.complex64)
        a = interpolation_matrix(pilots)
        inv_p2 = 1.0 / np.abs(pilots.values[t, f]).astype(np.float64) ** 2
        gain = (a ** 2) @ inv_p2                                  # (T*F,) noise gain per RE
        pflat = (t * n_used + f).astype(np.int64)
        return (pflat, inv_p, lo2, hi2, wf2, rows.size, time,
                gain.reshape(pilots.grid.shape).astype(np.float32))

    def estimate(self, y, pilots, noise_var):
        pflat, inv_p, lo2, hi2, wf2, n_rows, time, gain = self._cache.get(pilots)
        lead = y.shape[:-2]
        n_sym, n_used = pilots.grid.shape
        yb = y.reshape(-1, n_sym * n_used)                        # (B, T*F)
        hp = np.take(yb, pflat, axis=1) * inv_p                   # (B, P) LS at the pilots
        hf = hp.view(np.float32)                                  # (B, 2P)
        a = np.take(hf, lo2, axis=1)                              # (B, 2 S F), C-contiguous
        d = np.take(hf, hi2, axis=1)
        d -= a
        d *= wf2
        a += d                                                    # frequency lerp per pilot row
        hs = a.view(np.complex64).reshape(-1, n_rows, n_used)     # (B, S, F)
        if time is None:
            h = hs
        else:
            r_lo, r_hi, w = time
            h = hs[:, r_lo]                                       # (B, T, F)
            dt = hs[:, r_hi]
            dt -= h
            dt *= w
            h += dt
        h = h.reshape(*lead, n_sym, n_used)
        nv = _lead_noise(noise_var, lead)
        err = nv.astype(np.float32)[..., None, None] * gain
        return h, err


_LS_PLANS = _PatternCache(LSEstimator._prepare)


class LMMSEEstimator(ChannelEstimator):
    """LMMSE from the LS pilot estimates with slot covariance ``R = kron(R_t, R_f)``.

    ``W = R_hp (R_pp + N0 D)^-1`` with ``D = diag(1/|p|^2)``, computed for any per-grid N0 at once
    through the eigendecomposition of the whitened pilot covariance ``S = D^-1/2 R_pp D^-1/2 =
    U diag(lam) U^H``: ``h_hat = B diag(1/(lam + N0)) U^H D^-1/2 h_ls`` with ``B = R_hp D^-1/2 U``.

    ``assumed_noise_var=None`` (genie): W uses the N0 handed to each call and the error variance is
    ``diag(R - W R_ph) = R_ii - sum_k |B_ik|^2 / (lam_k + N0)``.
    ``assumed_noise_var=s`` (mismatched): W uses ``s`` whatever the true N0; the reported error
    variance is the exact MSE of that fixed W under the *assumed* covariance and the *true* N0:
    ``R_ii - sum_k |B_ik|^2 (2 g_k - g_k^2 (lam_k + N0))``, ``g_k = 1/(lam_k + s)``.

    Input:  y (..., T, F) complex64, pilots, noise_var float or (...,).
    Output: h_hat (..., T, F) complex64, err_var (..., T, F) float32.
    """

    def __init__(self, r_t: np.ndarray, r_f: np.ndarray, assumed_noise_var: float | None = None,
                 name: str = "lmmse"):
        r_t = np.asarray(r_t, np.complex128)
        r_f = np.asarray(r_f, np.complex128)
        if r_t.ndim != 2 or r_t.shape[0] != r_t.shape[1] or r_f.ndim != 2 or r_f.shape[0] != r_f.shape[1]:
            raise ShapeError(f"R_t and R_f must be square, got {r_t.shape} and {r_f.shape}")
        if assumed_noise_var is not None and not assumed_noise_var > 0:
            raise ConfigError(f"assumed noise variance must be > 0, got {assumed_noise_var}")
        self.r_t, self.r_f = r_t, r_f
        self.assumed_noise_var = assumed_noise_var
        self.name = name
        self._cache = _PatternCache(self._prepare)

    def _prepare(self, pilots: PilotPattern) -> "LMMSEPlan":
        shape = pilots.grid.shape
        if self.r_t.shape[0] != shape[0] or self.r_f.shape[0] != shape[1]:
            raise ShapeError(f"{self.name}: statistics are for a {self.r_t.shape[0]} x {self.r_f.shape[0]} "
                             f"grid, the pilot pattern's grid is {shape[0]} x {shape[1]}")
        r = np.kron(self.r_t, self.r_f)                             # (N, N)
        t, f = pilots.pilot_index
        pidx = t * shape[1] + f
        return lmmse_plan(r[np.ix_(pidx, pidx)], r[:, pidx], np.real(np.diag(r)),
                          np.abs(pilots.values[t, f]), self.assumed_noise_var)

    def mean_only(self, y: np.ndarray, pilots: PilotPattern, noise_var) -> np.ndarray:
        """The estimate without its error variance (inputs trusted: y (B, T, F) complex64 finite,
        noise_var (B,) > 0). For callers that need only h_hat, e.g. the CGAN's conditioning bank.
        Output: (B, T, F) complex64."""
        plan = self._cache.get(pilots)
        hp = ls_at_pilots(y, pilots).reshape(-1, plan.uh_d.shape[0])
        return plan.apply(hp, np.asarray(noise_var, np.float64).reshape(-1), error=False)[0].reshape(y.shape)

    def estimate(self, y, pilots, noise_var):
        plan = self._cache.get(pilots)
        lead = y.shape[:-2]
        nv = _lead_noise(noise_var, lead).reshape(-1)               # (B,)
        hp = ls_at_pilots(y, pilots).reshape(-1, plan.uh_d.shape[0])     # (B, P)
        h, err = plan.apply(hp, nv)
        shape = (*lead, *pilots.grid.shape)
        return h.reshape(shape), err.reshape(shape)


class LMMSEPlan:
    """The LMMSE filter of one covariance, for any per-slot N0 (see :class:`LMMSEEstimator`).

    Built by :func:`lmmse_plan`; ``apply(hp (B, P) complex, nv (B,)) -> (h (B, N) complex64,
    err (B, N) float32 or None)``."""

    def __init__(self, b, uh_d, lam, b2, rdiag, floor, assumed_noise_var=None):
        self.b, self.uh_d, self.lam, self.b2, self.rdiag, self.floor = b, uh_d, lam, b2, rdiag, floor
        self.assumed_noise_var = assumed_noise_var
        self._bt = np.ascontiguousarray(b.T)
        self._uh_dt = np.ascontiguousarray(uh_d.T)

    def apply(self, hp: np.ndarray, nv: np.ndarray, error: bool = True):
        nv = np.maximum(np.asarray(nv, np.float64), self.floor)
        z = hp.astype(np.complex64, copy=False) @ self._uh_dt       # (B, P): U^H D^-1/2 h_ls
        s = self.assumed_noise_var
        g = 1.0 / (self.lam[None, :] + (nv[:, None] if s is None else s))   # (B or 1, P)
        h = ((z * g.astype(np.float32)) @ self._bt).astype(np.complex64, copy=False)   # (B, N)
        if not error:
            return h, None
        shrink = g if s is None else 2 * g - g ** 2 * (self.lam[None, :] + nv[:, None])
        err = np.clip(self.rdiag[None, :] - shrink @ self.b2.T, 0.0, None)      # (B, N)
        if err.shape[0] != h.shape[0]:
            err = np.broadcast_to(err, h.shape)
        return h, err.astype(np.float32)


def lmmse_plan(r_pp: np.ndarray, r_hp: np.ndarray, rdiag: np.ndarray, pilot_abs: np.ndarray,
               assumed_noise_var: float | None = None) -> LMMSEPlan:
    """LMMSE plan from the pilot covariance ``r_pp (P, P)``, the element-pilot cross covariance
    ``r_hp (N, P)``, the element variances ``rdiag (N,)`` and the pilot magnitudes ``|p| (P,)``:
    ``W = R_hp (R_pp + N0 D)^-1`` with ``D = diag(1/|p|^2)``, through the eigendecomposition of the
    whitened ``S = D^-1/2 R_pp D^-1/2 = U diag(lam) U^H``: ``h_hat = B diag(1/(lam + N0)) U^H D^-1/2 h_ls``,
    ``B = R_hp D^-1/2 U``."""
    dm12 = np.asarray(pilot_abs, np.float64)                    # D^-1/2 = |p|
    s = dm12[:, None] * r_pp * dm12[None, :]
    lam, u = np.linalg.eigh((s + s.conj().T) / 2)
    lam = np.clip(lam, 0.0, None)
    b = (r_hp * dm12[None, :]) @ u                              # (N, P)
    uh_d = (u.conj().T * dm12[None, :])                         # (P, P): U^H D^-1/2
    floor = 1e-9 * max(float(np.mean(rdiag)), 1e-30)
    return LMMSEPlan(b.astype(np.complex64), uh_d.astype(np.complex64), lam, np.abs(b) ** 2,
                     np.asarray(rdiag, np.float64), floor, assumed_noise_var)


def robust_lmmse(grid, max_doppler_hz: float = 400.0, pre_samples: float = 3.0,
                 max_delay_samples: float | None = None) -> LMMSEEstimator:
    """LMMSE from statistics a receiver knows without the true profile: a uniform power-delay
    profile over ``[-pre_samples, cp_len]`` samples (``pre_samples``: timing uncertainty), a flat
    Doppler spectrum up to ``max_doppler_hz``, and the per-slot N0 of each call."""
    from . import stats
    return LMMSEEstimator(stats.robust_time_correlation(max_doppler_hz, grid),
                          stats.robust_frequency_correlation(grid, max_delay_samples, pre_samples),
                          None, name="lmmse-robust")


class PerfectEstimator(ChannelEstimator):
    """Perfect-CSI oracle: returns the true channel given by :meth:`set_truth` (or ``truth=``),
    with zero error variance. The truth must broadcast to the received grids' shape."""

    name = "perfect"

    def __init__(self):
        self._truth: np.ndarray | None = None

    def set_truth(self, h: np.ndarray) -> None:
        """h: (..., T, F) complex -- the true channel of the next call(s)."""
        h = np.asarray(h)
        if h.ndim < 2 or not np.all(np.isfinite(h)):
            raise ShapeError(f"true channel must be a finite (..., T, F) array, got shape {h.shape}")
        self._truth = h.astype(np.complex64, copy=False)

    def __call__(self, y, pilots, noise_var, truth: np.ndarray | None = None):
        if truth is not None:
            self.set_truth(truth)
        return super().__call__(y, pilots, noise_var)

    def estimate(self, y, pilots, noise_var):
        if self._truth is None:
            raise ConfigError("perfect estimator: no true channel; call set_truth(h) or pass truth=")
        try:
            h = np.broadcast_to(self._truth, y.shape).copy()
        except ValueError as err:
            raise ShapeError(f"true channel of shape {self._truth.shape} does not match the received "
                             f"grids {y.shape}") from err
        return h, np.zeros(y.shape, np.float32)


__all__ = ["LSEstimator", "LMMSEEstimator", "LMMSEPlan", "lmmse_plan", "PerfectEstimator", "interpolation_matrix", "robust_lmmse",
           "ls_at_pilots", "check_grid"]
