"""Perfect-CSI oracles for :class:`FrameReceiver` (``truth=``) when the channel is known in closed form.

:class:`CfoTruth` covers a flat channel (gain ``h``, default 1: AWGN) with a carrier-frequency
offset applied as ``r[n] = h x[n] exp(j (2 pi cfo n / fs + phase0))`` (``channel.apply_cfo`` with
``start=0``). The effective channel a receiver sees on an FFT window starting at absolute sample
``w`` of a frame it places at ``s`` (true start ``s0``), after derotating by its estimate ``f^``
with zero phase at ``s`` and removing its backoff ramp, is

    H_k = h exp(j (2 pi (f - f^) w / fs + 2 pi f^ s / fs + phase0)) * a(f - f^) * exp(2j pi k (s - s0) / N)

where ``a(df) = mean_m exp(2j pi df m / fs)`` over the window (the small loss of a residual CFO;
the inter-carrier interference it causes is not part of H).
"""
from __future__ import annotations

import numpy as np

from .config import FrameConfig


class CfoTruth:
    """Callable ``truth(start, window_starts, cfo_hz) -> (n_win, n_used) complex64``.

    Input: true_starts (n_frames,) absolute start samples of the transmitted frames; cfo_hz, phase0
    as applied by the channel; gain: flat channel gain.
    """

    def __init__(self, true_starts, cfo_hz: float, frame_cfg: FrameConfig, phase0: float = 0.0,
                 gain: complex = 1.0):
        self.true_starts = np.sort(np.asarray(true_starts, np.int64))
        self.cfo_hz, self.phase0, self.gain = float(cfo_hz), float(phase0), complex(gain)
        self.grid = frame_cfg.grid
        self.fs = frame_cfg.sample_rate

    def __call__(self, start: int, window_starts: np.ndarray, cfo_hz: float) -> np.ndarray:
        g = self.grid
        n = g.fft_size
        i = int(np.argmin(np.abs(self.true_starts - start)))
        s0 = int(self.true_starts[i])
        df = self.cfo_hz - cfo_hz
        w = np.asarray(window_starts, np.float64)
        phase = 2 * np.pi * df * w / self.fs + 2 * np.pi * cfo_hz * start / self.fs + self.phase0
        a = np.mean(np.exp(2j * np.pi * df * np.arange(n) / self.fs))
        ramp = np.exp(2j * np.pi * g.used_k * (start - s0) / n)
        return (self.gain * a * np.exp(1j * phase)[:, None] * ramp[None, :]).astype(np.complex64)
