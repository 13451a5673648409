"""Frame configuration section (``frame:`` in the run YAML)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .grid import ResourceGrid
from .pilots import PilotPattern


@dataclass(frozen=True)
class PilotConfig:
    kind: Literal["block", "comb", "scattered"] = "scattered"
    time_spacing: int = 1
    freq_spacing: int = 6
    shift: int = 3
    offset: int = 0


@dataclass(frozen=True)
class FrameConfig:
    """OFDM frame: numerology, pilots, header and payload options."""

    fft_size: int = 64
    cp_len: int = 16
    n_symbols: int = 8            # OFDM symbols per slot (the CGE's grid height)
    guard_left: int = 6
    guard_right: int = 5
    dc_null: bool = True
    sample_rate: float = 1e6
    pilots: PilotConfig = field(default_factory=PilotConfig)
    max_slots: int = 16           # slots per frame at most; longer payloads are segmented
    gap_samples: int = 400        # zeros between bursts (real radios need spacing)
    payload_modulation: Literal["analog", "bpsk", "qpsk", "16qam", "64qam"] = "analog"
    payload_code_rate: Literal["1/2", "2/3", "3/4", "1"] = "1/2"
    # Schmidl-Cox metric |P| / mean energy (about snr/(1+snr) per sample on the STF, ~1/sqrt(2N)
    # on noise); 0.3 detects reliably down to ~0 dB Es/N0 and the LTF check removes the rest.
    detection_threshold: float = 0.3
    sync_threshold: float = 0.15          # normalized LTF cross-correlation needed to accept a detection
    max_cfo_subcarriers: float = 4.0      # |CFO| searched, in subcarrier spacings (62.5 kHz at 1 Msps/64)
    timing_backoff: int = 4               # FFT windows start this early into the CP (at most cp_len // 2)

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        self.grid  # noqa: B018 -- builds and validates the grid
        self.pilot_pattern  # noqa: B018
        from ..errors import ConfigError
        if not 1 <= self.max_slots <= 4096:
            raise ConfigError(f"frame.max_slots: must be in [1, 4096], got {self.max_slots}")
        if not 0 <= self.gap_samples <= 10_000_000:
            raise ConfigError(f"frame.gap_samples: must be in [0, 1e7], got {self.gap_samples}")
        if not 0 < self.detection_threshold < 1:
            raise ConfigError(f"frame.detection_threshold: must be in (0, 1), got {self.detection_threshold}")
        if not 0 < self.sync_threshold < 1:
            raise ConfigError(f"frame.sync_threshold: must be in (0, 1), got {self.sync_threshold}")
        if not 0 <= self.max_cfo_subcarriers <= self.fft_size / 4:
            raise ConfigError(f"frame.max_cfo_subcarriers: must be in [0, fft_size/4 = {self.fft_size / 4}], "
                              f"got {self.max_cfo_subcarriers}")
        if self.timing_backoff < 0:
            raise ConfigError(f"frame.timing_backoff: must be >= 0, got {self.timing_backoff}")

    @property
    def grid(self) -> ResourceGrid:
        return ResourceGrid(self.fft_size, self.cp_len, self.n_symbols, self.guard_left,
                            self.guard_right, self.dc_null, self.sample_rate)

    @property
    def pilot_pattern(self) -> PilotPattern:
        p = self.pilots
        return PilotPattern(self.grid, p.kind, p.time_spacing, p.freq_spacing, p.shift, p.offset)
