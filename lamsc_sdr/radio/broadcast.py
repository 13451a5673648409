"""One transmitter, N simulated receivers: a broadcast over N independent channels.

``BroadcastSimRadio(channels, seed)`` holds one :class:`~lamsc_sdr.radio.sim.SimRadio` per
receiver, each with its own :class:`~lamsc_sdr.channel.ChannelConfig` (fading model, SNR, CFO,
Doppler...) and its own generators (spawned from ``seed``). ``tx(iq)`` sends the same burst to
every receiver -- one transmission, N channel realizations; ``receiver(i)`` is receiver ``i``'s
radio (``rx(n)``, ``bursts`` for the perfect-CSI oracle). ``rx`` on the broadcast radio itself is
receiver 0's, so code written for one radio still runs.

Input of ``tx``: iq (n,) complex. Output of ``receiver(i).rx(n)``: (n,) complex64.
"""
from __future__ import annotations

import numpy as np

from ..channel.config import ChannelConfig
from ..errors import ShapeError
from .base import Radio
from .sim import RX_GAIN_REF_DB, TX_GAIN_REF_DB, SimRadio


class BroadcastSimRadio(Radio):
    """A simulated transmitter heard by ``len(channels)`` receivers (see the module docstring)."""

    backend = "sim"

    def __init__(self, channels: list[ChannelConfig], seed: int = 0, sample_rate: float = 1e6,
                 center_freq: float = 2.4e9, tx_gain: float = TX_GAIN_REF_DB, rx_gain: float = RX_GAIN_REF_DB,
                 buffer_size: int = 2 ** 16, gap_samples: int = 256):
        super().__init__(sample_rate, center_freq, tx_gain, rx_gain, buffer_size)
        if not channels:
            raise ShapeError("a broadcast needs at least one receiver channel")
        seeds = np.random.SeedSequence(int(seed)).spawn(len(channels))
        self._rx = [SimRadio(c, seed=int(s.generate_state(1)[0]), sample_rate=sample_rate,
                             center_freq=center_freq, tx_gain=tx_gain, rx_gain=rx_gain,
                             buffer_size=buffer_size, gap_samples=gap_samples) for c, s in zip(channels, seeds)]
        self._seed = int(seed)

    @property
    def n_receivers(self) -> int:
        return len(self._rx)

    def receiver(self, i: int) -> SimRadio:
        """Receiver ``i``'s radio (0-based)."""
        if not 0 <= i < len(self._rx):
            raise ShapeError(f"receiver index {i} out of range [0, {len(self._rx)})")
        return self._rx[i]

    @property
    def bursts(self):
        return self._rx[0].bursts

    def settings(self) -> dict:
        s = super().settings()
        s.update(receivers=[{"channel": r.channel_config.model, "snr_db": r.channel_config.snr_db,
                             "cfo_hz": r.channel_config.cfo_hz, "doppler_hz": r.channel_config.doppler_hz}
                            for r in self._rx], seed=self._seed)
        return s

    def tx(self, iq: np.ndarray) -> None:
        """One burst to every receiver, each through its own channel realization."""
        for r in self._rx:
            r.tx(iq)

    def rx(self, n: int | None = None) -> np.ndarray:
        return self._rx[0].rx(n)

    def close(self) -> None:
        for r in self._rx:
            r.close()
        super().close()


class RadioGroup(Radio):
    """One transmitting radio and N receiving radios of any backend (e.g. emulated Plutos).

    ``tx(iq)`` goes to ``transmitter``; ``receiver(i)`` is ``receivers[i]``. The group owns its
    radios: ``close`` closes them all. ``tx_cyclic`` follows the transmitter (receivers then read
    a longer budget, as for a cyclic Pluto).
    """

    def __init__(self, transmitter: Radio, receivers: list[Radio]):
        if not receivers:
            raise ShapeError("a radio group needs at least one receiver")
        super().__init__(transmitter.sample_rate, transmitter.center_freq, transmitter.tx_gain,
                         receivers[0].rx_gain, transmitter.buffer_size)
        self.transmitter, self.receivers = transmitter, list(receivers)
        self.backend = transmitter.backend
        self.tx_cyclic = bool(getattr(transmitter, "tx_cyclic", False))

    @property
    def n_receivers(self) -> int:
        return len(self.receivers)

    def receiver(self, i: int) -> Radio:
        if not 0 <= i < len(self.receivers):
            raise ShapeError(f"receiver index {i} out of range [0, {len(self.receivers)})")
        return self.receivers[i]

    def settings(self) -> dict:
        return {"transmitter": self.transmitter.settings(), "receivers": [r.settings() for r in self.receivers]}

    def tx(self, iq: np.ndarray) -> None:
        """Transmit on the transmitter; every receiver then drops what it had queued (stale)."""
        self.transmitter.tx(iq)
        for r in self.receivers:
            r.discard_stale()

    def rx(self, n: int | None = None) -> np.ndarray:
        return self.receivers[0].rx(n)

    def close(self) -> None:
        for r in [self.transmitter, *self.receivers]:
            r.close()
        super().close()
