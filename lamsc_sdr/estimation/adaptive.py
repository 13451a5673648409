"""LMMSE with *estimated* channel statistics: the receiver learns the delay-Doppler power profile
from the pilots of many slots, then filters every slot with the LMMSE of that profile.

Why. Genie LMMSE knows the true power-delay profile (PDP) and Doppler spectrum; a mismatched or
robust LMMSE assumes a wider one and loses several dB, most at high SNR. The statistics are the
same for every slot of a link, so the pilots of many slots reveal them.

Model (WSSUS). With the slot's resource elements ``n`` at OFDM symbol ``t_n`` and subcarrier index
``k_n``, the channel covariance is a sum over a delay-Doppler grid of nonnegative powers ``S``::

    R[n, m] = sum_(l, d) S[l, d] exp(-j 2 pi (k_n - k_m) tau_l / N) exp(j 2 pi f_d (t_n - t_m) T_sym)
            = (Phi diag(S) Phi^H)[n, m]

``tau_l`` on a half-sample grid from before the first path (timing error) to past the cyclic prefix,
``f_d`` on a grid covering Doppler and residual CFO. ``S`` is fitted to the pilot sample covariance
``M = mean_b h_ls,b h_ls,b^H - mean(N0) I`` (per slot scaled to unit channel power, so gain changes
between slots or captures do not matter) by nonnegative least squares (accelerated projected
gradient, a fixed number of iterations: deterministic and cheap), and the fitted power spectrum is
blended with the robust (flat) prior by the number of slots seen, so a cold start is the robust LMMSE.

:class:`StatisticsTracker` accumulates ``M`` over calls (exponential forgetting: a running estimate
as a receiver keeps one per link) and refreshes the filter every ``refresh_slots`` new slots (and when
the slots seen double or the SNR moves);
:class:`AdaptiveLMMSEEstimator` is the estimator (kind ``lmmse-est``).
"""
from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..phy.pilots import PilotPattern
from .base import ChannelEstimator
from .classical import ls_at_pilots, lmmse_plan


def slot_scale(hp: np.ndarray, noise_var: np.ndarray) -> np.ndarray:
    """Per-slot channel rms estimate from the LS pilots: ``sqrt(max(mean |h_ls|^2 - N0, 0.05 mean |h_ls|^2))``.
    hp (B, P) complex, noise_var (B,) -> (B,) float64."""
    p = np.einsum("bp,bp->b", hp.real, hp.real, dtype=np.float64) + np.einsum("bp,bp->b", hp.imag, hp.imag,
                                                                             dtype=np.float64)
    p /= hp.shape[1]
    return np.sqrt(np.maximum(p - noise_var, 0.05 * p) + 1e-24)


def default_delays(cp_len: int, pre: float = 3.0, fine_until: float = 4.0, post: float | None = None) -> np.ndarray:
    """The delay grid (samples): 0.1-sample steps over ``[-pre, fine_until)`` (near-flat channels need
    fine resolution at high SNR), 0.25-sample steps from there to ``post`` (default cp_len + 2)."""
    post = float(cp_len + 2 if post is None else post)
    return np.r_[np.arange(-pre, fine_until, 0.1), np.arange(fine_until, post + 1e-9, 0.25)]


class SeparableFit:
    """Fits ``R = kron(R_t, R_f)`` to a pilot sample covariance, for one pilot pattern.

    - ``R_t`` (time): Jakes ``J0(2 pi f_D dt T)`` times a common rotation ``exp(j 2 pi f_o dt T)``
      (residual CFO), ``f_D`` and ``f_o`` from the pilot pairs on the same subcarrier (dk = 0).
    - ``R_f`` (frequency): a nonnegative power-delay profile on the grid ``delays`` (samples), fitted
      by NNLS to every pilot-pair lag ``(dt, dk)``: ``m(dt, dk) = R_t(dt) sum_l p_l exp(-j 2 pi dk tau_l / N)``.
    The pairs are grouped by lag once per pattern, so a fit costs O(lags x delays^2), not O(P^2 x delays).
    """

    def __init__(self, pilots: PilotPattern, delays: np.ndarray | None = None):
        g = pilots.grid
        self.grid = g
        self.delays = default_delays(g.cp_len) if delays is None else np.asarray(delays, np.float64)
        if self.delays.size < 1:
            raise ConfigError("adaptive LMMSE: empty delay grid")
        ti, fi = pilots.pilot_index
        self.pidx = ti * g.n_used + fi
        self.pilot_abs = np.abs(pilots.values[ti, fi]).astype(np.float64)
        k = np.asarray(g.used_k, np.int64)[fi]
        dt = (ti[:, None] - ti[None, :]).ravel()
        dk = (k[:, None] - k[None, :]).ravel()
        lags, self.lag_id = np.unique(np.stack([dt, dk], 1), axis=0, return_inverse=True)
        self.lag_id = self.lag_id.ravel()
        self.dt, self.dk = lags[:, 0], lags[:, 1]
        self.count = np.bincount(self.lag_id).astype(np.float64)
        self.e_lag = np.exp(-2j * np.pi * self.dk[:, None] * self.delays[None, :] / g.fft_size)   # (n_lags, L)
        self.e_f = np.exp(-2j * np.pi * np.asarray(g.used_k, np.float64)[:, None]
                          * self.delays[None, :] / g.fft_size)                                  # (F, L)
        self.t_sym = g.symbol_len / g.sample_rate
        self.same_sc = np.nonzero((self.dk == 0) & (self.dt > 0))[0]
        self.fd_grid = np.arange(0.0, 1200.0, 5.0)
        self.fd_tolerance = 0.003                            # |r| error accepted without a spread
        span = (self.delays >= -1.0) & (self.delays <= g.cp_len)
        self.prior = span / span.sum()                       # flat PDP over [-1, cp_len] samples

    def lag_means(self, m: np.ndarray) -> np.ndarray:
        """Mean of ``m (P, P)`` over the pilot pairs of each lag. (n_lags,) complex128."""
        v = m.ravel()
        return (np.bincount(self.lag_id, v.real) + 1j * np.bincount(self.lag_id, v.imag)) / self.count

    def time_fit(self, ml: np.ndarray) -> tuple[float, float]:
        """``(f_D, f_o)`` in Hz from the same-subcarrier lags (robust 300 Hz flat spread if none)."""
        if self.same_sc.size == 0:
            return 300.0, 0.0
        p0 = max(float(np.real(ml[(self.dt == 0) & (self.dk == 0)][0])), 1e-12)
        r = ml[self.same_sc] / p0
        d = self.dt[self.same_sc]
        j = np.argmin(d)
        fo = float(np.angle(r[j]) / (2 * np.pi * d[j] * self.t_sym))
        from scipy.special import j0
        model = j0(2 * np.pi * self.fd_grid[:, None] * d[None, :] * self.t_sym)               # (G, n)
        w = self.count[self.same_sc] / self.count[self.same_sc].sum()
        cost = ((np.abs(r)[None, :] - model) ** 2 * w[None, :]).sum(1)
        # the smallest spread that fits about as well: |r| sits slightly below 1 from estimation
        # noise alone, and a spurious spread costs most at high SNR
        ok = cost <= 2.0 * cost.min() + self.fd_tolerance ** 2
        return float(self.fd_grid[np.argmax(ok)]), fo

    def r_t(self, fd: float, fo: float, dt: np.ndarray) -> np.ndarray:
        from scipy.special import j0
        x = dt * self.t_sym
        return j0(2 * np.pi * fd * x) * np.exp(2j * np.pi * fo * x)

    def pdp_fit(self, ml: np.ndarray, fd: float, fo: float) -> np.ndarray:
        """Nonnegative PDP (L,) minimising ``sum_lags count |m - R_t E p|^2`` (exact NNLS)."""
        from scipy.optimize import nnls
        a = self.r_t(fd, fo, self.dt)[:, None] * self.e_lag                              # (n_lags, L)
        aw = a * self.count[:, None]
        gm = np.real(aw.conj().T @ a)
        b = np.real(aw.conj().T @ ml)
        w, v = np.linalg.eigh(gm)
        keep = w > 1e-10 * w[-1]
        c = (v[:, keep] * np.sqrt(w[keep])).T                                              # c^T c = G
        d = (v[:, keep].T @ b) / np.sqrt(w[keep])
        p, _ = nnls(c, d, maxiter=50 * self.delays.size)
        return p

    def merge(self, pdp: np.ndarray, gap: float = 0.3, min_power: float = 0.0, min_spread: float = 0.05,
              tap_power: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Paths from a grid PDP. NNLS splits an off-grid path, and sampling noise smears a path, over
        neighbouring grid delays, and every extra path costs a dimension of noise at high SNR; so each
        run of nonzero grid taps closer than ``gap`` samples becomes two paths of half its power at
        ``mean +- std`` of its delays (same power, mean delay and spread: one path when the run is
        one, a cluster keeps its width; a run narrower than ``min_spread`` is one path). Paths below ``min_power`` (of the total) are dropped.
        Output: delays (Q,) samples, powers (Q,)."""
        tap = min_power if tap_power is None else tap_power
        nz = np.nonzero(pdp > tap * pdp.sum())[0]                    # grid taps below it: fit noise
        if nz.size == 0:
            return self.delays[self.prior > 0], self.prior[self.prior > 0]
        groups = np.split(nz, np.nonzero(np.diff(self.delays[nz]) > gap + 1e-9)[0] + 1)
        pw = np.array([pdp[g].sum() for g in groups])
        mu = np.array([np.dot(pdp[g], self.delays[g]) / pdp[g].sum() for g in groups])
        sd = np.array([np.sqrt(max(np.dot(pdp[g], (self.delays[g] - m) ** 2) / pdp[g].sum(), 0.0))
                       for g, m in zip(groups, mu)])
        keep = pw >= min_power * pw.sum()
        pw, mu, sd = pw[keep], mu[keep], sd[keep]
        wide = sd > min_spread
        return (np.r_[mu[~wide], mu[wide] - sd[wide], mu[wide] + sd[wide]],
                np.r_[pw[~wide], pw[wide] / 2, pw[wide] / 2])

    def correlations(self, delays: np.ndarray, powers: np.ndarray, fd: float, fo: float):
        """The fitted statistics as correlation functions: ``r_f (F,)`` at subcarrier lags 0..F-1 and
        ``r_t (T,)`` at symbol lags 0..T-1, complex128, both 1 at lag 0."""
        powers = powers / max(float(powers.sum()), 1e-30)
        dk = np.arange(self.grid.n_used, dtype=np.float64)
        r_f = np.exp(-2j * np.pi * dk[:, None] * delays[None, :] / self.grid.fft_size) @ powers
        return r_f, self.r_t(fd, fo, np.arange(self.grid.n_symbols, dtype=np.float64))

    def covariance(self, delays: np.ndarray, powers: np.ndarray, fd: float, fo: float) -> np.ndarray:
        """Full slot covariance (N, N) complex128 at unit mean power, paths at ``delays`` (samples)."""
        powers = powers / max(float(powers.sum()), 1e-30)
        e = np.exp(-2j * np.pi * np.asarray(self.grid.used_k, np.float64)[:, None] * delays[None, :]
                   / self.grid.fft_size)                                               # (F, Q)
        r_f = (e * powers[None, :]) @ e.conj().T
        t = np.arange(self.grid.n_symbols)
        return np.kron(self.r_t(fd, fo, t[:, None] - t[None, :]), r_f)


class StatisticsTracker:
    """Running pilot covariance of one link and the LMMSE plan fitted to it.

    ``update(hp_scaled, nv_scaled)`` adds slots (LS pilots divided by the slot's channel rms, and
    their noise variance in the same scale); ``plan()`` returns the current LMMSE plan (refitted on
    the first call, when the slots seen doubled, when the SNR moved by ``refresh_snr_db``, and every
    ``refresh_slots`` new slots). ``memory_slots``:
    the effective window of the exponential forgetting. ``prior_slots``: weight of the flat prior
    (uniform PDP over the cyclic prefix), in slots, in the blend with the fitted PDP. The fitted grid
    PDP becomes paths (:meth:`SeparableFit.merge`): grid taps above ``tap_power`` (of the total) are
    grouped into runs closer than ``merge_gap`` samples, runs below ``min_power`` dropped, runs wider
    than ``min_spread`` samples kept as two paths at mean +- spread. Defaults chosen by measurement
    (docs/results/cge/README.md, "conditioning"): 0.03 keeps EPA's 0.043-sample spread (0.05 made it
    one path: 3.7 dB from genie at 30 dB), while a discrete path smeared by the fit stays one path;
    dropping runs under 2e-3 but keeping taps over 3e-4 removes spurious weak paths (TDL-A/C at
    20-30 dB) without losing real weak paths spread over several taps (PED-B; at 3e-3 its -28 dB
    path was dropped: 5.2 dB from genie at 30 dB, 1.2 at 2e-3)."""

    def __init__(self, fit: SeparableFit, memory_slots: float = 4000.0, refresh_slots: int = 4096,
                 prior_slots: float = 8.0, min_power: float = 2e-3, refresh_snr_db: float = 3.0,
                 min_spread: float = 0.03, merge_gap: float = 0.3, tap_power: float | None = 3e-4):
        self.fitter = fit
        self.tap_power = tap_power
        self.merge_gap = merge_gap
        self.min_power = min_power
        self.min_spread = min_spread
        self.refresh_snr_db = refresh_snr_db
        self.memory, self.refresh, self.prior_slots = memory_slots, refresh_slots, prior_slots
        self.reset()

    def reset(self) -> None:
        """Forget everything (a new link): the next plan is the flat-prior (robust) LMMSE."""
        p = self.fitter.pidx.size
        self.m_sum = np.zeros((p, p), np.complex128)
        self.n = 0.0
        self.noise_sum = 0.0
        self.since = 0
        self.seen = 0
        self.level_db = self.fit_level_db = 0.0
        self._nv_avg = None
        self._plan = None
        self.params = {"fd": 300.0, "fo": 0.0}

    def update(self, hp: np.ndarray, nv: np.ndarray) -> None:
        """hp (B, P) complex (unit channel power scale), nv (B,) float64. Each slot's outer product
        is weighted by ``1 / (1 + nv)^2`` (its inverse variance): noisy slots count less."""
        b = hp.shape[0]
        decay = float(np.exp(-b / self.memory))
        w = 1.0 / (1.0 + nv) ** 2                                               # (B,)
        z = hp.astype(np.complex64, copy=False)
        zw = z * w[:, None].astype(np.float32)
        self.m_sum = decay * self.m_sum + (zw.T @ z.conj()).astype(np.complex128)
        self.noise_sum = decay * self.noise_sum + float(np.sum(w * nv))
        self.n = decay * self.n + float(np.sum(w))
        self.since += b
        # the link's recent SNR: noise level averaged over the last ~256 slots (one slot in a fade
        # must not trigger a refit)
        a = float(np.exp(-b / 256.0))
        self._nv_avg = float(np.mean(nv)) if self._nv_avg is None else a * self._nv_avg + (1 - a) * float(np.mean(nv))
        self.level_db = float(-10 * np.log10(self._nv_avg + 1e-12))

    def plan(self):
        """The LMMSE plan, refitted when ``refresh_slots`` slots arrived since the last fit, when the
        slots seen have doubled since it (early on, the statistics sharpen fast), or when the link's
        SNR moved by more than ``refresh_snr_db`` (what the fit must resolve grows with the SNR: a
        path 25 dB down matters at 30 dB, not at 5 dB)."""
        seen = self.seen + self.since
        moved = abs(self.level_db - self.fit_level_db) > self.refresh_snr_db
        if self._plan is None or (self.since and (self.since >= self.refresh or seen >= 2 * self.seen or moved)):
            self.seen = seen
            self.fit_level_db = self.level_db
            self._refit()
        return self._plan

    def _refit(self) -> None:
        ft = self.fitter
        on = ft.prior > 0
        delays, powers = ft.delays[on], ft.prior[on]                          # cold start: flat prior
        if self.n > 0:
            m = self.m_sum / self.n
            # noise sits on the diagonal of the LS-pilot covariance: N0 / |p|^2
            m = m - np.diag((self.noise_sum / self.n) / ft.pilot_abs ** 2)
            ml = ft.lag_means(m)
            # the time fit on correlation *coefficients*: each pair divided by its two pilots' own power,
            # so the sample power of a lone pilot subcarrier (the pattern's odd-symbol lags pair only the
            # edge pilot) does not read as |r| > 1 and hide the Doppler
            d = np.sqrt(np.maximum(np.real(np.diag(m)), 1e-12))
            fd, fo = ft.time_fit(ft.lag_means(m / np.outer(d, d)))
            p = ft.pdp_fit(ml, fd, fo)
            dl, pw = ft.merge(p / max(float(p.sum()), 1e-30), min_power=self.min_power, min_spread=self.min_spread,
                              gap=self.merge_gap, tap_power=self.tap_power)
            w = 1.0 - (self.prior_slots / (self.n + self.prior_slots)) ** 2     # the prior fades fast
            delays, powers = np.r_[dl, delays], np.r_[w * pw / pw.sum(), (1 - w) * powers]
            self.params = {"delays": dl, "powers": pw, "fd": fd, "fo": fo, "prior_weight": 1 - w}
        r = ft.covariance(delays, powers, self.params["fd"], self.params["fo"])
        self.correlations = ft.correlations(delays, powers, self.params["fd"], self.params["fo"])
        self._plan = lmmse_plan(r[np.ix_(ft.pidx, ft.pidx)], r[:, ft.pidx], np.real(np.diag(r)), ft.pilot_abs)
        self.since = 0


class AdaptiveLMMSEEstimator(ChannelEstimator):
    """LMMSE with statistics estimated from the pilots of the slots seen so far (this call included).

    Input:  y (..., T, F) complex64, pilots, noise_var float or (...,).
    Output: h_hat (..., T, F) complex64; err_var (..., T, F) float32 (the LMMSE error variance under
    the fitted statistics, times the slot's channel power).
    ``track=False``: statistics from the current call only (no memory between calls)."""

    name = "lmmse-est"

    def __init__(self, pilots: PilotPattern, track: bool = True, **tracker_kw):
        self.pilots = pilots
        self.tracker = StatisticsTracker(SeparableFit(pilots, tracker_kw.pop("delays", None)), **tracker_kw)
        self.track = track

    def reset(self) -> None:
        self.tracker.reset()

    def estimate(self, y, pilots, noise_var):
        if pilots != self.pilots:
            raise ConfigError("lmmse-est: built for another pilot pattern")
        h, ev, _ = self.estimate_scaled(y, pilots, noise_var)
        return h, ev

    def estimate_scaled(self, y, pilots, noise_var, error: bool = True):
        """As :meth:`estimate`, plus the per-slot channel rms ``c (B,)`` it scaled by
        (``error=False``: the error variance is not computed and returned as None)."""
        lead = y.shape[:-2]
        yb = y.reshape(-1, *pilots.grid.shape)
        nv = np.broadcast_to(np.asarray(noise_var, np.float64), lead).reshape(-1)
        hp = ls_at_pilots(yb, pilots).reshape(yb.shape[0], -1)                  # (B, P)
        h, ev, c = self.from_pilots(hp, nv, error)
        return h.reshape(y.shape), (ev.reshape(y.shape) if error else None), c

    def from_pilots(self, hp: np.ndarray, nv: np.ndarray, error: bool = True):
        """The estimate from the LS pilots ``hp (B, P)`` complex64 and ``nv (B,)``: h (B, N) complex64,
        its error variance (B, N) float32 (None with ``error=False``), the slot rms c (B,) float64."""
        nv = np.maximum(nv, 1e-12)
        c = slot_scale(hp, nv)                                                  # (B,)
        c32 = c.astype(np.float32)[:, None]
        hs = hp / c32
        nvs = nv / c ** 2
        if not self.track:
            self.tracker.reset()
        self.tracker.update(hs, nvs)
        h, ev = self.tracker.plan().apply(hs, nvs, error=error)                 # (B, N) unit scale
        h *= c32
        if error:
            ev = (ev * (c ** 2)[:, None]).astype(np.float32)
        return h, ev, c


__all__ = ["AdaptiveLMMSEEstimator", "SeparableFit", "default_delays", "StatisticsTracker", "slot_scale"]
