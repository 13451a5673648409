"""What both Pluto backends (``pluto`` over pyadi-iio, ``gnuradio-pluto`` over gr-iio) share.

- **One TX scale.** pyadi-iio sends the int16 words it is given; by its convention a full-scale
  waveform peaks at +-2^14 (:data:`TX_PEAK`). gr-iio's ``fmcomms2_sink_fc32`` maps float 1.0 to
  32768, i.e. to 2^15: the same float waveform is 6 dB louder through gr-iio. :func:`scale_tx`
  puts unit-average-power baseband ``tx_backoff_db`` below a peak of ``full_scale`` so that both
  backends emit identical DAC words: ``full_scale = TX_PEAK`` words for pyadi-iio,
  ``TX_PEAK / 32768 = 0.5`` for gr-iio.
- **Control attributes** the drivers lack or get wrong, written straight through libiio on
  ``ad9361-phy`` (:class:`IioControl`): every write that the device refuses raises (gr-iio
  3.10.5.1 only logs a warning), the TX LO power-down and maximum attenuation that make a Pluto
  silent, the gain ranges (``hardwaregain_available``), the chip's DC/IQ tracking switches, the
  context's identity (model, serial, firmware) and the RX overflow flag that gr-iio polls
  (``direct_reg_access`` register 0x80000088, bit 2; bit 0 is TX underflow).
- **Errors.** libiio reports a silent peer as ``ETIMEDOUT`` after its 5 s default timeout and a
  dropped connection as ``ECONNRESET``/``EPIPE``; :func:`device_error` turns them into
  :class:`~lamsc_sdr.errors.RadioNotFoundError` naming the URI, the operation and the cause.
"""
from __future__ import annotations

import errno
import logging
import re

import numpy as np

from ..errors import ConfigError, RadioError, RadioNotFoundError

log = logging.getLogger(__name__)

TX_PEAK = 2.0 ** 14               # pyadi-iio's full-scale peak in DAC words
GR_IIO_ONE = 32768.0              # gr-iio: float 1.0 -> this many DAC words
STATUS_REG = 0x80000088           # axi-ad9361 status register (direct_reg_access)
RX_OVERFLOW = 0x4
TX_UNDERFLOW = 0x1
TX_ATTEN_MAX_DB = -89.75          # most TX attenuation the AD9361 has (hardwaregain, dB)
LIBIIO_TIMEOUT_S = 5.0            # libiio's default network timeout
_LOST = {errno.ENODEV, errno.EPIPE, errno.ECONNRESET, errno.ECONNREFUSED, errno.ECONNABORTED,
         errno.ENOTCONN, errno.EIO, errno.EBADF, errno.ENXIO}


def scale_tx(iq: np.ndarray, backoff_db: float, full_scale: float) -> tuple[np.ndarray, int, float]:
    """Unit-power baseband -> DAC units, RMS ``backoff_db`` below ``full_scale`` per component.

    iq: (n,) complex. Returns (y (n,) complex128 clipped to +-full_scale per component,
    number of clipped samples, peak before clipping relative to full_scale).
    """
    y = np.asarray(iq, dtype=np.complex128) * (full_scale * 10 ** (-backoff_db / 20))
    peak = float(max(np.abs(y.real).max(initial=0), np.abs(y.imag).max(initial=0)) / full_scale)
    over = (np.abs(y.real) > full_scale) | (np.abs(y.imag) > full_scale)
    n_clip = int(over.sum())
    if n_clip:
        y = np.clip(y.real, -full_scale, full_scale) + 1j * np.clip(y.imag, -full_scale, full_scale)
    return y, n_clip, peak


def device_error(uri: str | None, what: str, err: BaseException, elapsed_s: float = 0.0) -> RadioError:
    """The project's error for a driver failure during ``what`` (``__cause__`` is set by the caller).
    ``elapsed_s``: how long the failing call took (libiio 0.24 closes the connection after its 5 s
    timeout and reports the next read as EPIPE: a broken pipe after ~5 s is that timeout)."""
    code = getattr(err, "errno", None)
    if code == errno.ETIMEDOUT or (code in (errno.EPIPE, errno.ECONNRESET) and elapsed_s >= 0.9 * LIBIIO_TIMEOUT_S):
        return RadioNotFoundError(f"PlutoSDR at {uri!r} did not answer within libiio's "
                                  f"{LIBIIO_TIMEOUT_S:g} s timeout during {what} (ETIMEDOUT: {err})")
    if code in (errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED):
        return RadioNotFoundError(f"PlutoSDR at {uri!r}: the connection was reset during {what} ({err})")
    if code in _LOST:
        return RadioNotFoundError(f"PlutoSDR at {uri!r} stopped responding during {what}: {err}")
    return RadioError(f"PlutoSDR at {uri!r} failed during {what}: {err}")


def _range(text: str) -> tuple[float, float, float]:
    """``"[-3 1 71]"`` -> (min, step, max)."""
    nums = [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?", text)]
    if len(nums) != 3:
        raise ValueError(f"not an IIO range: {text!r}")
    return nums[0], nums[1], nums[2]


class IioControl:
    """Direct libiio access to a Pluto's ``ad9361-phy`` and ``cf-ad9361-lpc``.

    ``ctx``: an ``iio.Context`` (pyadi-iio's ``dev.ctx``, a context of our own for gr-iio, or the
    test double's look-alike). Every method raises a RadioError (or ConfigError for a value the
    driver refuses with EINVAL) naming the URI and the attribute; nothing is only logged.
    """

    def __init__(self, ctx, uri: str | None):
        self.ctx = ctx
        self.uri = uri
        try:
            self.phy = ctx.find_device("ad9361-phy")
            self.rxadc = ctx.find_device("cf-ad9361-lpc")
        except Exception as err:
            raise device_error(uri, "opening ad9361-phy", err) from err
        if self.phy is None or self.rxadc is None:
            raise RadioNotFoundError(f"the IIO context at {uri!r} is not a PlutoSDR (no ad9361-phy/cf-ad9361-lpc)")

    @classmethod
    def open(cls, uri: str) -> "IioControl":
        """A context of our own on ``uri`` (what gr-iio does not expose)."""
        try:
            import iio
            ctx = iio.Context(uri)
        except Exception as err:
            raise RadioNotFoundError(f"cannot reach a PlutoSDR at {uri!r}: {err}") from err
        return cls(ctx, uri)

    def _attr(self, chan: str, output: bool, attr: str):
        ch = self.phy.find_channel(chan, output)
        if ch is None or attr not in ch.attrs:
            raise RadioError(f"PlutoSDR at {self.uri!r} has no attribute {'out' if output else 'in'}_{chan}_{attr}")
        return ch.attrs[attr]

    def write(self, chan: str, output: bool, attr: str, value) -> None:
        """Write one channel attribute of ad9361-phy; a refusal raises (never only logged)."""
        name = f"{'out' if output else 'in'}_{chan}_{attr}"
        try:
            self._attr(chan, output, attr).value = str(value)
        except RadioError:
            raise
        except OSError as err:
            if err.errno == errno.EINVAL:
                raise ConfigError(f"PlutoSDR at {self.uri!r} refused {name}={value!r} (EINVAL): {err}") from err
            raise device_error(self.uri, f"writing {name}", err) from err

    def read(self, chan: str, output: bool, attr: str) -> str:
        name = f"{'out' if output else 'in'}_{chan}_{attr}"
        try:
            return self._attr(chan, output, attr).value
        except RadioError:
            raise
        except OSError as err:
            raise device_error(self.uri, f"reading {name}", err) from err

    def read_float(self, chan: str, output: bool, attr: str) -> float:
        return float(self.read(chan, output, attr).split()[0])

    # --- identity, ranges, tracking ---------------------------------------------------------
    def hw_info(self) -> dict:
        """Model, serial and firmware from the context attributes (missing ones are omitted)."""
        a = dict(getattr(self.ctx, "attrs", {}) or {})
        out = {"model": a.get("hw_model"), "serial": a.get("hw_serial") or a.get("serial"),
               "firmware": a.get("fw_version"), "part": a.get("ad9361-phy,model")}
        return {k: v for k, v in out.items() if v}

    def gain_range(self, output: bool) -> tuple[float, float, float]:
        """(min, step, max) of ``hardwaregain`` in dB: RX gain, or TX gain (<= 0: attenuation)."""
        return _range(self.read("voltage0", output, "hardwaregain_available"))

    def tracking(self) -> dict:
        """The AD9361's own RX corrections: quadrature (IQ), RF DC and baseband DC tracking."""
        out = {}
        for key, attr in (("quadrature", "quadrature_tracking_en"), ("rf_dc", "rf_dc_offset_tracking_en"),
                          ("bb_dc", "bb_dc_offset_tracking_en")):
            try:
                out[key] = self.read("voltage0", False, attr).strip() == "1"
            except RadioError:
                out[key] = None
        return out

    # --- TX power ---------------------------------------------------------------------------
    def tx_off(self) -> None:
        """Make the transmitter silent: maximum attenuation, TX LO powered down."""
        self.write("voltage0", True, "hardwaregain", f"{TX_ATTEN_MAX_DB:.6f}")
        self.write("altvoltage1", True, "powerdown", 1)

    def tx_lo_on(self) -> None:
        self.write("altvoltage1", True, "powerdown", 0)

    # --- RX overflow ------------------------------------------------------------------------
    def clear_status(self) -> None:
        try:
            self.rxadc.reg_write(STATUS_REG, RX_OVERFLOW | TX_UNDERFLOW | 0x2)
        except OSError as err:
            raise device_error(self.uri, "clearing the status register", err) from err

    def overflowed(self) -> bool:
        """True (and the flag cleared) if the RX DMA lost samples since the last call."""
        try:
            status = self.rxadc.reg_read(STATUS_REG)
            if status & RX_OVERFLOW:
                self.rxadc.reg_write(STATUS_REG, RX_OVERFLOW)
                return True
        except OSError as err:
            raise device_error(self.uri, "reading the overflow status", err) from err
        return False
