"""A simulated radio: ``tx`` passes each burst through a :class:`~lamsc_sdr.channel.Channel` into a
receive timeline that ``rx`` reads from; between and after bursts the receiver hears its noise floor.

Timeline: the receiver's stream is one sequence of samples indexed from 0. ``tx(iq)`` appends
``gap_samples`` of noise, then the channel output of the burst (which itself starts with the
channel's timing offset), at the end of what is already queued -- never in the past: a burst
sent after ``rx`` has read further is placed after the samples already read. ``rx(n)`` returns
the next ``n`` samples, topping up with noise when the queue runs dry. ``bursts`` keeps, for each
burst, its position in the stream and the channel's :class:`~lamsc_sdr.channel.ChannelState`
(the truth for the perfect-CSI oracle).

Gains (dB): ``snr_db`` of the channel config is the Es/N0 at the reference gains
(``tx_gain = -10``, ``rx_gain = 40``, the RadioConfig defaults). ``tx_gain`` scales the signal
only (the receiver's noise floor is fixed), so each dB of TX gain is a dB of SNR; ``rx_gain``
scales signal and noise alike (no SNR change) by ``10**((rx_gain - 40) / 20)`` in amplitude, as
an ideal linear receive chain would. At the reference gains a unit-power burst arrives with
unit average power and noise variance ``10**(-snr_db/10)``.

Determinism: two ``SimRadio`` with the same seed, config and sequence of calls return bit-equal
samples. The channel and the noise floor use separate generators spawned from the seed, so
the channel realization of the k-th burst does not depend on how much noise was read before.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..channel.config import ChannelConfig
from ..channel.impairments import complex_noise, noise_variance
from ..channel.model import Channel, ChannelState
from ..errors import RadioError, ShapeError
from .base import Radio

#: Gains at which the channel config's ``snr_db`` holds (the RadioConfig defaults).
TX_GAIN_REF_DB = -10.0
RX_GAIN_REF_DB = 40.0


@dataclass(frozen=True)
class SimBurst:
    """One transmitted burst: ``rx_start`` is the receive-stream index of the channel output's
    first sample (``y[0]`` of the Channel call, i.e. before its timing offset); the burst's
    sample ``i`` arrives via the delay-0 path at ``rx_start + state.delay + i``."""

    rx_start: int
    n_tx: int
    state: ChannelState


class SimRadio(Radio):
    """Simulated radio over a :class:`~lamsc_sdr.channel.Channel`.

    Input of ``tx``: iq (n,) complex (any float/complex dtype, finite).
    Output of ``rx(n)``: (n,) complex64.
    """

    backend = "sim"

    def __init__(self, channel: ChannelConfig | None = None, seed: int = 0, sample_rate: float = 1e6,
                 center_freq: float = 2.4e9, tx_gain: float = TX_GAIN_REF_DB,
                 rx_gain: float = RX_GAIN_REF_DB, buffer_size: int = 2 ** 16, gap_samples: int = 256):
        super().__init__(sample_rate, center_freq, tx_gain, rx_gain, buffer_size)
        self._channel_cfg = channel if channel is not None else ChannelConfig()
        if not isinstance(self._channel_cfg, ChannelConfig):
            raise ShapeError(f"channel must be a ChannelConfig, got {type(channel).__name__}")
        if int(gap_samples) < 0:
            raise ShapeError(f"gap_samples must be >= 0, got {gap_samples}")
        self._seed = int(seed)
        self._gap = int(gap_samples)
        ch_seq, floor_seq = np.random.SeedSequence(self._seed).spawn(2)
        self._ch_rng = np.random.default_rng(ch_seq)
        self._floor_rng = np.random.default_rng(floor_seq)
        self._queue: list[np.ndarray] = []
        self._queued = 0          # samples waiting in _queue
        self._read = 0            # samples delivered by rx so far
        self._channel: Channel | None = None
        self.bursts: list[SimBurst] = []

    @classmethod
    def from_config(cls, radio_cfg, run_cfg) -> "SimRadio":
        """Build from ``RunConfig``: the channel section, the frame's sample rate, the run seed."""
        return cls(channel=run_cfg.channel, seed=run_cfg.seed, sample_rate=run_cfg.frame.sample_rate,
                   center_freq=radio_cfg.center_freq, tx_gain=radio_cfg.tx_gain, rx_gain=radio_cfg.rx_gain,
                   buffer_size=radio_cfg.buffer_size)

    # --- settings ----------------------------------------------------------------------------
    @property
    def channel_config(self) -> ChannelConfig:
        return self._channel_cfg

    @channel_config.setter
    def channel_config(self, cfg: ChannelConfig) -> None:
        if not isinstance(cfg, ChannelConfig):
            raise ShapeError(f"channel_config must be a ChannelConfig, got {type(cfg).__name__}")
        self._channel_cfg = cfg
        self._channel = None

    @property
    def seed(self) -> int:
        return self._seed

    @property
    def gap_samples(self) -> int:
        return self._gap

    @gap_samples.setter
    def gap_samples(self, value: int) -> None:
        if int(value) < 0:
            raise ShapeError(f"gap_samples must be >= 0, got {value}")
        self._gap = int(value)

    @property
    def snr_db(self) -> float:
        """Effective Es/N0 (dB) of a unit-power burst at the current TX gain."""
        return self._channel_cfg.snr_db + (self.tx_gain - TX_GAIN_REF_DB)

    @property
    def pending(self) -> int:
        """Samples queued and not yet read."""
        return self._queued

    @property
    def samples_read(self) -> int:
        """Receive-stream index of the next sample ``rx`` returns."""
        return self._read

    @property
    def last_state(self) -> ChannelState | None:
        return self.bursts[-1].state if self.bursts else None

    def settings(self) -> dict:
        s = super().settings()
        s.update(channel=self._channel_cfg.model, snr_db=self._channel_cfg.snr_db, seed=self._seed,
                 gap_samples=self._gap)
        return s

    # --- helpers -----------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise RadioError(f"{type(self).__name__} is closed")

    def _get_channel(self) -> Channel:
        ch = self._channel
        if ch is None or ch.cfg is not self._channel_cfg or ch.sample_rate != self.sample_rate:
            ch = self._channel = Channel(self._channel_cfg, self.sample_rate)
        return ch

    def _rx_amp(self) -> np.float32:
        return np.float32(10.0 ** ((self.rx_gain - RX_GAIN_REF_DB) / 20.0))

    def _floor(self, n: int) -> np.ndarray:
        n0 = noise_variance(self._channel_cfg.snr_db)
        if n0 == 0.0:
            return np.zeros(n, dtype=np.complex64)
        return complex_noise(n, n0, self._floor_rng) * self._rx_amp()

    # --- I/O ---------------------------------------------------------------------------------
    def tx(self, iq: np.ndarray) -> None:
        """Send one burst through a fresh channel realization (see the module docstring)."""
        self._check_open()
        iq = np.asarray(iq)
        if iq.ndim != 1 or iq.dtype.kind not in "fc":
            raise ShapeError(f"tx expects (n,) complex samples, got shape {iq.shape} dtype {iq.dtype}")
        if not np.all(np.isfinite(iq)):
            raise ShapeError("tx samples hold NaN or Inf")
        amp = 10.0 ** ((self.tx_gain - TX_GAIN_REF_DB) / 20.0)
        y, state = self._get_channel()(iq.astype(np.complex64) * np.float32(amp), self._ch_rng)
        gap = self._floor(self._gap)
        start = self._read + self._queued + gap.size
        self._queue.extend([gap, (y * self._rx_amp()).astype(np.complex64, copy=False)])
        self._queued += gap.size + y.size
        self.bursts.append(SimBurst(start, int(iq.size), state))

    def rx(self, n: int | None = None) -> np.ndarray:
        """Next ``n`` (default ``buffer_size``) samples of the receive stream: (n,) complex64."""
        self._check_open()
        n = self.buffer_size if n is None else int(n)
        if n < 0:
            raise ShapeError(f"rx: n must be >= 0, got {n}")
        if self._queued < n:
            self._queue.append(self._floor(n - self._queued))
            self._queued = n
        parts, need = [], n
        while need:                       # pop whole chunks; split the last one (no O(queue) copy)
            head = self._queue[0]
            if head.size <= need:
                parts.append(self._queue.pop(0))
                need -= head.size
            else:
                parts.append(head[:need])
                self._queue[0] = head[need:]
                need = 0
        self._queued -= n
        out = parts[0] if len(parts) == 1 else np.concatenate(parts or [np.zeros(0, np.complex64)])
        self._read += n
        return self._recorded(np.ascontiguousarray(out, dtype=np.complex64))

    def close(self) -> None:
        """Drop queued samples and release; idempotent."""
        self._queue = []
        self._queued = 0
        super().close()

    def with_channel(self, **changes) -> "SimRadio":
        """Change fields of the channel config in place (``radio.with_channel(snr_db=5)``); returns self."""
        self.channel_config = dataclasses.replace(self._channel_cfg, **changes)
        return self
