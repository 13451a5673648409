"""One emulated ADALM-Pluto: the transceiver state, its RX chain, its DMA streams, its registers.

The RX chain turns what the air delivers at the antenna port into ADC words: the receiver's own
DC offset and IQ imbalance (small when the driver's tracking is on, as after the chip's
calibrations), the RX gain (manual, or the AGC updated every ``AGC_INTERVAL_S``), and a 12-bit
ADC that rounds and saturates at -2048..2047. Words go out sign-extended in 16 bits
(``le:S12/16>>0``), I then Q. In digital loopback (debug attribute ``loopback`` = 1) the RX
receives its own DAC words (12 MSBs) with no RF, as the AD9361 BIST loopback does.
"""
from __future__ import annotations

import math
import threading
import time

import numpy as np

from ..channel import iq_coefficients
from .ad9361 import PhyState, agc_step
from .dma import RX_OVERFLOW, TX_UNDERFLOW, RxStream, Segment, TxStream

ADC_FS = 2048.0
DAC_FS = 32768.0
XO_NOMINAL = 40_000_000
AGC_INTERVAL_S = 1e-3
HISTORY_S = 3.0
RX_DEV, TX_DEV = "cf-ad9361-lpc", "cf-ad9361-dds-core-lpc"


class EmulatedPluto:
    """Device ``index`` on ``air``. ``ppm``: crystal error; ``model``: ``ad9363a`` (a stock
    Pluto) or ``ad9364`` (a Pluto switched to AD9364 mode); ``clock()`` gives wall seconds."""

    def __init__(self, index: int, air, *, model: str = "ad9363a", ppm: float = 0.0, serial: str | None = None,
                 clock=time.monotonic, seed: int = 0):
        self.index = int(index)
        self.air = air
        self.clock = clock
        self.ppm = float(ppm)
        self.serial = serial or f"10447354119600{index:02d}0f00e8ff{seed % 65536:04x}"
        self.phy = PhyState(model)
        self.lock = threading.RLock()
        self.rx_stream: RxStream | None = None
        self.tx_stream: TxStream | None = None
        self.owners: dict[str, object] = {}           # data device name -> connection holding it
        self.kernel_buffers = {RX_DEV: 4, TX_DEV: 4}
        self.status = {RX_DEV: 0, TX_DEV: 0}
        self.reg_addr = {name: 0 for name in ("ad9361-phy", RX_DEV, TX_DEV)}
        self.rx_sel = [0, 1]       # enabled scan channels of the open RX buffer (0: I, 1: Q)
        self.tx_sel = [0, 1]
        # DDS tones: TX1_I_F1, TX1_I_F2, TX1_Q_F1, TX1_Q_F2 (frequency Hz, phase mdeg, raw, scale)
        self.dds = [{"frequency": 9_279_985, "phase": 90_000, "raw": 1, "scale": 0.0},
                    {"frequency": 9_279_985, "phase": 90_000, "raw": 1, "scale": 0.0},
                    {"frequency": 9_279_985, "phase": 0, "raw": 1, "scale": 0.0},
                    {"frequency": 9_279_985, "phase": 0, "raw": 1, "scale": 0.0}]
        self.rx_dec8 = False
        self.tx_int8 = False
        self.history: list[Segment] = []
        self.agc_t = None          # last AGC update time when no stream runs
        self.last_rssi_db = 110.0  # dB below full scale at the RX input
        self.counters = {"rx_blocks": 0, "rx_overflows": 0, "rx_lost_samples": 0, "tx_pushes": 0,
                         "tx_underflows": 0}
        rng = np.random.default_rng([seed, index, 0xDC])
        self.rx_dc = complex(rng.normal(0, 0.01), rng.normal(0, 0.01))       # at the ADC, FS units
        self.iq_raw = (float(rng.uniform(0.2, 0.5)), float(rng.uniform(1.0, 3.0)))  # dB, deg
        from .tree import build_devices
        self.devices = build_devices(self)

    # --- clocks and frequencies ---------------------------------------------------------------
    def xo_ratio(self) -> float:
        """Real crystal frequency over the one the driver assumes (``xo_correction``)."""
        return XO_NOMINAL * (1.0 + self.ppm * 1e-6) / self.phy.xo_correction

    def rx_lo_actual(self) -> float:
        return self.phy.rx_lo * self.xo_ratio()

    def tx_lo_actual(self) -> float:
        return self.phy.tx_lo * self.xo_ratio()

    def rx_rate(self) -> float:
        return self.phy.rate // (8 if self.rx_dec8 else 1)

    def tx_rate(self) -> float:
        return self.phy.rate // (8 if self.tx_int8 else 1)

    # --- state changes ------------------------------------------------------------------------
    def change(self, fn) -> None:
        """Apply a setting change at "now": blocks captured so far keep the old settings
        (a retune leaves stale blocks in the queue, as on hardware)."""
        with self.lock:
            now = self.clock()
            if self.rx_stream is not None:
                self.rx_stream.catch_up(now)
            old_rate = self.rx_rate()
            fn()
            if self.rx_stream is not None and self.rx_rate() != old_rate:
                self.rx_stream.retime(now, self.rx_rate())

    def tick(self) -> None:
        """Advance the DMA engines to now (called periodically and before every access)."""
        with self.lock:
            now = self.clock()
            if self.rx_stream is not None:
                self.rx_stream.catch_up(now)
                if self.rx_stream.stalled:
                    self.status[RX_DEV] |= RX_OVERFLOW
            if self.tx_stream is not None and self.tx_stream.starved(now):
                self.status[TX_DEV] |= TX_UNDERFLOW
            self.history = [s for s in self.history if s.t_end > now - HISTORY_S]

    # --- TX side ------------------------------------------------------------------------------
    def dds_active(self) -> bool:
        return self.tx_stream is None and any(d["raw"] and d["scale"] > 0 for d in self.dds)

    def tx_waveform(self, t0: float, n: int, fs: float):
        """What the DAC plays at times ``t0 + i/fs``. (n,) complex64 or None if silent."""
        out = None
        for seg in self.history:
            if seg.fs == fs and seg.t0 < t0 + n / fs and seg.t_end > t0:
                if out is None:
                    out = np.zeros(n, np.complex64)
                seg.add_to(out, t0, fs)
        if self.dds_active() and fs == self.tx_rate():
            t = t0 + np.arange(n) / fs
            tone = np.zeros(n, np.complex128)
            for k, d in enumerate(self.dds):
                if d["raw"] and d["scale"] > 0:
                    v = d["scale"] * np.cos(2 * np.pi * d["frequency"] * t + math.radians(d["phase"] / 1000))
                    tone += v if k < 2 else 1j * v
            out = tone.astype(np.complex64) if out is None else out + tone.astype(np.complex64)
        return out

    def open_tx(self, n: int, sel: list[int], cyclic: bool) -> None:
        self.tx_stream = TxStream(n, self.kernel_buffers[TX_DEV], cyclic)
        self.tx_sel = list(sel)

    def push_tx(self, words: np.ndarray) -> None:
        """words: (n * chans,) int16 interleaved as enabled (I, Q). Caller waited for a free slot."""
        with self.lock:
            now = self.clock()
            if self.rx_stream is not None:
                self.rx_stream.catch_up(now)
            w = words.reshape(-1, len(self.tx_sel)).astype(np.float32)
            w = np.floor(w / 16.0) * np.float32(16.0 / DAC_FS)         # the DAC keeps the 12 MSBs
            wave = np.zeros(w.shape[0], np.complex64)
            for col, ch in enumerate(self.tx_sel):
                if ch == 0:
                    wave.real = w[:, col]
                else:
                    wave.imag = w[:, col]
            seg, under = self.tx_stream.push(wave, self.tx_rate(), now)
            self.history.append(seg)
            self.counters["tx_pushes"] += 1
            if under:
                self.status[TX_DEV] |= TX_UNDERFLOW
                self.counters["tx_underflows"] += 1

    def close_tx(self) -> None:
        with self.lock:
            now = self.clock()
            if self.rx_stream is not None:
                self.rx_stream.catch_up(now)
            if self.tx_stream is not None:
                self.tx_stream.stop(now)
            self.tx_stream = None

    # --- RX side ------------------------------------------------------------------------------
    def open_rx(self, n: int, sel: list[int]) -> None:
        self.rx_sel = list(sel)
        self.rx_stream = RxStream(self.capture, n, self.kernel_buffers[RX_DEV], self.rx_rate(), self.clock())

    def close_rx(self) -> None:
        with self.lock:
            if self.rx_stream is not None:
                self.counters["rx_overflows"] += self.rx_stream.overflows
                self.counters["rx_lost_samples"] += self.rx_stream.lost_samples
            self.rx_stream = None
            self.agc_t = self.clock()

    def _gains(self, x: np.ndarray, fs: float) -> np.ndarray | float:
        """Gain (linear) per sample for block x (RX input); runs the AGC in AGC modes."""
        phy = self.phy
        if phy.gain_mode == "manual":
            return 10.0 ** (phy.rx_gain / 20.0)
        m = max(1, int(fs * AGC_INTERVAL_S))
        n = x.size
        k = n // m
        v = x.view(np.float32)
        if k:
            body = v[:2 * k * m].reshape(k, 2 * m)
            p_in = np.einsum("ij,ij->i", body, body) / m                 # (k,) mean power per interval
            peak = np.abs(body).max(axis=1)                              # (k,)
        else:
            p_in, peak = np.zeros(0), np.zeros(0)
        if k * m < n:
            tail = v[2 * k * m:]
            p_in = np.append(p_in, float(tail @ tail) / (n - k * m))
            peak = np.append(peak, float(np.abs(tail).max()))
        g = np.empty(p_in.size)
        gain = phy.rx_gain
        rng = phy.rx_gain_range
        for i in range(p_in.size):
            g[i] = gain
            lin2 = 10.0 ** (gain / 10.0)
            gain = agc_step(phy.gain_mode, gain, 10 * math.log10(p_in[i] * lin2 + 1e-30),
                            bool(peak[i] * math.sqrt(lin2) >= 0.97), rng)
        phy.rx_gain = gain
        if np.all(g == g[0]):
            return 10.0 ** (g[0] / 20.0)
        return np.repeat((10.0 ** (g / 20.0)).astype(np.float32), m)[:n]

    def capture(self, t0: float, n: int, fs: float) -> np.ndarray:
        """One RX block: (n, chans) int16 ADC words for the samples at ``t0 + i/fs``."""
        phy = self.phy
        if phy.loopback == 1:
            x = self.tx_waveform(t0, n, fs)
            y = np.zeros(n, np.complex64) if x is None else x
        else:
            y = self.air.render(self, t0, n, fs)
            v = y.view(np.float32)
            p = float(v @ v) / max(n, 1)
            self.last_rssi_db = -10 * math.log10(p + 1e-30)
            g = self._gains(y, fs)
            if np.ndim(g):
                y *= g
            else:
                y *= np.float32(g)
            g_db, ph = (0.02, 0.1) if phy.quad_tracking else self.iq_raw
            mu, nu = iq_coefficients(g_db, ph)
            yc = np.conj(y)
            y *= np.complex64(mu)
            yc *= np.complex64(nu)
            y += yc
            y += np.complex64(self.rx_dc * (0.03 if phy.bb_dc_tracking else 1.0))
        v = y.view(np.float32)
        v *= np.float32(ADC_FS)
        np.rint(v, out=v)
        np.clip(v, -2048, 2047, out=v)
        words = v.astype(np.int16).reshape(n, 2)
        self.counters["rx_blocks"] += 1
        return words if self.rx_sel == [0, 1] else np.ascontiguousarray(words[:, self.rx_sel])

    def idle_measure(self) -> None:
        """With no RX buffer open the AGC and RSSI still run: measure a short window at now."""
        with self.lock:
            if self.rx_stream is not None:
                self.rx_stream.catch_up(self.clock())
                return
            now = self.clock()
            fs = self.rx_rate()
            n = 4096
            x = self.air.render(self, now - n / fs, n, fs)
            p = float(np.mean(x.real ** 2 + x.imag ** 2))
            self.last_rssi_db = -10 * math.log10(p + 1e-30)
            if self.phy.gain_mode != "manual":
                steps = 100 if self.agc_t is None else min(100, int((now - self.agc_t) / AGC_INTERVAL_S))
                peak = float(np.max(np.maximum(np.abs(x.real), np.abs(x.imag))))
                for _ in range(max(steps, 0)):
                    lin = 10.0 ** (self.phy.rx_gain / 20.0)
                    self.phy.rx_gain = agc_step(self.phy.gain_mode, self.phy.rx_gain,
                                                10 * math.log10(p * lin * lin + 1e-30), peak * lin >= 0.97,
                                                self.phy.rx_gain_range)
                if steps > 0:
                    self.agc_t = now

    def rssi_text(self) -> str:
        self.idle_measure()
        return f"{math.floor(self.last_rssi_db * 4) / 4:.2f} dB"

    # --- registers (direct_reg_access) ----------------------------------------------------------
    def reg_read(self, devname: str, addr: int) -> int:
        self.tick()
        if addr == 0x80000088 and devname in self.status:
            return self.status[devname]
        if addr == 0x80000000:              # AXI core version register
            return 0x00090162 if devname == TX_DEV else 0x000A0162
        return 0

    def reg_write(self, devname: str, addr: int, value: int) -> None:
        if addr == 0x80000088 and devname in self.status:
            self.status[devname] &= ~value      # write 1 to clear

    def stats(self) -> dict:
        """Counters: RX blocks delivered, overflows and samples lost, TX pushes and underflows."""
        with self.lock:
            out = dict(self.counters)
            if self.rx_stream is not None:
                out["rx_overflows"] += self.rx_stream.overflows
                out["rx_lost_samples"] += self.rx_stream.lost_samples
            return out
