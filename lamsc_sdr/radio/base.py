"""The one radio interface: simulated, GNU Radio, PlutoSDR (pyadi-iio), SigMF replay and file.

Settings are properties (as in pyadi-iio); ``tx(iq)`` sends complex baseband, ``rx(n)`` returns
the next ``n`` received samples; ``close()`` releases the device. Radios are context managers.
Every backend can record what it receives to SigMF (``record_to``). A backend that loses samples
(a receive overflow) calls ``_mark_gap(k)`` for the k-th sample of the chunk it is about to return:
``overflows`` counts them, ``gaps`` keeps their stream indices and the recording gets a new SigMF
capture segment there, so a recording is never silently spliced.
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
        self._delivered = 0            # samples rx() returned so far (the stream index)
        self._pending_gaps: list[tuple[int, int | None, str]] = []
        self.overflows = 0             # receive overflows (sample losses) seen so far
        self.gaps: list[int] = []      # stream indices of the first sample after each loss

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

    def discard_stale(self) -> None:
        """The next ``rx`` returns no sample buffered before this call: another radio has just
        transmitted (e.g. a :class:`~lamsc_sdr.radio.broadcast.RadioGroup`'s transmitter), so what
        this receiver queued before is stale. Backends that queue samples ahead override it."""

    def close(self) -> None:
        """Release the device; idempotent."""
        self._closed = True
        if self._recorder is not None:
            self._recorder.close()
            self._recorder = None

    def record_to(self, recorder) -> None:
        """Append everything ``rx`` returns to ``recorder`` (an object with ``write(iq)`` and ``close()``)."""
        self._recorder = recorder

    def _mark_gap(self, offset: int, lost: int | None = None, reason: str = "overflow") -> None:
        """Samples were lost before sample ``offset`` of the chunk ``rx`` returns next
        (``reason``: "overflow" -- counted in ``overflows`` -- or e.g. "restart" after a retune)."""
        if "overflow" in reason:
            self.overflows += 1
        self._pending_gaps.append((int(offset), lost, reason))

    def _recorded(self, iq: np.ndarray) -> np.ndarray:
        """Every backend's ``rx`` returns through here: gap bookkeeping, then the recording."""
        rec = self._recorder
        base = getattr(rec, "n_samples", 0) if rec is not None else 0
        for off, lost, reason in self._pending_gaps:
            self.gaps.append(self._delivered + off)
            if rec is not None and hasattr(rec, "mark_gap"):
                rec.mark_gap(base + off, lost=lost, reason=reason)
        self._pending_gaps = []
        if rec is not None:
            rec.write(iq)
        self._delivered += int(np.asarray(iq).size)
        return iq

    # --- what a recording says about the device ------------------------------------------
    def hardware(self) -> dict:
        """The device's identity for ``core:hw`` (hardware backends read it from the device)."""
        return {"model": f"{self.backend} radio"}

    def readback(self) -> dict:
        """Sample rate and centre frequency as the device reports them (not as requested)."""
        return {"sample_rate": float(self.sample_rate), "center_freq": float(self.center_freq)}

    def gain_range(self) -> dict:
        """Gain limits in dB: ``{"rx": (min, step, max), "tx": (min, step, max)}`` (from the device
        where there is one)."""
        return {"rx": (-3.0, 1.0, 71.0), "tx": (-89.75, 0.25, 0.0)}

    def tracking(self) -> dict | None:
        """The receiver's own DC/IQ corrections while it measures (None: no such hardware)."""
        return None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._aborting = exc[0] is not None      # an exception or Ctrl-C: stop now, do not drain TX
        self.close()
        return False

    def _drain_tx(self) -> None:
        """Before stopping a non-cyclic transmission: wait until its queued samples have played
        (``_tx_until``, monotonic seconds), unless the radio is closing on an exception."""
        until = getattr(self, "_tx_until", 0.0)
        if not getattr(self, "_aborting", False) and until > 0:
            import time
            time.sleep(max(0.0, until - time.monotonic()))
        self._tx_until = 0.0

    def settings(self) -> dict:
        return {"sample_rate": self.sample_rate, "center_freq": self.center_freq,
                "tx_gain": self.tx_gain, "rx_gain": self.rx_gain, "buffer_size": self.buffer_size}

    def __repr__(self) -> str:
        s = ", ".join(f"{k}={v!r}" for k, v in self.settings().items())
        return f"{type(self).__name__}({s})"


def recording_fields(radio: Radio, simulated: bool = False) -> tuple[float, float, dict]:
    """(sample rate, centre frequency, hardware mapping) for a SigMF recording of ``radio``'s
    receive stream: rate and frequency as the device reports them, the device's identity."""
    rb = radio.readback()
    hw = dict(radio.hardware())
    if simulated:
        hw["model"] = f"{hw.get('model', radio.backend)} (simulated)"
    return float(rb["sample_rate"]), float(rb["center_freq"]), hw
