"""Tapped-delay-line fading: random path gains (block or Jakes time-varying) and their application.

Path gains are drawn once per call (one burst or frame) and kept in a compact form
(:class:`PathGains`: the Gaussian draws, or the sum-of-sinusoids parameters), so the exact
gain at any sample can be re-evaluated later by the perfect-CSI oracle without storing a
``(n_samples, n_taps)`` array.

Time variation follows Clarke/Jakes with the sum-of-sinusoids of Pop & Beaulieu / Patzold:
``g(t) = M^-1/2 sum_m exp(j (2 pi fd cos(alpha_m) t + phi_m))`` with stratified random arrival
angles ``alpha_m = 2 pi (m + u_m) / M`` and uniform phases. Averaged over realizations its
autocorrelation is exactly ``J0(2 pi fd tau)`` (each ``alpha_m`` is marginally uniform on its
stratum, so the mean over ``m`` integrates over the whole circle); the stratification keeps
single realizations close to the Jakes spectrum.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError

#: Sinusoids per path. 32 gives envelope statistics within a few percent of Rayleigh.
N_SINUSOIDS = 32
#: Largest Doppler phase advance (rad) between two exactly computed gain samples; in between,
#: gains are linearly interpolated (error ~ 0.05^2 / 8 = 3e-4 relative, i.e. about -70 dB).
MAX_PHASE_STEP = 0.05
_CHUNK = 4096


@dataclass(frozen=True)
class PathGains:
    """Complex gains of ``n_paths`` paths, as a function of the sample index.

    Block fading (``doppler_hz == 0``): ``static`` (n_paths,) complex128 holds the gains.
    Time-varying: ``g_p(t) = sqrt(P_p) [a_los e^{j(phi0 + 2 pi f_los t/fs)} [p == 0]
    + a_diff M^-1/2 sum_m e^{j(2 pi f_pm t / fs + phi_pm)}]``.
    """

    powers: np.ndarray            # (P,) float64, sum 1
    sample_rate: float
    doppler_hz: float = 0.0
    static: np.ndarray | None = None          # (P,) complex128 (block fading)
    freqs_hz: np.ndarray | None = None        # (P, M) float64 Doppler of each sinusoid
    phases: np.ndarray | None = None          # (P, M) float64
    los_amp: float = 0.0                      # sqrt(K/(K+1)) of path 0 (0: no LOS)
    diff_amp: np.ndarray | None = None        # (P,) sqrt(1/(K+1)) or 1
    los_phase: float = 0.0
    los_freq_hz: float = 0.0
    step: int = 1                             # samples between exactly computed gains

    @property
    def n_paths(self) -> int:
        return int(self.powers.size)

    @property
    def time_varying(self) -> bool:
        return self.static is None

    def _exact(self, t: np.ndarray) -> np.ndarray:
        """Exact gains at sample times ``t`` (k,) float64 -> (k, P) complex128."""
        out = np.empty((t.size, self.n_paths), dtype=np.complex128)
        tau = t / self.sample_rate
        for a in range(0, t.size, _CHUNK):
            tt = tau[a:a + _CHUNK, None, None]                       # (k, 1, 1)
            ph = 2 * np.pi * self.freqs_hz[None] * tt + self.phases[None]   # (k, P, M)
            out[a:a + _CHUNK] = np.exp(1j * ph).mean(axis=-1) * math.sqrt(self.freqs_hz.shape[1])
        out *= self.diff_amp[None, :]
        if self.los_amp:
            out[:, 0] += self.los_amp * np.exp(1j * (self.los_phase + 2 * np.pi * self.los_freq_hz * tau))
        return out * np.sqrt(self.powers)[None, :]

    def at(self, t) -> np.ndarray:
        """Gains at sample indices ``t`` (k,) (multipath-output time, 0 = first sample of the
        burst). Output: (k, P) complex128."""
        t = np.atleast_1d(np.asarray(t, dtype=np.float64))
        if not self.time_varying:
            return np.broadcast_to(self.static, (t.size, self.n_paths)).copy()
        if self.step == 1:
            return self._exact(t)
        q = t / self.step
        k0 = np.floor(q)
        frac = (q - k0)[:, None]
        base = int(k0.min())
        knots = self._exact(np.arange(base, int(k0.max()) + 2, dtype=np.float64) * self.step)
        i = (k0 - base).astype(np.int64)
        return knots[i] * (1 - frac) + knots[i + 1] * frac


def draw_path_gains(powers, sample_rate: float, rng: np.random.Generator, doppler_hz: float = 0.0,
                    k_linear: float = 0.0, n_sinusoids: int = N_SINUSOIDS) -> PathGains:
    """Draw one realization of the path gains of a profile.

    Args:
        powers: (P,) linear path powers, normalized to unit total (``TDLProfile.powers``).
        k_linear: Rician K-factor of path 0 (0: Rayleigh; ``inf``: deterministic unit-phase
            path, used for ``awgn``). The LOS phase is uniform random (so the channel is
            zero-mean, as the LMMSE statistics assume); with Doppler the LOS path arrives from a
            uniform random angle, i.e. shifts by ``fd cos(theta0)``.
        doppler_hz: maximum Doppler ``fd``; 0 gives block fading (exact complex Gaussians).
    """
    p = np.asarray(powers, dtype=np.float64)
    if doppler_hz < 0:
        raise ConfigError(f"channel.doppler_hz: must be >= 0, got {doppler_hz}")
    if math.isinf(k_linear):  # no fading at all
        static = np.zeros(p.size, dtype=np.complex128)
        static[0] = 1.0
        return PathGains(p, sample_rate, 0.0, static=static)
    diff_amp = np.ones(p.size)
    los_amp = 0.0
    if k_linear > 0:
        los_amp = math.sqrt(k_linear / (k_linear + 1))
        diff_amp[0] = math.sqrt(1 / (k_linear + 1))
    if doppler_hz == 0.0:
        w = (rng.standard_normal(p.size) + 1j * rng.standard_normal(p.size)) / math.sqrt(2)
        g = w * diff_amp
        if los_amp:
            g[0] += los_amp * np.exp(1j * rng.uniform(0, 2 * np.pi))
        return PathGains(p, sample_rate, 0.0, static=g * np.sqrt(p))
    m = n_sinusoids
    alpha = 2 * np.pi * (np.arange(m)[None, :] + rng.uniform(size=(p.size, m))) / m
    phases = rng.uniform(0, 2 * np.pi, size=(p.size, m))
    los_phase, theta0 = (rng.uniform(0, 2 * np.pi, size=2) if los_amp else (0.0, 0.0))
    step = max(1, min(256, int(MAX_PHASE_STEP * sample_rate / (2 * np.pi * doppler_hz))))
    return PathGains(p, sample_rate, float(doppler_hz), freqs_hz=doppler_hz * np.cos(alpha),
                     phases=phases, los_amp=los_amp, diff_amp=diff_amp, los_phase=float(los_phase),
                     los_freq_hz=float(doppler_hz * math.cos(theta0)), step=step)


def apply_multipath(x: np.ndarray, interp: np.ndarray, gains: PathGains,
                    chunk: int = 1 << 15) -> np.ndarray:
    """Pass ``x`` through the tapped delay line ``h[t, l] = sum_p g_p(t) S[p, l]``.

    Input: x (n,) complex; interp S (P, L) float (from ``sinc_interpolator``); gains.
    Output: (n + L - 1,) complex128, the full convolution (no tail is cut), with
    ``y[t] = sum_l h[t, l] x[t - l]``; the taps are evaluated at the output time ``t``.
    """
    x = np.asarray(x)
    n_taps = interp.shape[1]
    n_out = x.size + n_taps - 1
    if not gains.time_varying:
        h = gains.static @ interp                                     # (L,)
        return np.convolve(x.astype(np.complex128, copy=False), h)
    xp = np.concatenate([np.zeros(n_taps - 1, dtype=np.complex128), x, np.zeros(n_taps - 1)])
    y = np.empty(n_out, dtype=np.complex128)
    for a in range(0, n_out, chunk):
        b = min(n_out, a + chunk)
        h = gains.at(np.arange(a, b)) @ interp                        # (k, L) taps per sample
        # lagged input: xl[i, l] = x[a + i - l]  (x index shifted by the L-1 leading zeros)
        win = np.lib.stride_tricks.sliding_window_view(xp[a:b + n_taps - 1], n_taps)[:, ::-1]
        y[a:b] = np.einsum("kl,kl->k", h, win)
    return y
