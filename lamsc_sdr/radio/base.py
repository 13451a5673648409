"""The one radio interface: simulated, GNU Radio, PlutoSDR (pyadi-iio), SigMF replay and file.

Settings are properties (as in pyadi-iio); ``tx(iq)`` sends complex baseband, ``rx(n)`` returns
the next ``n`` received samples; ``close()`` releases the device. Radios are context managers.
Every backend can record what it receives to SigMF (``record_to``).
"""
from __future__ import annotations

import abc

import numpy as np


class Radio(abc.ABC):
    """Base class of all radio backends.

    ``tx(iq)``: iq (n,) complex64, unit-ish amplitude (|iq| <= 1 before the backend's scaling).
    ``rx(n)``: returns (n,) complex64.
    """

    backend: str = "base"

    def __init__(self, sample_rate: float = 1e6, center_freq: float = 2.4e9, tx_gain: float = -10.0,
                 rx_gain: float = 40.0, buffer_size: int = 2 ** 16):
        self._sample_rate = float(sample_rate)
        self._center_freq = float(center_freq)
        self._tx_gain = float(tx_gain)
        self._rx_gain = float(rx_gain)
        self._buffer_size = int(buffer_size)
        self._recorder = None
        self._closed = False

    # --- settings as properties -------------------------------------------------------------
    @property
    def sample_rate(self) -> float:
        return self._sample_rate

    @sample_rate.setter
    def sample_rate(self, value: float) -> None:
        self._sample_rate = float(value)

    @property
    def center_freq(self) -> float:
        return self._center_freq

    @center_freq.setter
    def center_freq(self, value: float) -> None:
        self._center_freq = float(value)

    @property
    def tx_gain(self) -> float:
        return self._tx_gain

    @tx_gain.setter
    def tx_gain(self, value: float) -> None:
        self._tx_gain = float(value)

    @property
    def rx_gain(self) -> float:
        return self._rx_gain

    @rx_gain.setter
    def rx_gain(self, value: float) -> None:
        self._rx_gain = float(value)

    @property
    def buffer_size(self) -> int:
        return self._buffer_size

    @buffer_size.setter
    def buffer_size(self, value: int) -> None:
        self._buffer_size = int(value)

    # --- I/O ---------------------------------------------------------------------------------
    @abc.abstractmethod
    def tx(self, iq: np.ndarray) -> None:
        """Transmit complex baseband samples."""

    @abc.abstractmethod
    def rx(self, n: int | None = None) -> np.ndarray:
        """Receive ``n`` samples (default: ``buffer_size``). (n,) complex64."""

    def close(self) -> None:
        """Release the device; idempotent."""
        self._closed = True
        if self._recorder is not None:
            self._recorder.close()
            self._recorder = None

    def record_to(self, recorder) -> None:
        """Append everything ``rx`` returns to ``recorder`` (an object with ``write(iq)`` and ``close()``)."""
        self._recorder = recorder

    def _recorded(self, iq: np.ndarray) -> np.ndarray:
        if self._recorder is not None:
            self._recorder.write(iq)
        return iq

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def settings(self) -> dict:
        return {"sample_rate": self.sample_rate, "center_freq": self.center_freq,
                "tx_gain": self.tx_gain, "rx_gain": self.rx_gain, "buffer_size": self.buffer_size}

    def __repr__(self) -> str:
        s = ", ".join(f"{k}={v!r}" for k, v in self.settings().items())
        return f"{type(self).__name__}({s})"
