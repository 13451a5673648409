"""The air between emulated Plutos: what each receiver's antenna port sees, in real time.

Every device transmits into one shared medium: the waveform its TX DMA plays (cyclic or a queue
of blocks, see :mod:`.dma`) or its DDS tones, plus the leakage of its TX LO (:func:`lo_leakage_dbc`). A receiver hears
each transmitter through a link: the project's channel model (:mod:`lamsc_sdr.channel`: a
static realization of the configured tapped-delay-line profile, drawn once per link and seed),
a path loss, and the carrier offset between the two LOs as the two crystals really make it
(``f_tx (1 + ppm_tx) - f_rx (1 + ppm_rx)``, corrected by each device's ``xo_correction``). One
device hearing itself shares one crystal, so its CFO is ``tx_lo - rx_lo`` exactly. Thermal
noise is added at the receiver input.

Units: complex baseband in "full scale at 0 dB" units: a TX word of 32767 is amplitude 1 at the
DAC; at the RX input, amplitude 1 reaches ADC full scale (2048 counts) at 0 dB RX gain.
Levels: ``path_loss_db`` from the DAC to the RX input; ``snr_db`` is the SNR at the RX input of
a unit-RMS (0 dBFS) TX waveform at 0 dB TX attenuation, i.e. the noise power is
``10**(-(path_loss_db + snr_db)/10)``.
"""
from __future__ import annotations

import math
import threading

import numpy as np

from ..channel import ChannelConfig, complex_noise, draw_path_gains, get_profile, sinc_interpolator

LO_LEAKAGE_DBC = -50.0          # TX LO leakage relative to a full-scale carrier at 0 dB attenuation ...
LO_LEAKAGE_DBC_40DB = -32.0     # ... and at 40 dB attenuation (the AD9361 data sheet's carrier leakage)


def lo_leakage_dbc(atten_db: float, at_0db: float = LO_LEAKAGE_DBC) -> float:
    """TX LO leakage relative to a full-scale carrier at this attenuation: it does not fall with the
    attenuation as fast as the signal does (+18 dB from 0 to 40 dB attenuation, the data sheet's
    slope); ``at_0db`` is the level at 0 dB attenuation."""
    a = min(max(atten_db, 0.0), 89.75)
    return at_0db + (LO_LEAKAGE_DBC_40DB - LO_LEAKAGE_DBC) * min(a, 40.0) / 40.0
DC_TRACKING_SUPPRESSION_DB = 20.0
ACTIVE_ENSM = ("fdd", "pinctrl", "pinctrl_fdd_indep")   # sleep, wait, alert: TX and RX paths off


class Link:
    """One TX -> RX path: static taps of the configured profile. taps: (L,) complex64."""

    def __init__(self, profile: str, sample_rate: float, rng: np.random.Generator, delay_spread_ns: float):
        prof = get_profile(profile, delay_spread_ns, sample_rate=sample_rate)
        if prof.n_paths == 1 and prof.name == "awgn":
            self.taps = np.ones(1, np.complex64)
        else:
            interp, _ = sinc_interpolator(prof.delays * sample_rate)
            gains = draw_path_gains(prof.powers, sample_rate, rng, 0.0, prof.k_linear)
            self.taps = (gains.static @ interp).astype(np.complex64)

    @property
    def n_taps(self) -> int:
        return int(self.taps.size)


class NoiseTable:
    """White CN(0, 1) noise served from a table of ``2**20`` draws at random offsets and random
    phases: each block costs a copy instead of a fresh Gaussian draw, which keeps the emulator
    real-time at several Msps. Blocks are statistically white; the table repeats (at random
    offsets), which no receiver of this project can exploit."""

    SIZE = 1 << 20

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.table = complex_noise(self.SIZE, 1.0, rng, np.complex64)

    def draw(self, n: int, sigma: float) -> np.ndarray:
        """(n,) complex64 noise of variance ``sigma**2``."""
        out = np.empty(n, np.complex64)
        pos = 0
        while pos < n:
            k = min(n - pos, self.SIZE // 2)
            off = int(self.rng.integers(0, self.SIZE - k + 1))
            rot = np.complex64(sigma * np.exp(2j * np.pi * self.rng.random()))
            np.multiply(self.table[off:off + k], rot, out=out[pos:pos + k])
            pos += k
        return out


class Air:
    """The medium. ``render(rx, t0, n, fs)`` -> (n,) complex64 at ``rx``'s input for the samples at
    times ``t0 + i / fs``. Thread-safe (a lock guards the link cache)."""

    def __init__(self, channel: ChannelConfig | None = None, path_loss_db: float = 50.0, snr_db: float = 60.0,
                 seed: int = 0, lo_leakage: float | None = LO_LEAKAGE_DBC):
        self.channel = channel or ChannelConfig(model="awgn", snr_db=math.inf)
        self.path_loss_db = float(path_loss_db)
        self.snr_db = float(snr_db)
        self.seed = int(seed)
        self.lo_leakage = lo_leakage          # dBc at 0 dB TX attenuation; None: no leakage
        self.devices: list = []
        self._links: dict[tuple[int, int, float], Link] = {}
        self._phasors: dict[tuple[int, float, float], np.ndarray] = {}
        self._lock = threading.Lock()
        self.noise = NoiseTable(np.random.default_rng([self.seed, 0xA1]))

    @property
    def noise_power(self) -> float:
        """Thermal noise at any RX input (FS^2 units at 0 dB gain)."""
        return 10.0 ** (-(self.path_loss_db + self.snr_db) / 10.0)

    def attach(self, dev) -> None:
        self.devices.append(dev)

    def link(self, tx_index: int, rx_index: int, fs: float) -> Link:
        key = (tx_index, rx_index, float(fs))
        with self._lock:
            lk = self._links.get(key)
            if lk is None:
                rng = np.random.default_rng([self.seed, tx_index, rx_index])
                lk = Link(self.channel.model, fs, rng, self.channel.delay_spread_ns)
                self._links[key] = lk
            return lk

    def _phasor(self, n: int, cfo: float, fs: float) -> np.ndarray:
        key = (n, cfo, fs)
        p = self._phasors.get(key)
        if p is None:
            p = np.exp(2j * np.pi * cfo / fs * np.arange(n)).astype(np.complex64)
            with self._lock:
                if len(self._phasors) > 64:
                    self._phasors.clear()
                self._phasors[key] = p
        return p

    def render(self, rx, t0: float, n: int, fs: float) -> np.ndarray:
        """Sum of every transmitter as heard by ``rx`` plus thermal noise. (n,) complex64."""
        acc = self.noise.draw(n, math.sqrt(self.noise_power))
        if rx.phy.rx_lo_powerdown or rx.phy.ensm_mode not in ACTIVE_ENSM:
            return acc
        f_rx = rx.rx_lo_actual()
        half_band = min(fs, rx.phy.rx_bw) / 2
        for tx in self.devices:
            if tx.phy.tx_lo_powerdown or tx.phy.ensm_mode not in ACTIVE_ENSM:
                continue
            cfo = tx.tx_lo_actual() - f_rx
            if abs(cfo) > half_band + tx.phy.tx_bw / 2:
                continue
            lk = self.link(tx.index, rx.index, fs)
            amp = 10.0 ** ((-tx.phy.tx_atten_mdb / 1000.0 - self.path_loss_db) / 20.0)
            lead = lk.n_taps - 1
            src = tx.tx_waveform(t0 - lead / fs, n + lead, fs)        # (n + lead,) or None
            if src is not None and lead:
                src = np.convolve(src, lk.taps, mode="valid").astype(np.complex64, copy=False)
            elif src is not None:
                src *= lk.taps[0]
            leak = 0.0
            if abs(cfo) < half_band and self.lo_leakage is not None:
                leak = 10.0 ** (lo_leakage_dbc(tx.phy.tx_atten_mdb / 1000.0, self.lo_leakage) / 20.0) \
                    * abs(complex(lk.taps.sum()))
                if tx is rx and abs(cfo) < 1e3 and rx.phy.bb_dc_tracking:
                    leak *= 10.0 ** (-DC_TRACKING_SUPPRESSION_DB / 20.0)
            if src is None and not leak:
                continue
            rot = amp * np.exp(2j * np.pi * ((cfo * t0) % 1.0)) if cfo else complex(amp)
            if src is None:
                acc += self._phasor(n, cfo, fs) * np.complex64(rot * leak) if cfo else np.complex64(rot * leak)
                continue
            if leak:
                src += np.complex64(leak)
            if cfo:
                src *= self._phasor(n, cfo, fs)
            src *= np.complex64(rot)
            acc += src
        return acc
