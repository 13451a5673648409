"""A PlutoSDR test double with pyadi-iio's attribute surface, so the real ``pluto`` backend runs in CI.

``FakePluto(uri)`` behaves like ``adi.Pluto(uri)`` where it matters to a driver:

- settings as attributes, with pyadi-iio's and the driver's rules: ``sample_rate`` (< 521 kS/s
  raises ValueError like pyadi-iio; a non-integer or > 61.44 MS/s an OSError(EINVAL) like the
  driver), ``rx_lo``/``tx_lo`` (must be ``int`` -- pyadi-iio raises ``Exception("Value must be an
  int")`` otherwise -- and within the part's range: AD9363 325 MHz..3.8 GHz, AD9364 70 MHz..6 GHz
  (``part="ad9364"``), else OSError(EINVAL)), ``rx_rf_bandwidth``/``tx_rf_bandwidth`` (ints,
  clamped by the driver to 200 kHz..20 MHz on an AD9363, 56 MHz on an AD9364),
  ``gain_control_mode_chan0`` (manual | slow_attack | fast_attack | hybrid),
  ``rx_hardwaregain_chan0`` (-3..71 dB, written only in manual mode as pyadi-iio does; in an AGC
  mode reading it returns the gain the AGC chose), ``tx_hardwaregain_chan0`` (-89.75..0 dB),
  ``rx_buffer_size``, ``tx_cyclic_buffer``, ``rx_enabled_channels``, ``tx_enabled_channels``,
  ``loopback`` (0 off, 1 digital, 2 RF). Unlike the real object, assigning an attribute that the
  driver does not have raises AttributeError (a misspelt attribute silently does nothing on a
  real Pluto; here it fails the test).
- ``ctx``: a look-alike of the ``iio.Context`` (context attributes ``hw_model``, ``hw_serial``,
  ``fw_version``; ``ad9361-phy`` channel attributes ``hardwaregain``, ``hardwaregain_available``,
  ``powerdown`` of the TX LO, the DC/IQ tracking switches; ``cf-ad9361-lpc``'s status register
  0x80000088 through ``reg_read``/``reg_write``), as :class:`~lamsc_sdr.radio.iio_control.IioControl` uses it.
- buffers: ``tx(data)`` converts with ``astype(int16)`` (values beyond +-2^15 wrap, as they do in
  pyadi-iio); a cyclic buffer must be destroyed (``tx_destroy_buffer``) before new data; a
  non-cyclic buffer keeps its first length; ``tx_cyclic_buffer`` cannot change while a buffer
  exists. ``rx()`` returns ``rx_buffer_size`` samples as complex128 raw 12-bit ADC counts
  (-2048..2047, saturating). The kernel keeps ``kernel_buffers`` (4) buffers filled ahead, so
  after a ``tx`` the next reads are *stale* (captured before the transmission) unless
  ``rx_destroy_buffer()`` is called first; a changed ``rx_buffer_size`` takes effect only after
  ``rx_destroy_buffer()``. The double has no clock: ``inject_overflow(lost)`` plays a reader that
  fell behind (the status register's overflow bit is set and the next buffer the kernel fills
  starts ``lost`` samples later).
- RF: the transmitted waveform goes through a shared :class:`Air` (path loss, integer delay,
  thermal noise) and each device's crystal error (``ppm``: carrier offset =
  tx_lo (1 + ppm_tx) - rx_lo (1 + ppm_rx)), then RX gain (manual or a per-buffer AGC loop), DC
  offset, IQ imbalance and the 12-bit ADC. One device alone hears itself (same crystal: no CFO
  if ``tx_lo == rx_lo``); two devices on one Air form a two-device link. A powered-down TX LO
  transmits nothing.
- faults: ``unplug()`` (or ``vanish_after_rx=N``) makes every later access raise
  ``OSError(19, 'No such device')`` as libiio does when the USB device disappears;
  ``fail_errno=110`` (ETIMEDOUT, what libiio raises after its 5 s timeout) or ``104``
  (ECONNRESET) makes the N-th ``rx`` raise that error instead.
"""
from __future__ import annotations

import os

import numpy as np

ADC_FS = 2048.0          # 12-bit ADC, raw counts -2048..2047
DAC_FS = 2.0 ** 15       # int16 DAC words
_GAIN_MODES = ("manual", "slow_attack", "fast_attack", "hybrid")
#: part -> (LO min, LO max, RF bandwidth max) in Hz
PARTS = {"ad9363": (325e6, 3.8e9, 20e6), "ad9364": (70e6, 6e9, 56e6)}
STATUS_REG = 0x80000088


class Air:
    """The medium shared by fake devices. ``path_loss_db``: TX output to RX input; ``noise_dbfs``:
    thermal noise referred to the RX input (dB relative to ADC full scale at 0 dB gain);
    ``delay``: propagation delay in samples."""

    def __init__(self, path_loss_db: float = 30.0, noise_dbfs: float = -100.0, delay: int = 0, seed: int = 0):
        self.path_loss_db = float(path_loss_db)
        self.noise_dbfs = float(noise_dbfs)
        self.delay = int(delay)
        self.rng = np.random.default_rng(seed)
        self.now = 0                       # sample index of "now" on the common timeline
        self.transmissions: list[dict] = []

    def emit(self, dev: "FakePluto", wave: np.ndarray, cyclic: bool) -> None:
        """Schedule a transmission. wave: (n,) complex128 at the DAC output, full scale 1."""
        start = self.now
        if not cyclic:  # non-cyclic pushes play back to back
            for t in self.transmissions:
                if t["dev"] is dev and not t["cyclic"]:
                    start = max(start, t["start"] + t["wave"].size)
        self.transmissions.append({"dev": dev, "wave": wave, "cyclic": cyclic, "start": start, "stop": None})

    def stop(self, dev: "FakePluto") -> None:
        for t in self.transmissions:
            if t["dev"] is dev and t["cyclic"] and t["stop"] is None:
                t["stop"] = self.now
        # forget transmissions that ended long ago
        self.transmissions = [t for t in self.transmissions
                              if t["cyclic"] and t["stop"] is None or self._end(t) > self.now - 10 ** 7]

    @staticmethod
    def _end(t: dict) -> float:
        if t["cyclic"]:
            return float("inf") if t["stop"] is None else t["stop"]
        return t["start"] + t["wave"].size

    def signal(self, rx: "FakePluto", start: int, n: int) -> np.ndarray:
        """What ``rx`` hears on samples [start, start+n) before its gain. (n,) complex128, FS units."""
        out = np.zeros(n, np.complex128)
        idx = np.arange(start, start + n) - self.delay
        for t in self.transmissions:
            dev = t["dev"]
            if rx.loopback == 1 and dev is not rx:
                continue
            if dev.sample_rate != rx.sample_rate or dev._tx_lo_pd:
                continue  # another rate: nothing useful; a powered-down LO: silence
            w, s = t["wave"], t["start"]
            live = (idx >= s) & (idx < self._end(t))
            if not live.any():
                continue
            k = idx[live] - s
            k = np.mod(k, w.size) if t["cyclic"] else k
            seg = w[k]
            if rx.loopback == 1:       # digital loopback: DAC words straight into the RX path
                out[live] += seg
                continue
            f_tx = dev.tx_lo * (1 + dev.ppm * 1e-6)
            f_rx = rx.rx_lo * (1 + rx.ppm * 1e-6)
            cfo = f_tx - f_rx
            if abs(cfo) > rx.sample_rate / 2 or abs(cfo) > rx.rx_rf_bandwidth:
                continue  # outside the receiver's band
            amp = 10 ** ((dev.tx_hardwaregain_chan0 - self.path_loss_db) / 20)
            ph = np.exp(2j * np.pi * cfo * idx[live] / rx.sample_rate)
            out[live] += amp * seg * ph
        if rx.loopback != 1:
            sigma = 10 ** (self.noise_dbfs / 20)
            out += sigma * np.sqrt(0.5) * (self.rng.standard_normal(n) + 1j * self.rng.standard_normal(n))
        return out


class FakePluto:
    """Stand-in for ``adi.Pluto(uri)``. Channel/impairment knobs are constructor keywords:
    ``ppm`` (crystal error), ``dc_offset`` (complex, ADC full-scale units), ``iq_gain_db``,
    ``iq_phase_deg``, ``air`` (shared medium), ``kernel_buffers``, ``vanish_after_rx``."""

    _device_name = "PlutoSDR"
    _ATTRS = {"uri", "sample_rate", "rx_lo", "tx_lo", "rx_rf_bandwidth", "tx_rf_bandwidth",
              "gain_control_mode_chan0", "rx_hardwaregain_chan0", "tx_hardwaregain_chan0",
              "rx_buffer_size", "tx_cyclic_buffer", "rx_enabled_channels", "tx_enabled_channels",
              "loopback", "filter"}

    def __init__(self, uri: str = "double:", *, air: Air | None = None, ppm: float = 0.0, dc_offset: complex = 0j,
                 iq_gain_db: float = 0.0, iq_phase_deg: float = 0.0, kernel_buffers: int = 4,
                 vanish_after_rx: int | None = None, agc_target_dbfs: float = -18.0, part: str = "ad9363",
                 fail_errno: int | None = None, serial: str = "104473dc599300131200270038c87e3a45"):
        if part not in PARTS:
            raise ValueError(f"part must be one of {list(PARTS)}, got {part!r}")
        d = self.__dict__
        d["uri"] = uri
        d["air"] = air if air is not None else Air()
        d["ppm"] = float(ppm)
        d["dc_offset"] = complex(dc_offset)
        d["iq_gain_db"] = float(iq_gain_db)
        d["iq_phase_deg"] = float(iq_phase_deg)
        d["kernel_buffers"] = int(kernel_buffers)
        d["vanish_after_rx"] = vanish_after_rx
        d["agc_target_dbfs"] = float(agc_target_dbfs)
        d["part"] = part
        d["fail_errno"] = fail_errno
        d["_tx_lo_pd"] = False
        d["_status"] = 0
        d["_skip"] = 0                 # samples the next kernel buffer loses (inject_overflow)
        d["_present"] = True
        d["_s"] = {"sample_rate": 30_720_000, "rx_lo": 2_400_000_000, "tx_lo": 2_450_000_000,
                   "rx_rf_bandwidth": 18_000_000, "tx_rf_bandwidth": 18_000_000,
                   "gain_control_mode_chan0": "slow_attack", "rx_hardwaregain_chan0": 30.0,
                   "tx_hardwaregain_chan0": -10.0, "rx_buffer_size": 1024, "tx_cyclic_buffer": False,
                   "rx_enabled_channels": [0], "tx_enabled_channels": [0], "loopback": 0, "filter": ""}
        d["_rxbuf"] = None          # list of pending (stale-or-fresh) raw buffers
        d["_rxbuf_size"] = 0
        d["_txbuf"] = None          # length of the created TX buffer
        d["_txbuf_cyclic"] = False
        d["n_rx_calls"] = 0
        d["n_tx_calls"] = 0
        d["rx_destroy_calls"] = 0
        d["tx_destroy_calls"] = 0
        d["ctx"] = _FakeContext(self, serial)

    # --- attribute surface ------------------------------------------------------------------
    def _check(self) -> None:
        if not self.__dict__["_present"]:
            raise OSError(19, "No such device")

    def __getattr__(self, name):
        s = self.__dict__.get("_s")
        if s is not None and name in s:
            self._check()
            return s[name]
        raise AttributeError(f"'FakePluto' object has no attribute '{name}'")

    def __setattr__(self, name, value):
        if name not in self._ATTRS:
            raise AttributeError(f"PlutoSDR has no attribute '{name}' (a real device would silently ignore it)")
        self._check()
        s = self._s
        if name == "sample_rate":
            if value < 521e3:
                raise ValueError("Error: Does not currently support sample rates below 521e3")
            if value > 61.44e6:
                raise OSError(22, "Invalid argument")
            if isinstance(value, float):     # str(1e6) = "1000000.0": the driver's kstrtoull refuses it
                raise OSError(22, "Invalid argument")
            value = int(value)
        elif name in ("rx_lo", "tx_lo"):
            if not isinstance(value, int):                  # pyadi-iio's _set_iio_attr_int
                raise Exception("Value must be an int")
            lo, hi, _ = PARTS[self.part]
            if not lo <= value <= hi:
                raise OSError(22, "Invalid argument")
        elif name in ("rx_rf_bandwidth", "tx_rf_bandwidth"):
            if not isinstance(value, int):
                raise Exception("Value must be an int")
            value = int(min(max(value, 200_000), PARTS[self.part][2]))   # the driver clamps
        elif name == "gain_control_mode_chan0":
            if value not in _GAIN_MODES:
                raise OSError(22, "Invalid argument")
        elif name == "rx_hardwaregain_chan0":
            if s["gain_control_mode_chan0"] != "manual":
                return  # pyadi-iio writes the gain only in manual mode
            if not -3 <= value <= 71:
                raise OSError(22, "Invalid argument")
            value = float(round(value))
        elif name == "tx_hardwaregain_chan0":
            if not -89.75 <= value <= 0:
                raise OSError(22, "Invalid argument")
            value = round(value * 4) / 4
        elif name == "tx_cyclic_buffer":
            if self._txbuf is not None:
                raise Exception("TX buffer already created, buffer must be "
                                "destroyed then recreated to modify tx_cyclic_buffer")
            value = bool(value)
        elif name == "rx_buffer_size":
            value = int(value)
            if value < 1:
                raise OSError(22, "Invalid argument")
        elif name == "loopback":
            if value not in (0, 1, 2):
                raise OSError(22, "Invalid argument")
        s[name] = value

    # --- faults -----------------------------------------------------------------------------
    def unplug(self) -> None:
        """The device disappears: every later access raises OSError(19)."""
        self.__dict__["_present"] = False

    def inject_overflow(self, lost: int) -> None:
        """A reader that fell behind: the overflow bit is set and the next buffer the kernel
        fills starts ``lost`` samples later."""
        self.__dict__["_status"] |= 0x4
        self.__dict__["_skip"] += int(lost)

    # --- TX ---------------------------------------------------------------------------------
    def tx(self, data_np=None) -> None:
        self._check()
        data = np.asarray(data_np)
        words = np.empty(2 * data.size, np.int16)      # what pyadi-iio does: astype, wrapping
        words[0::2] = np.real(data).astype(np.int16)
        words[1::2] = np.imag(data).astype(np.int16)
        if self._txbuf is not None and self._txbuf_cyclic:
            raise Exception("TX buffer has been submitted in cyclic mode. "
                            "To push more data the tx buffer must be destroyed first.")
        if self._txbuf is None:
            self.__dict__["_txbuf"] = data.size
            self.__dict__["_txbuf_cyclic"] = self._s["tx_cyclic_buffer"]
        if data.size != self._txbuf:
            raise Exception("Buffer length different than data length. Cannot change buffer length on the fly")
        wave = (words[0::2].astype(np.float64) + 1j * words[1::2]) / DAC_FS
        self.air.emit(self, wave, self._txbuf_cyclic)
        self.__dict__["n_tx_calls"] += 1

    def tx_destroy_buffer(self) -> None:
        self.__dict__["tx_destroy_calls"] += 1
        if self._txbuf is not None and self._txbuf_cyclic:
            self.air.stop(self)
        self.__dict__["_txbuf"] = None

    # --- RX ---------------------------------------------------------------------------------
    def rx_destroy_buffer(self) -> None:
        self.__dict__["rx_destroy_calls"] += 1
        self.__dict__["_rxbuf"] = None

    def _capture(self, n: int) -> np.ndarray:
        """Capture n samples at the air's "now" through this RX chain. (n,) complex128 raw counts."""
        air = self.air
        if self._skip:
            air.now += self._skip
            self.__dict__["_skip"] = 0
        x = air.signal(self, air.now, n)
        air.now += n
        s = self._s
        if s["gain_control_mode_chan0"] != "manual":
            # per-buffer AGC: bring the input to the target level (fast: in one step, slow: a third)
            p_in = np.mean(np.abs(x) ** 2) + 1e-30
            want = s["rx_hardwaregain_chan0"] + (self.agc_target_dbfs - 10 * np.log10(p_in)
                                                 - s["rx_hardwaregain_chan0"])
            step = 1.0 if s["gain_control_mode_chan0"] == "fast_attack" else 1 / 3
            g = s["rx_hardwaregain_chan0"] + step * (want - s["rx_hardwaregain_chan0"])
            s["rx_hardwaregain_chan0"] = float(np.clip(round(g), -3, 71))
        gain = 10 ** (s["rx_hardwaregain_chan0"] / 20) if self.loopback != 1 else 1.0
        y = x * gain
        if self.loopback != 1:
            if self.iq_gain_db or self.iq_phase_deg:   # the project's IQ model (channel.impairments)
                from ..channel.impairments import iq_imbalance
                y = iq_imbalance(y, self.iq_gain_db, self.iq_phase_deg)
            y = y + self.dc_offset
        raw = np.clip(np.round(y.real * ADC_FS), -ADC_FS, ADC_FS - 1) \
            + 1j * np.clip(np.round(y.imag * ADC_FS), -ADC_FS, ADC_FS - 1)
        return raw

    def rx(self) -> np.ndarray:
        """One buffer of ``rx_buffer_size`` samples. (n,) complex128 in raw ADC counts."""
        self._check()
        d = self.__dict__
        lim = self.vanish_after_rx
        if lim is not None and self.n_rx_calls >= lim:
            if self.fail_errno is not None:
                raise OSError(self.fail_errno, os.strerror(self.fail_errno))
            d["_present"] = False
            raise OSError(19, "No such device")
        if self._rxbuf is None:
            size = self._s["rx_buffer_size"]
            if size > 2 ** 24:
                raise OSError(12, "Cannot allocate memory")
            d["_rxbuf_size"] = size
            d["_rxbuf"] = [self._capture(size) for _ in range(self.kernel_buffers)]
        out = self._rxbuf.pop(0)
        self._rxbuf.append(self._capture(self._rxbuf_size))
        d["n_rx_calls"] += 1
        return out

    def __repr__(self) -> str:
        s = self._s
        return (f'FakePluto(uri="{self.uri}") sample_rate={s["sample_rate"]} rx_lo={s["rx_lo"]} '
                f'tx_lo={s["tx_lo"]} gain_control_mode_chan0={s["gain_control_mode_chan0"]} '
                f'rx_hardwaregain_chan0={s["rx_hardwaregain_chan0"]} '
                f'tx_hardwaregain_chan0={s["tx_hardwaregain_chan0"]} rx_buffer_size={s["rx_buffer_size"]} '
                f'tx_cyclic_buffer={s["tx_cyclic_buffer"]} ppm={self.ppm}')


# --- the iio.Context look-alike (what IioControl reads and writes) ---------------------------
class _Attr:
    def __init__(self, get, put=None):
        self._get, self._put = get, put

    @property
    def value(self) -> str:
        return self._get()

    @value.setter
    def value(self, v: str) -> None:
        if self._put is None:
            raise OSError(13, "Permission denied")
        self._put(v)


class _Channel:
    def __init__(self, attrs: dict):
        self.attrs = attrs


class _Device:
    def __init__(self, dev: "FakePluto", channels: dict):
        self._dev, self._channels = dev, channels

    def find_channel(self, name, is_output=False):
        self._dev._check()
        return self._channels.get((name, bool(is_output)))

    def reg_read(self, reg: int) -> int:
        self._dev._check()
        return self._dev._status if reg == STATUS_REG else 0

    def reg_write(self, reg: int, value: int) -> None:
        self._dev._check()
        if reg == STATUS_REG:        # write-1-to-clear, as the HDL core's status bits
            self._dev.__dict__["_status"] &= ~int(value)


class _FakeContext:
    def __init__(self, dev: "FakePluto", serial: str):
        part = dev.part.upper()
        self.attrs = {"hw_model": f"Analog Devices PlutoSDR Rev.C (Z7010-{part}A) [double]",
                      "hw_serial": serial, "fw_version": "v0.38", "ad9361-phy,model": f"{dev.part}a"}
        s = dev._s

        def put(name, conv):
            def _put(v):
                try:
                    value = conv(str(v).split()[0])
                except ValueError:
                    raise OSError(22, "Invalid argument") from None
                setattr(dev, name, value)
            return _put

        def pd_put(v):
            dev.__dict__["_tx_lo_pd"] = str(v).strip() not in ("0", "")

        def mode_put(v):
            if str(v).strip() not in _GAIN_MODES:
                raise OSError(22, "Invalid argument")
            dev.gain_control_mode_chan0 = str(v).strip()

        def rx_gain_put(v):
            if s["gain_control_mode_chan0"] != "manual":
                raise OSError(22, "Invalid argument")     # the driver: the AGC owns the gain
            dev.rx_hardwaregain_chan0 = float(str(v).split()[0])

        def shared(name, conv=int):
            return _Attr(lambda: str(s[name]), put(name, conv))

        track = {k: _Attr(lambda: "1") for k in ("quadrature_tracking_en", "rf_dc_offset_tracking_en",
                                                   "bb_dc_offset_tracking_en")}
        phy = {("voltage0", True): _Channel({
                   "hardwaregain": _Attr(lambda: f"{s['tx_hardwaregain_chan0']:.6f} dB", put("tx_hardwaregain_chan0", float)),
                   "hardwaregain_available": _Attr(lambda: "[-89.750000 0.250000 0.000000]"),
                   "sampling_frequency": shared("sample_rate"), "rf_bandwidth": shared("tx_rf_bandwidth")}),
               ("altvoltage0", True): _Channel({"frequency": shared("rx_lo")}),
               ("altvoltage1", True): _Channel({"frequency": shared("tx_lo"),
                                                "powerdown": _Attr(lambda: str(int(dev._tx_lo_pd)), pd_put)}),
               ("voltage0", False): _Channel({
                   "hardwaregain": _Attr(lambda: f"{s['rx_hardwaregain_chan0']:.6f} dB", rx_gain_put),
                   "hardwaregain_available": _Attr(lambda: "[-3 1 71]"),
                   "gain_control_mode": _Attr(lambda: s["gain_control_mode_chan0"], mode_put),
                   "sampling_frequency": shared("sample_rate"), "rf_bandwidth": shared("rx_rf_bandwidth"),
                   **track})}
        self._devices = {"ad9361-phy": _Device(dev, phy), "cf-ad9361-lpc": _Device(dev, {})}
        self._dev = dev

    def find_device(self, name):
        self._dev._check()
        return self._devices.get(name)


# --- "double:" URIs: construct fakes from the command line ---------------------------------
_AIRS: dict[str, Air] = {}


def parse_double_uri(uri: str) -> tuple[str, dict]:
    """``double:NAME?ppm=10&dc=0.01+0.02j&path_loss_db=30&noise_dbfs=-90&air=a`` -> (name, kwargs)."""
    from urllib.parse import parse_qsl
    rest = uri.split(":", 1)[1] if ":" in uri else ""
    name, _, query = rest.partition("?")
    kw: dict = {}
    for k, v in parse_qsl(query):
        if k in ("ppm", "iq_gain_db", "iq_phase_deg", "path_loss_db", "noise_dbfs", "agc_target_dbfs"):
            kw[k] = float(v)
        elif k in ("dc", "dc_offset"):
            kw["dc_offset"] = complex(v.replace(" ", ""))
        elif k in ("delay", "seed", "vanish_after_rx", "kernel_buffers", "fail_errno"):
            kw[k] = int(v)
        elif k == "part":
            kw[k] = v
        elif k in ("air", "absent"):
            kw[k] = v
        else:
            raise ValueError(f"unknown double: URI parameter {k!r}")
    return name or "pluto0", kw


def double_factory(uri: str) -> FakePluto:
    """Build a FakePluto for a ``double:`` URI; fakes naming the same ``air`` share one medium.
    ``double:?absent=1`` behaves like an unreachable device (pyadi-iio's bare Exception)."""
    name, kw = parse_double_uri(uri)
    if kw.pop("absent", None):
        raise Exception("No device found")
    air_name = kw.pop("air", "default")
    air_kw = {k: kw.pop(k) for k in ("path_loss_db", "noise_dbfs", "delay", "seed") if k in kw}
    if air_name not in _AIRS or air_kw:
        _AIRS[air_name] = Air(**air_kw)
    return FakePluto(uri, air=_AIRS[air_name], **kw)
