"""The AD9361-family transceiver as the Linux driver exposes it (``ad9361-phy``), for a Pluto.

:class:`PhyState` holds the settings and validates writes the way the driver does: LO writes are
integers inside the part's range (AD9363A: 325-3800 MHz; AD9364: 70-6000 MHz RX, 46.875-6000 MHz
TX), otherwise EINVAL; ``rf_bandwidth`` is clamped (AD9363A: 0.2-20 MHz; AD9364: RX 0.2-56, TX
0.2-40 MHz); the sample rate must lie in the range the clock chain reaches for the loaded FIR
(``[2083333, 61440000]`` without FIR decimation, down to 520833 with the x4 FIR pyadi-iio loads);
RX gain in whole dB within the gain table of the LO band, written only in ``manual`` mode; TX
attenuation in 0.25 dB steps over 0..89.75 dB. The AGC (``slow_attack``, ``fast_attack``,
``hybrid``) is a per-update-interval loop toward a target window of the ADC power, see
:func:`agc_step`.
"""
from __future__ import annotations

import math
import re

from .iio_model import einval, parse_fixpoint, parse_int

GAIN_MODES = ("manual", "fast_attack", "slow_attack", "hybrid")
RX_PORTS = ("A_BALANCED", "B_BALANCED", "C_BALANCED", "A_N", "A_P", "B_N", "B_P", "C_N", "C_P",
            "TX_MONITOR1", "TX_MONITOR2", "TX_MONITOR1_2")
TX_PORTS = ("A", "B")
MODELS = {
    # model: (rx_lo range, tx_lo range, rx bw max, tx bw max)
    "ad9363a": ((325_000_000, 3_800_000_000), (325_000_000, 3_800_000_000), 20_000_000, 20_000_000),
    "ad9364": ((70_000_000, 6_000_000_000), (46_875_001, 6_000_000_000), 56_000_000, 40_000_000),
}
MIN_RATE_NO_FIR = 2_083_333          # 25 MHz / 12: lowest rate of the clock chain without FIR decimation
MAX_RATE = 61_440_000
BW_MIN = 200_000
#: AGC window on the ADC power (dBFS): below LOW the gain rises, above HIGH it falls.
AGC_LOW_DBFS, AGC_HIGH_DBFS, AGC_OVERLOAD = -16.0, -10.0, 0.97


def gain_range(lo_hz: int) -> tuple[int, int]:
    """RX gain table limits (dB) of the AD9361 full gain table for the LO band."""
    if lo_hz < 1_300_000_000:
        return (-1, 73)
    if lo_hz <= 4_000_000_000:
        return (-3, 71)
    return (-10, 62)


class PhyState:
    """Settings of one ad9361-phy. Setters take the text written to sysfs and raise IioError."""

    def __init__(self, model: str = "ad9363a"):
        if model not in MODELS:
            raise ValueError(f"unknown transceiver model {model!r}; known: {', '.join(MODELS)}")
        self.model = model
        self.rx_lo = 2_400_000_000
        self.tx_lo = 2_450_000_000
        self.rx_lo_powerdown = 0
        self.tx_lo_powerdown = 0
        self.rate = 30_720_000
        self.rx_bw = 18_000_000
        self.tx_bw = 18_000_000
        self.fir_enabled = 1
        self.fir_rx_dec, self.fir_tx_int, self.fir_taps = 2, 2, 128
        self.fir_rx_gain, self.fir_tx_gain = -6, 0
        self.gain_mode = "slow_attack"
        self.rx_gain = 71.0              # dB (in AGC modes: what the AGC chose)
        self.tx_atten_mdb = 10_000       # tx hardwaregain = -attenuation
        self.rx_port, self.tx_port = "A_BALANCED", "A"
        self.quad_tracking = 1
        self.rf_dc_tracking = 1
        self.bb_dc_tracking = 1
        self.ensm_mode = "fdd"
        self.calib_mode = "auto"
        self.rate_governor = "nominal"
        self.xo_correction = 40_000_000
        self.loopback = 0

    # --- ranges -------------------------------------------------------------------------------
    @property
    def rx_lo_range(self) -> tuple[int, int]:
        return MODELS[self.model][0]

    @property
    def tx_lo_range(self) -> tuple[int, int]:
        return MODELS[self.model][1]

    @property
    def rate_range(self) -> tuple[int, int]:
        if self.fir_enabled and self.fir_rx_dec > 1:
            return (math.ceil(MIN_RATE_NO_FIR / self.fir_rx_dec),
                    MAX_RATE if self.fir_rx_dec <= 2 else MAX_RATE // 2)
        return (MIN_RATE_NO_FIR, MAX_RATE)

    @property
    def rx_bw_max(self) -> int:
        return MODELS[self.model][2]

    @property
    def tx_bw_max(self) -> int:
        return MODELS[self.model][3]

    @property
    def rx_gain_range(self) -> tuple[int, int]:
        return gain_range(self.rx_lo)

    # --- setters (sysfs text in) --------------------------------------------------------------
    def set_lo(self, which: str, text: str) -> None:
        f = parse_int(text, f"{which}_LO frequency")
        lo, hi = self.rx_lo_range if which == "RX" else self.tx_lo_range
        if not lo <= f <= hi:
            raise einval(f"{which}_LO {f} Hz outside {lo}..{hi} Hz ({self.model})")
        if which == "RX":
            self.rx_lo = f
            g0, g1 = self.rx_gain_range
            self.rx_gain = float(min(max(self.rx_gain, g0), g1))
        else:
            self.tx_lo = f

    def set_rate(self, text: str) -> None:
        f = int(parse_fixpoint(text, "sampling_frequency"))
        lo, hi = self.rate_range
        if not lo <= f <= hi:
            raise einval(f"sampling_frequency {f} outside {lo}..{hi} (FIR {'on' if self.fir_enabled else 'off'})")
        self.rate = f

    def set_bw(self, which: str, text: str) -> None:
        f = int(parse_fixpoint(text, "rf_bandwidth"))
        hi = MODELS[self.model][2 if which == "RX" else 3]
        f = min(max(f, BW_MIN), hi)          # the driver clamps, it does not fail
        if which == "RX":
            self.rx_bw = f
        else:
            self.tx_bw = f

    def set_rx_gain(self, text: str) -> None:
        if self.gain_mode != "manual":
            raise einval(f"hardwaregain is set by the AGC in {self.gain_mode} mode")
        g = parse_fixpoint(text, "hardwaregain")
        g = float(math.trunc(g))             # the driver keeps the integer part (1 dB table steps)
        g0, g1 = self.rx_gain_range
        if not g0 <= g <= g1:
            raise einval(f"RX gain {g} dB outside {g0}..{g1} dB at {self.rx_lo} Hz")
        self.rx_gain = g

    def set_tx_gain(self, text: str) -> None:
        g = parse_fixpoint(text, "hardwaregain")
        if not -89.75 <= g <= 0:
            raise einval(f"TX hardwaregain {g} dB outside -89.75..0 dB")
        mdb = int(round(-g * 1000))
        self.tx_atten_mdb = (mdb // 250) * 250

    def set_gain_mode(self, text: str) -> None:
        m = text.strip().rstrip("\x00").strip()
        if m not in GAIN_MODES:
            raise einval(f"gain_control_mode {m!r} not one of {' '.join(GAIN_MODES)}")
        self.gain_mode = m

    def set_choice(self, attr: str, choices, text: str) -> None:
        v = text.strip().rstrip("\x00").strip()
        if v not in choices:
            raise einval(f"{attr} {v!r} not one of {' '.join(choices)}")
        setattr(self, attr, v)

    def set_fir_config(self, text: str) -> None:
        """Parse an AD9361 FIR file: ``RX 3 GAIN -6 DEC 4`` / ``TX 3 GAIN 0 INT 4`` headers and
        ``rx,tx`` coefficient lines (or a single column used for both)."""
        rx_dec = tx_int = 1
        rx_gain = tx_gain = 0
        taps = 0
        for raw in text.replace("\r", "").replace("\x00", "").split("\n"):
            line = raw.split("#")[0].strip()
            if not line:
                continue
            up = line.upper()
            if up.startswith("RX") or up.startswith("TX"):
                m = re.match(r"(RX|TX)\s+(\d+)\s+GAIN\s+(-?\d+)\s+(DEC|INT)\s+(\d+)", up)
                if not m:
                    raise einval(f"filter_fir_config: bad header {line!r}")
                if m.group(1) == "RX":
                    rx_gain, rx_dec = int(m.group(3)), int(m.group(5))
                else:
                    tx_gain, tx_int = int(m.group(3)), int(m.group(5))
            elif up.startswith(("BWRX", "BWTX", "RTX", "RRX")):
                continue
            else:
                try:
                    [int(v) for v in line.split(",")]
                except ValueError:
                    raise einval(f"filter_fir_config: bad coefficient line {line!r}") from None
                taps += 1
        if rx_dec not in (1, 2, 4) or tx_int not in (1, 2, 4):
            raise einval("filter_fir_config: decimation/interpolation must be 1, 2 or 4")
        if taps == 0 or taps > 128 or taps % 16:
            raise einval(f"filter_fir_config: {taps} taps (must be a multiple of 16, at most 128)")
        self.fir_rx_dec, self.fir_tx_int, self.fir_taps = rx_dec, tx_int, taps
        self.fir_rx_gain, self.fir_tx_gain = rx_gain, tx_gain

    def set_fir_enable(self, text: str) -> None:
        en = 1 if parse_int(text, "filter_fir_en") else 0
        if not en and self.rate < MIN_RATE_NO_FIR:
            raise einval(f"cannot disable the FIR at {self.rate} S/s (the clock chain needs its decimation)")
        if en and self.fir_rx_dec > 2 and self.rate > MAX_RATE // 2:
            raise einval(f"FIR decimation {self.fir_rx_dec} cannot run at {self.rate} S/s")
        self.fir_enabled = en

    # --- getters (sysfs text out) -------------------------------------------------------------
    def fir_config_text(self) -> str:
        return f"FIR Rx: {self.fir_taps},{self.fir_rx_dec} Tx: {self.fir_taps},{self.fir_tx_int}"

    def path_rates(self, tx: bool) -> str:
        """``rx_path_rates`` / ``tx_path_rates`` of the clock chain (pyadi-iio parses fields 1 and 5)."""
        fir = (self.fir_tx_int if tx else self.fir_rx_dec) if self.fir_enabled else 1
        r = self.rate
        mult = 8 if r * fir * 8 <= 640_000_000 else 4
        adc = r * fir * mult
        bbpll = adc
        while bbpll < 715_000_000:
            bbpll *= 2
        if tx:
            dac = adc // 2
            return f"BBPLL:{bbpll} DAC:{dac} T2:{dac // 2} T1:{dac // 4} TF:{dac // 4} TXSAMP:{r}"
        return f"BBPLL:{bbpll} ADC:{adc} R2:{adc // 2} R1:{adc // 4} RF:{adc // 8} RXSAMP:{r}"

    @staticmethod
    def db(v: float) -> str:
        return f"{v:.6f} dB"


def agc_step(mode: str, gain: float, power_dbfs: float, overload: bool, g_range: tuple[int, int]) -> float:
    """One AGC update. ``power_dbfs``: mean ADC power over the update interval; ``overload``:
    a sample reached the ADC rails. slow_attack / hybrid: -3 dB on overload, -2/-1 dB above the
    window, +1/+2 dB below it; fast_attack: jumps to the window's centre when too strong,
    recovers +3 dB per interval when too weak. Returns the new gain (whole dB, clamped)."""
    centre = (AGC_LOW_DBFS + AGC_HIGH_DBFS) / 2
    if mode == "fast_attack":
        if overload:
            g = gain - max(6.0, power_dbfs - centre)
        elif power_dbfs > AGC_HIGH_DBFS:
            g = gain - (power_dbfs - centre)
        elif power_dbfs < AGC_LOW_DBFS:
            g = gain + min(3.0, centre - power_dbfs)
        else:
            g = gain
    else:
        if overload:
            g = gain - 3
        elif power_dbfs > AGC_HIGH_DBFS + 4:
            g = gain - 2
        elif power_dbfs > AGC_HIGH_DBFS:
            g = gain - 1
        elif power_dbfs < AGC_LOW_DBFS - 6:
            g = gain + 2
        elif power_dbfs < AGC_LOW_DBFS:
            g = gain + 1
        else:
            g = gain
    return float(min(max(round(g), g_range[0]), g_range[1]))
