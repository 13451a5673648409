"""Radio configuration section (``radio:`` in the run YAML)."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError

BACKENDS = ("sim", "gnuradio", "pluto", "gnuradio-pluto", "replay", "sigmf-file")


@dataclass(frozen=True)
class RadioConfig:
    backend: str = "sim"                 # sim | gnuradio | pluto | gnuradio-pluto | replay | sigmf-file
    uri: str | None = None               # e.g. ip:127.0.0.1 or usb:1.2.5; never scanned implicitly
    center_freq: float = 2.4e9
    rf_bandwidth: float = 1.5e6
    tx_gain: float = -10.0
    rx_gain: float = 40.0
    gain_control_mode: str = "manual"
    buffer_size: int = 65536
    calibration: str | None = None       # path to calibration/<device>.yaml
    rx_uri: str | None = None            # second Pluto receiving (two-device link in one process)
    tx_backoff_db: float = 12.0          # Pluto: TX RMS this far below the +-2^14 DAC peak (OFDM PAPR)
    tx_cyclic: bool = True               # Pluto: repeat the TX waveform until replaced or closed
    loopback: int = 0                    # Pluto AD9361 loopback: 0 off, 1 digital, 2 RF
    clock_ppm: float = 0.0               # gnuradio: TX/RX sample-clock offset (timing drift)
    rx_chunk: int = 16384                # samples per rx() call when streaming into the receiver

    def __post_init__(self):
        if self.backend not in BACKENDS:
            raise ConfigError(f"radio.backend: {self.backend!r} is not one of {list(BACKENDS)}")
        if self.gain_control_mode not in ("manual", "slow_attack", "fast_attack", "hybrid"):
            raise ConfigError(f"radio.gain_control_mode: {self.gain_control_mode!r} is not one of "
                              "manual, slow_attack, fast_attack, hybrid")
        if not (1 <= self.buffer_size <= 2 ** 24 and 1 <= self.rx_chunk <= 2 ** 24):
            raise ConfigError(f"radio.buffer_size/rx_chunk: must be in [1, 2**24], got {self.buffer_size}/{self.rx_chunk}")
        if self.loopback not in (0, 1, 2):
            raise ConfigError(f"radio.loopback: must be 0, 1 or 2, got {self.loopback}")
        for name in ("tx_gain", "rx_gain", "tx_backoff_db"):      # dB: a typo must not overflow 10**(x/20)
            if not -200.0 <= getattr(self, name) <= 200.0:
                raise ConfigError(f"radio.{name}: must be in [-200, 200] dB, got {getattr(self, name)}")
