"""The simulated channel block: ``y, state = Channel(cfg, sample_rate)(x, rng)``.

Order (docs/CONTRACTS.md): multipath (block or Jakes time-varying) -> CFO -> timing offset ->
fractional delay -> phase noise -> IQ imbalance -> DC offset -> AWGN.

The fractional delay is applied by shifting every path of the delay line by the same fraction
of a sample (the sinc interpolator then carries it). A delay and a frequency offset commute up
to the constant phase ``exp(-j 2 pi cfo d / fs)``, which this block does not add; it is
indistinguishable from the (uniform random) phase of the fading taps.
"""
from __future__ import annotations

import cmath
import math
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, ShapeError
from ..phy.grid import ResourceGrid
from .config import ChannelConfig
from .fading import PathGains, apply_multipath, draw_path_gains
from .impairments import (add_timing_offset, apply_cfo, awgn, dc_offset, iq_coefficients,
                          iq_imbalance, linewidth_from_dbc, noise_variance, wiener_phase)
from .profiles import TDLProfile, get_profile


@dataclass(frozen=True)
class ChannelState:
    """What one pass through :class:`Channel` did: the true channel, for the perfect-CSI oracle.

    Coordinates: ``rx`` indices count samples of the channel output ``y``. The multipath output
    sample ``t`` appears at ``y[t + timing_offset]``; the input sample ``x[i]`` reaches the output
    through the path of delay ``tau`` at ``y[i + delay + tau]`` (``delay = timing_offset +
    filter_delay``, the latter the causal bulk delay of the sinc interpolator, 0 for
    integer-delay profiles such as ``lammsc``).
    """

    profile: TDLProfile
    sample_rate: float
    path_delays: np.ndarray       # (P,) float64 samples, fractional delay included
    interp: np.ndarray            # (P, L) float64 sinc interpolator, tap i at delay i - filter_delay
    filter_delay: int
    gains: PathGains
    cfo_hz: float
    timing_offset: int
    n_in: int
    n_out: int
    noise_var: float              # N0 per complex sample
    phase: np.ndarray | None      # (n_out,) float32 Wiener phase (rad) or None
    iq_mu_nu: tuple[complex, complex]
    dc: complex

    @property
    def delay(self) -> int:
        """Samples from the input to the output of the delay-0 path (timing offset + filter delay)."""
        return self.timing_offset + self.filter_delay

    @property
    def n_taps(self) -> int:
        return int(self.interp.shape[1])

    def taps_at(self, rx_index) -> np.ndarray:
        """Taps that produced ``y[rx_index]``: (k,) indices -> (k, n_taps) complex128.
        Tap ``i`` multiplies the input ``delay - filter_delay + i`` samples earlier."""
        t = np.atleast_1d(np.asarray(rx_index, dtype=np.float64)) - self.timing_offset
        return self.gains.at(t) @ self.interp

    @property
    def taps(self) -> np.ndarray:
        """(n_taps,) complex64 taps at the first output sample (all of them for block fading)."""
        return self.taps_at([self.timing_offset])[0].astype(np.complex64)

    def frequency_response(self, grid: ResourceGrid, start_sample: int, n_symbols: int | None = None,
                           tx_start: int | None = None, cfo_ref_sample: int | None = None,
                           fft_offset: int = 0) -> np.ndarray:
        """True channel seen by an OFDM receiver whose first symbol (CP included) starts at
        ``y[start_sample]``; symbol ``q`` is FFT'd over ``y[start + q*symbol_len + cp : +fft_size]``.

        Args:
            grid: the numerology (its ``sample_rate`` must equal the channel's).
            start_sample: rx index where the receiver puts the first symbol's CP.
            n_symbols: OFDM symbols (default ``grid.n_symbols``); may span several slots.
            tx_start: index in the *transmitted* stream where that symbol's CP really began.
                Default ``start_sample - delay``: the receiver's timing is the ideal one (aligned
                to the delay-0 path). Give it when the receiver's timing may be off, to get the
                channel including the linear phase of the timing error.
            cfo_ref_sample: rx index at which the receiver's CFO correction has zero phase; when
                given, the common phase the (perfectly) corrected CFO leaves is included.
            fft_offset: samples the receiver starts its FFT window *before* the end of the CP
                (the usual back-off that keeps the precursor taps of fractional-delay paths,
                up to ``filter_delay`` samples early, out of the previous/next symbol).
        Output:
            (n_symbols, n_used) complex64: ``H[q, k] = sum_l hbar_q[l] exp(-j 2 pi k (l - d) / N)``
            with ``hbar_q`` the taps averaged over the FFT window (the ICI-free part of a
            time-varying channel; exact for block fading) and ``d = start_sample - tx_start -
            timing_offset - fft_offset``. Exactly ``FFT(window) = H * X`` when the channel is static and all
            taps fall inside the cyclic prefix. Not included: CFO (corrected by the receiver's
            sync; only its constant phase with ``cfo_ref_sample``), phase noise, IQ imbalance,
            DC offset and noise.
        """
        if not math.isclose(grid.sample_rate, self.sample_rate, rel_tol=1e-9):
            raise ConfigError(f"frame.sample_rate: grid runs at {grid.sample_rate} Hz but the channel "
                              f"was simulated at {self.sample_rate} Hz")
        nsym = grid.n_symbols if n_symbols is None else int(n_symbols)
        if nsym < 1:
            raise ShapeError(f"n_symbols must be >= 1, got {nsym}")
        if tx_start is None:
            tx_start = start_sample - self.delay
        d = start_sample - tx_start - self.timing_offset - fft_offset
        n_fft = grid.fft_size
        l = np.arange(self.n_taps) - d                                        # (L,)
        e = np.exp(-2j * np.pi * np.outer(l, grid.used_k) / n_fft)           # (L, K)
        if self.gains.time_varying:
            starts = start_sample + np.arange(nsym) * grid.symbol_len + grid.cp_len - fft_offset
            idx = (starts[:, None] + np.arange(n_fft)[None, :]).ravel()      # (nsym * N,)
            hbar = self.taps_at(idx).reshape(nsym, n_fft, -1).mean(axis=1)    # (nsym, L)
        else:
            hbar = np.broadcast_to(self.gains.static @ self.interp, (nsym, self.n_taps))
        h = hbar @ e                                                          # (nsym, K)
        if cfo_ref_sample is not None and self.cfo_hz:
            h = h * cmath.exp(2j * math.pi * self.cfo_hz * (cfo_ref_sample - self.timing_offset)
                              / self.sample_rate)
        return h.astype(np.complex64)


class Channel:
    """Processing block for one simulated link.

    Input:  x (n,) complex64 transmit samples; rng numpy Generator.
    Output: y (timing_offset + n + n_taps - 1,) complex64 -- the full response, nothing cut;
            state: :class:`ChannelState`.
    Each call draws a new channel realization (block fading per call; with ``doppler_hz > 0``
    the taps evolve within the call by Jakes' model).
    """

    def __init__(self, cfg: ChannelConfig | None = None, sample_rate: float = 1e6):
        from .impairments import sinc_interpolator
        self.cfg = cfg or ChannelConfig()
        if not sample_rate > 0:
            raise ConfigError(f"frame.sample_rate: must be > 0, got {sample_rate}")
        self.sample_rate = float(sample_rate)
        self.profile = get_profile(self.cfg.model, self.cfg.delay_spread_ns, sample_rate=self.sample_rate,
                                   k_factor_db=self.cfg.k_factor_db)
        self.path_delays = self.profile.delays * self.sample_rate + self.cfg.fractional_delay
        self.interp, self.filter_delay = sinc_interpolator(self.path_delays)

    @property
    def n_taps(self) -> int:
        return int(self.interp.shape[1])

    def __repr__(self) -> str:
        return (f"Channel(model={self.profile.name!r}, snr_db={self.cfg.snr_db}, sample_rate={self.sample_rate}, "
                f"n_taps={self.n_taps}, filter_delay={self.filter_delay})")

    def __call__(self, x, rng: np.random.Generator) -> tuple[np.ndarray, ChannelState]:
        x = np.asarray(x)
        if x.ndim != 1:
            raise ShapeError(f"Channel input must be 1-D (n,) complex samples, got shape {x.shape}")
        if x.dtype.kind not in "fc":
            raise ShapeError(f"Channel input must be complex (or real) floats, got dtype {x.dtype}")
        cfg, fs = self.cfg, self.sample_rate
        doppler = cfg.doppler_hz if self.profile.name != "awgn" else 0.0
        gains = draw_path_gains(self.profile.powers, fs, rng, doppler, self.profile.k_linear)
        y = apply_multipath(x, self.interp, gains)                        # (n + L - 1,) complex128
        y = apply_cfo(y, cfg.cfo_hz, fs)
        y = add_timing_offset(y, cfg.timing_offset)                       # fractional part: in interp
        phase = None
        if cfg.phase_noise_dbc is not None:
            beta = linewidth_from_dbc(cfg.phase_noise_dbc, cfg.phase_noise_offset_hz)
            phase = wiener_phase(y.size, beta, fs, rng)
            y = y * np.exp(1j * phase)
            phase = phase.astype(np.float32)
        y = iq_imbalance(y, cfg.iq_imbalance_db, cfg.iq_phase_deg)
        dc = cfg.dc_offset * cmath.exp(1j * math.radians(cfg.dc_phase_deg))
        if dc:
            y = dc_offset(y, dc)
        y = awgn(y.astype(np.complex64), cfg.snr_db, rng)
        state = ChannelState(self.profile, fs, self.path_delays, self.interp, self.filter_delay, gains,
                             cfg.cfo_hz, cfg.timing_offset, int(x.size), int(y.size),
                             noise_variance(cfg.snr_db), phase,
                             iq_coefficients(cfg.iq_imbalance_db, cfg.iq_phase_deg), dc)
        return y, state
