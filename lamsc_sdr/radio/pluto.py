"""``pluto`` backend: an ADALM-PlutoSDR through pyadi-iio (``adi.Pluto(uri)``).

- Always an explicit URI (``ip:...``, ``usb:...``): pyadi-iio scans the network without one.
  ``double:...`` URIs use the in-process test double (:mod:`.pluto_double`), so this code runs
  unchanged in CI. Every failure to reach a device becomes :class:`RadioNotFoundError` naming the
  URI, with pyadi-iio's bare ``Exception("No device found")`` kept as ``__cause__``.
- TX: unit-average-power baseband is scaled so its RMS sits ``tx_backoff_db`` below the +-2^14
  DAC peak pyadi-iio expects (:func:`~.iio_control.scale_tx`, the same words ``gnuradio-pluto``
  sends); samples beyond +-2^14 are clipped (never wrapped by ``astype``), counted in
  ``tx_clipped`` and logged. ``tx_cyclic=True`` repeats the waveform until the next ``tx`` or
  ``close`` (a cyclic buffer is destroyed before each new waveform, as libiio requires). TX
  settings (LO, bandwidth, attenuation) are written only to a device that transmits, at its
  first ``tx``: a receive-only device's transmitter is never touched.
- RX: ``rx(n)`` returns n samples normalized to ADC full scale (raw counts / 2048) as complex64;
  the first read after a ``tx`` or a settings change destroys the kernel buffers so the capture
  is fresh (stale samples from before the transmission are discarded). Samples at the ADC rails
  are counted in ``rx_saturated``. After every buffer the RX DMA's overflow flag (status register
  0x80000088, the one gr-iio polls) is read and cleared: a loss is counted in ``overflows``, its
  stream index kept in ``gaps``, and a recording gets a new SigMF capture segment there. The
  flag says samples were lost since the last buffer; with the kernel's queued buffers the hole
  can lie up to ``kernel buffers - 1`` buffers after the mark.
- ``stop_tx()``, ``close()`` (also on Ctrl-C via the context manager, and at interpreter exit)
  destroy the buffers and leave the transmitter silent: TX attenuation at the maximum (89.75 dB)
  and the TX LO powered down (a destroyed buffer alone can leave the DAC's last words or the
  LO leaking on the air).
- Driver failures become the project's errors with the cause kept: an unreachable device,
  libiio's ETIMEDOUT (5 s) and a reset connection -> RadioNotFoundError naming URI and
  operation; a value the driver refuses -> ConfigError.
- One device transmits to itself (``uri`` only; cable or antennas, or ``loopback=1`` for the
  AD9361's digital loopback) or two devices form a link (``rx_uri`` for the receiver).
"""
from __future__ import annotations

import atexit
import logging
import time
import weakref

import numpy as np

from ..errors import ConfigError, RadioError, RadioNotFoundError, ShapeError
from .base import Radio
from .iio_control import TX_PEAK, IioControl, device_error, scale_tx

log = logging.getLogger(__name__)

__all__ = ["PlutoRadio", "TX_PEAK", "connect", "default_factory"]
ADC_FS = 2048.0           # 12-bit ADC
_OPEN: "weakref.WeakSet[PlutoRadio]" = weakref.WeakSet()


def _close_all() -> None:  # interpreter exit: never leave a Pluto transmitting
    for r in list(_OPEN):
        try:
            r.close()
        except Exception:  # pragma: no cover
            pass


atexit.register(_close_all)


def default_factory(uri: str):
    """``adi.Pluto(uri)`` or, for ``double:`` URIs, the in-process test double."""
    if uri.startswith("double:"):
        from .pluto_double import double_factory
        return double_factory(uri)
    try:
        import adi
    except ImportError as err:
        raise RadioNotFoundError(f"cannot open PlutoSDR at {uri!r}: pyadi-iio is not installed "
                                 f"(pip install 'lamsc_sdr[radio]')") from err
    return adi.Pluto(uri)


def connect(uri: str | None, factory=None):
    """Open the device at ``uri``; any driver failure -> RadioNotFoundError naming the URI."""
    if not uri:
        raise RadioNotFoundError("the pluto backend needs an explicit URI (--uri usb:1.2.5 or ip:<address>); "
                                 "lamsc never lets pyadi-iio scan the network")
    factory = factory or default_factory
    try:
        return factory(uri)
    except RadioNotFoundError:
        raise
    except Exception as err:  # pyadi-iio raises bare Exception("No device found"); libiio OSError
        raise RadioNotFoundError(f"cannot reach a PlutoSDR at {uri!r}: {err}") from err


class PlutoRadio(Radio):
    """PlutoSDR radio (see module docstring).

    ``tx(iq)``: iq (n,) complex, unit average power. ``rx(n)``: (n,) complex64, full scale 1.
    """

    backend = "pluto"

    def __init__(self, uri: str | None, *, rx_uri: str | None = None, sample_rate: float = 1e6,
                 center_freq: float = 2.4e9, rf_bandwidth: float = 1.5e6, tx_gain: float = -10.0,
                 rx_gain: float = 40.0, gain_control_mode: str = "manual", buffer_size: int = 2 ** 16,
                 tx_backoff_db: float = 12.0, tx_cyclic: bool = True, loopback: int = 0,
                 device_factory=None):
        super().__init__(sample_rate, center_freq, tx_gain, rx_gain, buffer_size)
        self.uri = uri
        self.rx_uri = rx_uri
        self.rf_bandwidth = float(rf_bandwidth)
        self.gain_control_mode = gain_control_mode
        self.tx_backoff_db = float(tx_backoff_db)
        self.tx_cyclic = bool(tx_cyclic)
        self.loopback = int(loopback)
        self.tx_clipped = 0              # TX samples clipped so far
        self.rx_saturated = 0            # RX samples at the ADC rails so far
        self.last_tx_peak = 0.0          # peak |I|,|Q| of the last tx relative to +-2^14
        self._fresh = True
        self._tx_configured = False      # TX settings written (only once this radio transmits)
        self._tx_live = False            # a waveform is on the air
        self._tx_len = None              # length of the TX buffer pyadi-iio holds
        self._leftover = np.zeros(0, np.complex64)
        self._ctl: dict[int, IioControl | None] = {}
        self._tx_dev = connect(uri, device_factory)
        self._rx_dev = connect(rx_uri, device_factory) if rx_uri else self._tx_dev
        _OPEN.add(self)
        try:
            self._configure()
        except BaseException:
            self.close()
            raise

    # --- device plumbing --------------------------------------------------------------------
    def _devices(self):
        return [self._tx_dev] if self._rx_dev is self._tx_dev else [self._tx_dev, self._rx_dev]

    def _uri_of(self, dev) -> str | None:
        return self.rx_uri if (dev is self._rx_dev and self.rx_uri) else self.uri

    def _control(self, dev) -> IioControl | None:
        """libiio access to the device's ad9361-phy (pyadi-iio's ``ctx``); None without one."""
        key = id(dev)
        if key not in self._ctl:
            ctx = getattr(dev, "ctx", None)
            self._ctl[key] = IioControl(ctx, self._uri_of(dev)) if ctx is not None else None
        return self._ctl[key]

    def _set(self, dev, name: str, value) -> None:
        try:
            setattr(dev, name, value)
        except AttributeError:
            raise
        except OSError as err:
            if err.errno == 22:
                raise ConfigError(f"PlutoSDR at {self._uri_of(dev)!r} refused {name}={value!r} "
                                  f"(EINVAL: out of range for this device?)") from err
            raise device_error(self._uri_of(dev), f"setting {name}", err) from err
        except Exception as err:  # pyadi-iio: ValueError (rate < 521e3), bare Exception (not an int)
            raise ConfigError(f"PlutoSDR {name}={value!r}: {err}") from err

    def _configure(self) -> None:
        """RX settings on every device (sample rate is shared by RX and TX of a device)."""
        if self.sample_rate < 521e3:
            raise ConfigError(f"radio sample rate {self.sample_rate:g} S/s: the PlutoSDR needs >= 521e3")
        for dev in self._devices():
            self._set(dev, "sample_rate", int(round(self.sample_rate)))
        dev = self._rx_dev
        self._set(dev, "rx_rf_bandwidth", int(round(self.rf_bandwidth)))
        self._set(dev, "rx_lo", int(round(self.center_freq)))
        self._set(dev, "gain_control_mode_chan0", self.gain_control_mode)
        if self.gain_control_mode == "manual":
            self._set(dev, "rx_hardwaregain_chan0", float(self.rx_gain))
        self._set(dev, "rx_buffer_size", int(self.buffer_size))
        if self.loopback:
            self._set(dev, "loopback", self.loopback)
        if self._tx_configured:
            self._configure_tx()
        self._fresh = True

    def _configure_tx(self) -> None:
        dev = self._tx_dev
        self._set(dev, "tx_rf_bandwidth", int(round(self.rf_bandwidth)))
        self._set(dev, "tx_lo", int(round(self.center_freq)))
        self._set(dev, "tx_hardwaregain_chan0", float(self.tx_gain))
        ctl = self._control(dev)
        if ctl is not None:
            ctl.tx_lo_on()
        self._tx_configured = True

    def _resettle(self) -> None:
        """After a settings change: the next capture must not return stale samples."""
        if not self._closed:
            self._configure()

    # settings write through to the device
    @Radio.sample_rate.setter
    def sample_rate(self, value):
        self._sample_rate = float(value)
        if hasattr(self, "_tx_dev"):
            self._resettle()

    @Radio.center_freq.setter
    def center_freq(self, value):
        self._center_freq = float(value)
        if hasattr(self, "_tx_dev"):
            self._resettle()

    @Radio.tx_gain.setter
    def tx_gain(self, value):
        self._tx_gain = float(value)
        if getattr(self, "_tx_configured", False) and self._tx_live:
            self._set(self._tx_dev, "tx_hardwaregain_chan0", float(value))

    @property
    def rx_gain(self) -> float:
        """The RX gain in dB (in an AGC mode: what the AGC chose last)."""
        if hasattr(self, "_rx_dev") and not self._closed and self.gain_control_mode != "manual":
            try:
                return float(self._rx_dev.rx_hardwaregain_chan0)
            except Exception:
                pass
        return self._rx_gain

    @rx_gain.setter
    def rx_gain(self, value):
        self._rx_gain = float(value)
        if hasattr(self, "_rx_dev"):
            self._set(self._rx_dev, "rx_hardwaregain_chan0", float(value))
            self._fresh = True

    @Radio.buffer_size.setter
    def buffer_size(self, value):
        self._buffer_size = int(value)
        self._fresh = True

    # --- what the device says ---------------------------------------------------------------
    def hardware(self) -> dict:
        ctl = self._control(self._rx_dev)
        info = ctl.hw_info() if ctl is not None else {}
        info.setdefault("model", "PlutoSDR")
        info["uri"] = self._uri_of(self._rx_dev)
        return info

    def readback(self) -> dict:
        dev = self._rx_dev
        try:
            return {"sample_rate": float(dev.sample_rate), "center_freq": float(dev.rx_lo)}
        except Exception as err:
            raise device_error(self._uri_of(dev), "reading back sample_rate/rx_lo", err) from err

    def gain_range(self) -> dict:
        out = super().gain_range()
        rx_ctl, tx_ctl = self._control(self._rx_dev), self._control(self._tx_dev)
        if rx_ctl is not None:
            out["rx"] = rx_ctl.gain_range(False)
        if tx_ctl is not None:
            out["tx"] = tx_ctl.gain_range(True)
        return out

    def tracking(self) -> dict | None:
        ctl = self._control(self._rx_dev)
        return ctl.tracking() if ctl is not None else None

    # --- I/O ---------------------------------------------------------------------------------
    def scale_tx(self, iq: np.ndarray) -> tuple[np.ndarray, int]:
        """Unit-power baseband -> DAC words (complex, +-2^14 peak). Output: ((n,) complex128, n_clipped)."""
        y, n_clip, self.last_tx_peak = scale_tx(iq, self.tx_backoff_db, TX_PEAK)
        return y, n_clip

    def tx(self, iq: np.ndarray) -> None:
        """Transmit iq (n,) complex at unit average power (cyclic: repeated until replaced/closed).
        Returns once the buffer is pushed to the device."""
        if self._closed:
            raise RadioError("pluto radio is closed")
        x = np.asarray(iq)
        if x.ndim != 1 or x.size == 0:
            raise ShapeError(f"tx expects (n,) samples with n > 0, got shape {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ShapeError("tx samples hold NaN/Inf")
        y, n_clip = self.scale_tx(x)
        if n_clip:
            self.tx_clipped += n_clip
            log.warning("PlutoSDR TX: %d of %d samples clipped at +-2^14 (peak %.2f x); raise tx_backoff_db",
                        n_clip, x.size, self.last_tx_peak)
        dev = self._tx_dev
        if not self._tx_live:
            self._configure_tx()         # first transmission, or after stop_tx silenced the device
        try:
            if self.tx_cyclic or self._tx_len not in (None, y.size):
                self._drain_tx()         # a non-cyclic buffer of another length: let it play out
                dev.tx_destroy_buffer()  # a cyclic buffer must go before new data; resets the length too
            if dev.tx_cyclic_buffer != self.tx_cyclic:
                dev.tx_cyclic_buffer = self.tx_cyclic
            dev.tx(y)
            self._tx_len = y.size
        except Exception as err:
            raise device_error(self.uri, "tx", err) from err
        if not self.tx_cyclic:           # non-cyclic pushes play back to back
            self._tx_until = max(getattr(self, "_tx_until", 0.0), time.monotonic()) + y.size / self.sample_rate
        self._tx_live = True
        self._fresh = True

    def _silence(self, dev) -> None:
        """Destroy the TX buffer, then maximum attenuation and TX LO power-down."""
        self._drain_tx()
        dev.tx_destroy_buffer()
        self._tx_len = None
        ctl = self._control(dev)
        if ctl is not None:
            ctl.tx_off()
        else:
            dev.tx_hardwaregain_chan0 = -89.75

    def discard_stale(self) -> None:
        """The next capture starts fresh (the kernel's queued buffers are dropped), as after our own tx."""
        self._fresh = True

    def stop_tx(self) -> None:
        """Stop transmitting and leave the transmitter silent (see module docstring)."""
        if self._tx_configured:
            try:
                self._silence(self._tx_dev)
            except RadioError:
                raise
            except Exception as err:
                raise device_error(self.uri, "stopping tx", err) from err
        self._tx_live = False
        self._fresh = True

    def rx(self, n: int | None = None) -> np.ndarray:
        """n samples (default buffer_size), normalized to ADC full scale. (n,) complex64."""
        if self._closed:
            raise RadioError("pluto radio is closed")
        n = int(self.buffer_size if n is None else n)
        dev = self._rx_dev
        uri = self._uri_of(dev)
        ctl = self._control(dev)
        parts = []
        have = 0
        t_call = time.monotonic()
        if self._fresh:
            self._leftover = np.zeros(0, np.complex64)
            if self._delivered:          # a fresh capture after earlier ones: the stream jumps here
                self._mark_gap(0, reason="restart")
        elif self._leftover.size:
            parts.append(self._leftover)
            have = self._leftover.size
        try:
            if self._fresh:
                dev.rx_destroy_buffer()
                if dev.rx_buffer_size != self.buffer_size:
                    dev.rx_buffer_size = self.buffer_size
                if ctl is not None:
                    ctl.clear_status()   # losses before this capture are not this capture's
                self._fresh = False
            while have < n:
                t_call = time.monotonic()
                raw = np.asarray(dev.rx())
                if ctl is not None and ctl.overflowed():
                    self._mark_gap(have)
                    log.warning("PlutoSDR RX overflow at %s: samples lost before stream index %d "
                                "(read faster, or a lower sample rate)", uri, self._delivered + have)
                sat = int(np.count_nonzero((np.abs(raw.real) >= ADC_FS - 1) | (np.abs(raw.imag) >= ADC_FS - 1)))
                if sat:
                    self.rx_saturated += sat
                    log.warning("PlutoSDR RX: %d samples at the ADC rails (saturation); lower rx_gain", sat)
                y = (raw / ADC_FS).astype(np.complex64)
                parts.append(y)
                have += y.size
        except Exception as err:
            if parts:  # keep what arrived: recorded captures stay valid up to here
                self._pending_gaps = [g for g in self._pending_gaps if g[0] < have]
                self._recorded(np.concatenate(parts))
            self._leftover = np.zeros(0, np.complex64)
            if isinstance(err, RadioError):
                raise
            raise device_error(uri, "rx", err, time.monotonic() - t_call) from err
        out = np.concatenate(parts) if len(parts) > 1 else parts[0]
        # gaps beyond n belong to the leftover: keep them for the next call
        later = [(off - n, lost, why) for off, lost, why in self._pending_gaps if off >= n]
        self._pending_gaps = [g for g in self._pending_gaps if g[0] < n]
        self._leftover = out[n:]
        out = self._recorded(out[:n])
        self._pending_gaps = later
        return out

    def close(self) -> None:
        """Silence the transmitter and destroy all buffers (best effort if the device is gone); idempotent."""
        if self._closed:
            return
        devs = self._devices() if hasattr(self, "_tx_dev") else []
        for dev in devs:
            steps = [("rx_destroy_buffer", dev.rx_destroy_buffer)]
            if dev is self._tx_dev and self._tx_configured:
                steps.insert(0, ("silencing tx", lambda d=dev: self._silence(d)))
            for what, fn in steps:
                try:
                    fn()
                except Exception as err:  # a vanished device: nothing left to stop
                    log.debug("PlutoSDR %s on close: %s", what, err)
        _OPEN.discard(self)
        super().close()

    def settings(self) -> dict:
        d = {"uri": self.uri}
        if self.rx_uri:
            d["rx_uri"] = self.rx_uri
        d.update(super().settings())
        d.update(rf_bandwidth=self.rf_bandwidth, gain_control_mode=self.gain_control_mode,
                 tx_backoff_db=self.tx_backoff_db, tx_cyclic=self.tx_cyclic)
        return d
