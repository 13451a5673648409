"""Perfect-CSI oracles for :class:`FrameReceiver` (``truth=``) when the channel is known in closed form.

:class:`ChannelTruth` covers any simulated :class:`~lamsc_sdr.channel.Channel` (one realization per burst).
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

from ..errors import ShapeError
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


class ChannelTruth:
    """Perfect CSI through a simulated :class:`lamsc_sdr.channel.Channel`, one realization per burst,
    followed by a stream-wide CFO ``r[n] = y[n] exp(j (2 pi cfo n / fs + phase0))``.

    Callable ``truth(start, window_starts, cfo_hz) -> (n_win, n_used) complex64`` (see
    :class:`FrameReceiver`). Input: true_starts (n_frames,) stream index of each burst's first
    input sample (its channel output ``y_b`` was added at the same index, ``y_b[0]`` there);
    states: the ``ChannelState`` of each burst; cfo_hz, phase0: the stream CFO.

    For the frame the receiver places at ``start`` (true start ``s0``) and its regularly spaced FFT
    windows ``w_q`` (started ``b = timing_backoff`` samples early, ramp removed), the truth is
    ``state.frequency_response`` of the symbols whose CP began at ``w_0 - start - (cp - b)`` in the
    burst, at channel-output index ``w_0 - s0 - (cp - b)`` with ``fft_offset=b`` -- which carries the
    timing error ``start - s0`` (filter delay included) as a linear phase -- times ``exp(2j pi k b / N)``
    (the receiver's de-ramp), times the residual-CFO phase and loss of :class:`CfoTruth`.
    """

    def __init__(self, true_starts, states, cfo_hz: float, frame_cfg: FrameConfig, phase0: float = 0.0):
        order = np.argsort(np.asarray(true_starts, np.int64))
        self.true_starts = np.asarray(true_starts, np.int64)[order]
        self.states = [states[i] for i in order]
        self.cfo_hz, self.phase0 = float(cfo_hz), float(phase0)
        self.cfg = frame_cfg
        self.grid = frame_cfg.grid
        self.fs = frame_cfg.sample_rate
        self.backoff = min(frame_cfg.timing_backoff, self.grid.cp_len // 2)
        self.deramp = np.exp(2j * np.pi * self.grid.used_k * self.backoff / self.grid.fft_size)

    def __call__(self, start: int, window_starts: np.ndarray, cfo_hz: float) -> np.ndarray:
        g, b = self.grid, self.backoff
        n = g.fft_size
        w = np.asarray(window_starts, np.int64)
        if w.size > 1 and np.any(np.diff(w) != g.symbol_len):
            raise ShapeError("ChannelTruth: window starts must be consecutive OFDM symbols")
        i = int(np.argmin(np.abs(self.true_starts - start)))
        s0, st = int(self.true_starts[i]), self.states[i]
        lead = g.cp_len - b                                   # window start -> its symbol's CP start
        h = st.frequency_response(g, int(w[0]) - lead - s0, w.size, tx_start=int(w[0]) - lead - int(start),
                                  fft_offset=b) * self.deramp[None, :]
        df = self.cfo_hz - cfo_hz
        phase = 2 * np.pi * df * w / self.fs + 2 * np.pi * cfo_hz * start / self.fs + self.phase0
        a = np.mean(np.exp(2j * np.pi * df * np.arange(n) / self.fs))
        return (a * np.exp(1j * phase)[:, None] * h).astype(np.complex64)


class SimRadioTruth:
    """Perfect CSI for frames sent through a :class:`~lamsc_sdr.radio.sim.SimRadio`.

    A SimRadio sends each ``tx()`` call (a planned stream of many frames) through one channel
    realization whose CFO has zero phase at the burst's first output sample after the timing
    offset (``rx_start + timing_offset``), scaled by the radio's TX and RX gains. This maps each
    detected frame to its burst and frame offset, then evaluates the burst's
    ``ChannelState.frequency_response`` exactly as :class:`ChannelTruth` does for one-frame bursts.

    Input: bursts: the radio's ``SimBurst`` list; frame_offsets: per burst, the start samples of
    its frames within the transmitted stream (``TxPlan.frames[i].start``); gain: amplitude of
    the radio's gains (1 at the reference gains); stream_offset: the radio's sample index that
    the receiver counts as 0 (a receiver started after earlier bursts were read).
    """

    def __init__(self, bursts, frame_offsets, frame_cfg: FrameConfig, gain: float = 1.0, stream_offset: int = 0):
        self.stream_offset = int(stream_offset)
        starts, owners, offs = [], [], []
        for b, fo in zip(bursts, frame_offsets):
            for f in fo:
                starts.append(b.rx_start - self.stream_offset + int(f))
                owners.append(b)
                offs.append(int(f))
        order = np.argsort(starts)
        self.true_starts = np.asarray(starts, np.int64)[order]
        self.owners = [owners[i] for i in order]
        self.offsets = [offs[i] for i in order]
        self.grid = frame_cfg.grid
        self.fs = frame_cfg.sample_rate
        self.gain = float(gain)
        self.backoff = min(frame_cfg.timing_backoff, self.grid.cp_len // 2)
        self.deramp = np.exp(2j * np.pi * self.grid.used_k * self.backoff / self.grid.fft_size)

    def __call__(self, start: int, window_starts: np.ndarray, cfo_hz: float) -> np.ndarray:
        g, b = self.grid, self.backoff
        w = np.asarray(window_starts, np.int64)
        if self.true_starts.size == 0:
            raise ShapeError("SimRadioTruth: no transmitted frames to take the truth from")
        i = int(np.argmin(np.abs(self.true_starts - start)))
        burst, f = self.owners[i], self.offsets[i]
        st = burst.state
        rx0 = burst.rx_start - self.stream_offset           # the burst's start in receiver indices
        lead = g.cp_len - b
        h = st.frequency_response(g, int(w[0]) - lead - rx0, w.size,
                                  tx_start=int(w[0]) - lead - int(start) + f, fft_offset=b) * self.deramp[None, :]
        true_cfo = float(st.cfo_hz)
        phase0 = -2 * np.pi * true_cfo * (rx0 + st.timing_offset) / self.fs
        df = true_cfo - cfo_hz
        phase = 2 * np.pi * df * w / self.fs + 2 * np.pi * cfo_hz * start / self.fs + phase0
        a = np.mean(np.exp(2j * np.pi * df * np.arange(g.fft_size) / self.fs))
        return (self.gain * a * np.exp(1j * phase)[:, None] * h).astype(np.complex64)


def sim_radio_truth(radio, plan, frame_cfg: FrameConfig) -> SimRadioTruth:
    """The oracle for the last ``plan`` a SimRadio sent (``plan.frames[i].start`` in its stream),
    for a receiver that starts counting at the radio's next unread sample."""
    from ..radio.sim import RX_GAIN_REF_DB, TX_GAIN_REF_DB
    gain = 10 ** ((radio.tx_gain - TX_GAIN_REF_DB) / 20) * 10 ** ((radio.rx_gain - RX_GAIN_REF_DB) / 20)
    return SimRadioTruth(radio.bursts[-1:], [[fr.start for fr in plan.frames]], frame_cfg, gain,
                          stream_offset=radio.samples_read)
