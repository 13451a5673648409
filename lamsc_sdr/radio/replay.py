"""File backends: ``replay`` plays a SigMF recording as the receive stream; ``sigmf-file``
transmits into a SigMF recording (the waveform a radio would send) and hears itself ideally.
"""
from __future__ import annotations

import logging

import numpy as np

from ..captures.sigmf_io import Capture, SigMFRecorder, read_capture
from ..errors import RadioError, ShapeError
from .base import Radio

log = logging.getLogger(__name__)


class ReplayRadio(Radio):
    """Receive from a SigMF recording, resampled to ``sample_rate`` when the recording differs.

    ``rx(n)``: the next n samples, (n,) complex64; past the end it pads with zeros and sets
    ``exhausted``. ``tx`` raises RadioError (a recording cannot be transmitted into).
    ``capture`` is the parsed recording (metadata, annotations, reference).
    """

    backend = "replay"

    def __init__(self, path, sample_rate: float | None = None, buffer_size: int = 2 ** 14):
        # ``path`` may be an already read Capture (replay_capture): read once, warn once
        self.capture: Capture = path if isinstance(path, Capture) else read_capture(path)
        rate = float(sample_rate or self.capture.sample_rate)
        super().__init__(rate, self.capture.center_freq or 0.0, 0.0, 0.0, buffer_size)
        self.path = str(self.capture.meta_path)
        if rate != self.capture.sample_rate:
            log.info("replay: resampling %s from %g to %g S/s", self.path, self.capture.sample_rate, rate)
        self._samples = self.capture.resampled(rate)
        self._pos = 0

    @property
    def exhausted(self) -> bool:
        return self._pos >= self._samples.size

    @property
    def n_samples(self) -> int:
        return int(self._samples.size)

    def tx(self, iq: np.ndarray) -> None:
        raise RadioError(f"the replay radio plays {self.path}; it cannot transmit")

    def rx(self, n: int | None = None) -> np.ndarray:
        n = int(self.buffer_size if n is None else n)
        out = self._samples[self._pos:self._pos + n]
        self._pos += n
        if out.size < n:
            out = np.concatenate([out, np.zeros(n - out.size, np.complex64)])
        return self._recorded(np.array(out, dtype=np.complex64))

    def settings(self) -> dict:
        d = super().settings()
        d.update(path=self.path, recorded_rate=self.capture.sample_rate)
        return d


class SigmfFileRadio(Radio):
    """Transmit into a SigMF recording at ``path`` (``cf32_le``, unit-power baseband).

    ``rx(n)`` returns what was transmitted (an ideal channel; zeros when nothing is queued), so
    ``lamsc link --radio sigmf-file`` works end to end. The file is valid after every ``tx``.
    """

    backend = "sigmf-file"

    def __init__(self, path, sample_rate: float = 1e6, center_freq: float = 2.4e9, buffer_size: int = 2 ** 14,
                 extra_global: dict | None = None):
        super().__init__(sample_rate, center_freq, 0.0, 0.0, buffer_size)
        if path is None:
            raise RadioError("the sigmf-file radio needs an output path (--record OUT.sigmf-meta)")
        g = {"lamsc:backend": "sigmf-file", "lamsc:simulated": True, "lamsc:direction": "tx"}
        g.update(extra_global or {})
        self.writer = SigMFRecorder(path, sample_rate, center_freq, hardware="lamsc sigmf-file (transmit waveform)",
                                    description="waveform transmitted by lamsc (not received over the air)",
                                    extra_global=g)
        self._queue = np.zeros(0, np.complex64)

    def tx(self, iq: np.ndarray) -> None:
        x = np.asarray(iq)
        if x.ndim != 1:
            raise ShapeError(f"tx expects (n,) samples, got shape {x.shape}")
        x = x.astype(np.complex64)
        self.writer.write(x)
        self._queue = np.concatenate([self._queue, x])

    def rx(self, n: int | None = None) -> np.ndarray:
        n = int(self.buffer_size if n is None else n)
        out, self._queue = self._queue[:n], self._queue[n:]
        if out.size < n:
            out = np.concatenate([out, np.zeros(n - out.size, np.complex64)])
        return self._recorded(out)

    def close(self) -> None:
        if not self._closed:
            self.writer.close()
        super().close()
