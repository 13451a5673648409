"""Radio configuration section (``radio:`` in the run YAML)."""
from __future__ import annotations

from dataclasses import dataclass


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
