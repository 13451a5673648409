"""Radio calibration: CFO (ppm), TX/RX gains for a target SNR without clipping, DC offset, IQ imbalance.

``calibrate(radio)`` measures through any Radio (it only uses ``tx``/``rx``), returns a
:class:`Calibration`; ``save_calibration`` writes ``calibration/<device>.yaml``; receivers load it
(``radio.calibration: PATH`` or ``--calibration``) and :class:`CalibratedRadio` applies
:func:`correct` to every received buffer (the raw samples are what gets recorded).

Models (those of ``lamsc_sdr.channel.impairments``, in the channel's order): received
``y = IQ(x e^{j 2 pi f n / fs}) + dc + w`` with ``IQ(x) = mu x + nu conj(x)`` (I branch ideal, Q
branch gain ``g`` and phase ``phi``). Estimators:

- DC: mean of a received zero-mean tone probe (idle receivers may not show the DC).
- CFO: the tone probe has period P; ``f = fs angle(sum r[n+L] conj r[n]) / (2 pi L)`` at L = P (coarse,
  unambiguous within +-fs/(2P)) refined at L = 32 P.
- IQ: from a circular Gaussian probe (a proper signal, peaks limited to 3x RMS), with the noise power removed:
  ``g^2 = (E[yQ^2] - N/2) / (E[yI^2] - N/2)``, ``sin(phi) = -E[yI yQ] / sqrt(...)``.
- SNR: (probe power - noise power) / noise power; clipping: samples within 1% of full scale.

What a calibration belongs to (hardware backends):

- CFO belongs to a TX/RX *pair*: the file is named after both (``pluto-<tx uri>-to-<rx uri>``)
  and carries ``tx_uri``/``rx_uri``. One Pluto transmitting to itself shares one crystal: the
  measured CFO is ~0 by construction and says nothing about another device, so ``cfo_ppm`` is
  null and ``shared_crystal: true`` says why (calibrate two devices for a link's CFO).
- The CFO correction scales with the centre frequency (a crystal error is a fraction, ppm) and
  uses the radio's current sample rate: :class:`CalibratedRadio` rescales when either changes.
- DC offset and IQ imbalance are measured *after* the AD9361's own RF/BB DC and quadrature
  tracking (``tracking`` records which were on): they are residuals, not the raw chip errors.
- Gains are searched within the limits the device reports (``hardwaregain_available``,
  ``gain_limits``), not constants.
"""
from __future__ import annotations

import datetime as _dt
import logging
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import yaml

from . import __version__
from .config_base import from_mapping, read_yaml_mapping
from .errors import ConfigError
from .provenance import atomic_write_text
from .radio.base import Radio

log = logging.getLogger(__name__)
CAL_SCHEMA_VERSION = 1
PROBE_PERIOD = 8


@dataclass(frozen=True)
class Calibration:
    """What ``lamsc calibrate`` measured for one device (all fields in the YAML file)."""

    schema_version: int = CAL_SCHEMA_VERSION
    device: str = "unknown"
    backend: str = ""
    uri: str | None = None
    center_freq: float = 0.0
    sample_rate: float = 1e6
    cfo_hz: float = 0.0
    cfo_ppm: float | None = 0.0         # None: one device to itself (shared crystal), no ppm to report
    tx_gain: float | None = None
    rx_gain: float | None = None
    target_snr_db: float = 25.0
    snr_db: float = 0.0
    noise_power: float = 0.0
    clipping: float = 0.0               # fraction of probe samples within 1% of full scale
    dc_offset: list = field(default_factory=lambda: [0.0, 0.0])   # [re, im]
    iq_gain_db: float = 0.0
    iq_phase_deg: float = 0.0
    created: str = ""
    lamsc_version: str = __version__
    notes: str = ""
    tx_uri: str | None = None
    rx_uri: str | None = None
    shared_crystal: bool = False        # TX and RX are one device: CFO ~0 by construction
    tracking: dict | None = None        # the chip's own DC/IQ tracking while measuring
    gain_limits: dict | None = None     # {"rx": [min, step, max], "tx": [...]} from the device

    @property
    def dc(self) -> complex:
        return complex(self.dc_offset[0], self.dc_offset[1])

    def to_dict(self) -> dict:
        return asdict(self)


def pair_uris(radio: Radio) -> tuple[str | None, str | None]:
    """(TX URI, RX URI) of a radio (the same URI twice for one device)."""
    tx = getattr(radio, "uri", None)
    return tx, getattr(radio, "rx_uri", None) or tx


def device_name(radio: Radio) -> str:
    """A file-name-safe name of the TX/RX pair: ``pluto-usb_1.2.5-to-usb_1.2.7``,
    ``pluto-usb_1.2.5-to-self`` (one device), ``sim``, ``gnuradio``."""
    tx, rx = pair_uris(radio)
    if not tx:
        name = radio.backend
    else:
        name = f"{radio.backend}-{tx}-to-{'self' if rx == tx else rx}"
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")


def load_calibration(path: str | Path) -> Calibration:
    """Read ``calibration/<device>.yaml``; bad keys raise ConfigError naming key and file."""
    data = read_yaml_mapping(path, "calibration file")
    if data.get("schema_version", CAL_SCHEMA_VERSION) != CAL_SCHEMA_VERSION:
        raise ConfigError(f"calibration key 'schema_version' in {path}: expected {CAL_SCHEMA_VERSION}")
    return from_mapping(Calibration, data, path=str(path))


def save_calibration(cal: Calibration, path: str | Path) -> Path:
    path = Path(path)
    atomic_write_text(path, "# written by `lamsc calibrate`; loaded by receivers via radio.calibration\n"
                      + yaml.safe_dump(cal.to_dict(), sort_keys=False))
    return path


# --- pure estimators --------------------------------------------------------------------------
def cfo_at(cal: Calibration, center_freq: float | None = None) -> float:
    """The CFO (Hz) to correct at ``center_freq``: the crystal error (ppm) scales with it."""
    if center_freq is None or not cal.cfo_ppm or not cal.center_freq or center_freq == cal.center_freq:
        return float(cal.cfo_hz)
    return float(cal.cfo_ppm) * 1e-6 * float(center_freq)


def correct(iq: np.ndarray, cal: Calibration, start: int = 0, sample_rate: float | None = None,
            center_freq: float | None = None) -> np.ndarray:
    """Undo DC, IQ imbalance and CFO (in that order). iq: (n,) complex; ``start``: absolute index
    of iq[0] in the stream (keeps the CFO phase continuous); ``sample_rate``/``center_freq``: the
    radio's current ones (default: the calibration's), the CFO is rescaled to them.
    Output: (n,) complex64."""
    from .channel.impairments import iq_coefficients
    y = np.asarray(iq, dtype=np.complex128) - cal.dc
    if cal.iq_gain_db or cal.iq_phase_deg:
        mu, nu = iq_coefficients(cal.iq_gain_db, cal.iq_phase_deg)
        y = (np.conj(mu) * y - nu * np.conj(y)) / (abs(mu) ** 2 - abs(nu) ** 2)
    cfo = cfo_at(cal, center_freq)
    if cfo:
        n = np.arange(start, start + y.size, dtype=np.float64)
        y = y * np.exp(-2j * np.pi * cfo / float(sample_rate or cal.sample_rate) * n)
    return y.astype(np.complex64)


def estimate_cfo(y: np.ndarray, period: int, sample_rate: float, fine_factor: int = 32) -> float:
    """CFO in Hz of a received periodic probe (period ``period``). y: (n,) complex, n >> period."""
    def lag_phase(lag):
        return np.angle(np.vdot(y[:-lag], y[lag:]))
    coarse = lag_phase(period) / (2 * np.pi * period) * sample_rate
    lf = period * fine_factor
    if y.size < 4 * lf:
        return float(coarse)
    amb = sample_rate / lf
    fine = lag_phase(lf) / (2 * np.pi * lf) * sample_rate
    k = np.round((coarse - fine) / amb)
    return float(fine + k * amb)


def estimate_iq(y: np.ndarray, noise_power: float) -> tuple[float, float]:
    """(gain_db, phase_deg) of receive IQ imbalance from a proper signal. y: (n,) complex, DC removed."""
    ii = np.mean(y.real ** 2) - noise_power / 2
    qq = np.mean(y.imag ** 2) - noise_power / 2
    iq = np.mean(y.real * y.imag)
    if ii <= 0 or qq <= 0:
        return 0.0, 0.0
    gain_db = 10 * math.log10(qq / ii)
    s = float(np.clip(-iq / math.sqrt(ii * qq), -1, 1))
    return float(gain_db), float(math.degrees(math.asin(s)))


def _signal_span(y: np.ndarray, frac: float = 0.25) -> np.ndarray:
    """The part of a capture where the probe is on (power above ``frac`` of the peak, smoothed)."""
    p = np.convolve(np.abs(y) ** 2, np.ones(64) / 64, mode="same")
    on = np.flatnonzero(p > frac * p.max())
    if on.size == 0:
        return y
    a, b = on[0] + 64, on[-1] - 64
    return y[a:b] if b - a > 256 else y[on[0]:on[-1] + 1]


# --- the measurement --------------------------------------------------------------------------
def _capture(radio: Radio, probe: np.ndarray | None, n: int) -> np.ndarray:
    if probe is None:
        stop = getattr(radio, "stop_tx", None)
        if stop is not None:
            stop()
    else:
        radio.tx(probe)
    return radio.rx(n)


def measure(radio: Radio, rng: np.random.Generator, n: int = 2 ** 14) -> dict:
    """One round of measurements at the radio's current gains (see module docstring)."""
    noise = _capture(radio, None, n)
    noise_power = float(np.var(noise))
    # a tone at fs/PROBE_PERIOD: periodic (for the CFO) and exactly zero-mean (so the mean is the DC)
    probe_p = np.exp(2j * np.pi * np.arange(n) / PROBE_PERIOD).astype(np.complex64)
    y = _signal_span(_capture(radio, probe_p, n + n // 2))
    dc = complex(np.mean(y))
    y = y - dc
    cfo = estimate_cfo(y, PROBE_PERIOD, radio.sample_rate)
    m = 4 * n                                   # a longer proper (circular Gaussian) probe for IQ/SNR
    probe_g = ((rng.standard_normal(m) + 1j * rng.standard_normal(m)) / np.sqrt(2)).astype(np.complex64)
    probe_g /= np.float32(max(1.0, np.abs(probe_g.real).max(), np.abs(probe_g.imag).max()) / 3.0)
    raw = _capture(radio, probe_g, m + n // 2)
    z = _signal_span(raw - dc)
    p_sig = float(np.mean(np.abs(z) ** 2))
    gain_db, phase_deg = estimate_iq(z, noise_power)
    fs = float(max(np.abs(raw.real).max(), np.abs(raw.imag).max()))
    hw = radio.backend in ("pluto", "gnuradio-pluto")   # only hardware has a full scale to clip at
    clip = float(np.mean((np.abs(raw.real) > 0.99) | (np.abs(raw.imag) > 0.99))) if hw else 0.0
    # SNR of a unit-power transmission (the probe's own power is divided out)
    snr = 10 * math.log10(max(p_sig - noise_power, 1e-30) / max(noise_power, 1e-30)
                          / float(np.mean(np.abs(probe_g) ** 2)))
    stop = getattr(radio, "stop_tx", None)
    if stop is not None:
        stop()
    return {"dc": dc, "noise_power": noise_power, "cfo_hz": cfo, "snr_db": snr, "iq_gain_db": gain_db,
            "iq_phase_deg": phase_deg, "clipping": clip, "peak": fs}


def calibrate(radio: Radio, target_snr_db: float = 25.0, rng: np.random.Generator | None = None,
              n: int = 2 ** 14, max_rounds: int = 8, tune_gains: bool | None = None) -> Calibration:
    """Measure ``radio`` and pick gains: SNR >= target with no clipping (peak < -1 dBFS) where the
    hardware allows it. Gains are tuned only for hardware backends (``pluto``, ``gnuradio-pluto``)
    unless ``tune_gains`` says otherwise; simulated backends report what they measure."""
    rng = rng or np.random.default_rng(0)
    hw = radio.backend in ("pluto", "gnuradio-pluto")
    tune = hw if tune_gains is None else tune_gains
    limits = radio.gain_range()
    rx_min, _, rx_max = limits["rx"]
    _, tx_step, tx_max = limits["tx"]
    m = measure(radio, rng, n)
    for _ in range(max_rounds if tune else 0):
        if m["clipping"] > 0 or m["peak"] > 0.9:
            radio.rx_gain = max(rx_min, radio.rx_gain - 6.0)
        elif m["snr_db"] < target_snr_db:
            deficit = target_snr_db - m["snr_db"] + 2.0
            headroom = -20 * math.log10(max(m["peak"], 1e-6)) - 3.0     # dB before clipping
            if radio.tx_gain < tx_max:
                step = min(deficit, max(headroom, 1.0))
                radio.tx_gain = min(tx_max, round((radio.tx_gain + step) / tx_step) * tx_step)
            elif headroom > 1 and radio.rx_gain < rx_max:
                radio.rx_gain = min(rx_max, float(round(radio.rx_gain + min(deficit, headroom))))
            else:
                break
        else:
            break
        m = measure(radio, rng, n)
    fc = float(radio.center_freq)
    tx_uri, rx_uri = pair_uris(radio)
    shared = hw and tx_uri == rx_uri
    tracking = radio.tracking()
    notes = []
    if radio.backend in ("sim", "gnuradio"):
        notes.append("simulated backend")
    if shared:
        notes.append("one device transmitting to itself: TX and RX share one crystal, so the measured CFO "
                     "(~0 Hz) says nothing about the CFO to another device and no ppm is reported; "
                     "calibrate a TX/RX pair of devices for a link")
    if tracking:
        on = [k for k, v in tracking.items() if v]
        notes.append("DC and IQ measured with the chip's own tracking on (" + (", ".join(on) or "none")
                     + "): they are the residuals after the AD9361's corrections")
    ppm = None if shared else (round(m["cfo_hz"] / fc * 1e6, 6) if fc else 0.0)
    return Calibration(
        device=device_name(radio), backend=radio.backend, uri=tx_uri, center_freq=fc,
        sample_rate=float(radio.sample_rate), cfo_hz=round(m["cfo_hz"], 3), cfo_ppm=ppm,
        tx_gain=float(radio.tx_gain), rx_gain=float(radio.rx_gain), target_snr_db=float(target_snr_db),
        snr_db=round(m["snr_db"], 3), noise_power=m["noise_power"], clipping=m["clipping"],
        dc_offset=[round(m["dc"].real, 6), round(m["dc"].imag, 6)], iq_gain_db=round(m["iq_gain_db"], 4),
        iq_phase_deg=round(m["iq_phase_deg"], 4),
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), notes="; ".join(notes),
        tx_uri=tx_uri, rx_uri=rx_uri, shared_crystal=bool(shared), tracking=tracking,
        gain_limits={k: [float(x) for x in v] for k, v in limits.items()} if hw else None)


class CalibratedRadio(Radio):
    """A radio whose received samples are corrected with a :class:`Calibration` (gains applied at
    construction). Records the raw samples; everything else is delegated to the inner radio."""

    def __init__(self, inner: Radio, cal: Calibration):
        self.inner = inner
        self.calibration = cal
        self.backend = inner.backend
        self._closed = False
        self._recorder = None
        self._pos = 0
        if cal.tx_gain is not None and inner.backend in ("pluto", "gnuradio-pluto"):
            inner.tx_gain = cal.tx_gain
        if cal.rx_gain is not None and inner.backend in ("pluto", "gnuradio-pluto"):
            inner.rx_gain = cal.rx_gain

    def __getattr__(self, name):
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    for _p in ("sample_rate", "center_freq", "tx_gain", "rx_gain", "buffer_size"):
        locals()[_p] = property(lambda self, _p=_p: getattr(self.inner, _p),
                                lambda self, v, _p=_p: setattr(self.inner, _p, v))
    del _p

    def tx(self, iq):
        self.inner.tx(iq)

    def rx(self, n=None):
        y = self.inner.rx(n)
        out = correct(y, self.calibration, self._pos, self.inner.sample_rate, self.inner.center_freq)
        self._pos += y.size
        return out

    def record_to(self, recorder) -> None:
        self.inner.record_to(recorder)

    def discard_stale(self) -> None:
        self.inner.discard_stale()

    def hardware(self) -> dict:
        return self.inner.hardware()

    def readback(self) -> dict:
        return self.inner.readback()

    def gain_range(self) -> dict:
        return self.inner.gain_range()

    def tracking(self) -> dict | None:
        return self.inner.tracking()

    def stop_tx(self) -> None:
        stop = getattr(self.inner, "stop_tx", None)
        if stop is not None:
            stop()

    def close(self) -> None:
        self.inner.close()
        self._closed = True

    def settings(self) -> dict:
        d = self.inner.settings()
        d["calibration"] = self.calibration.device
        return d

    def __repr__(self) -> str:
        return f"Calibrated({self.inner!r}, cfo_hz={self.calibration.cfo_hz})"
