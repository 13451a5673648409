"""Channel configuration section (``channel:`` in the run YAML)."""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import ConfigError


@dataclass(frozen=True)
class ChannelConfig:
    """A simulated channel. ``model`` is ``awgn``, ``rayleigh``, ``rician`` or a TDL profile name
    (``tdl-a``..``tdl-e``, ``epa``, ``eva``, ``etu``, ``ped-a``, ``ped-b``, ``veh-a``, ``veh-b``, ``lammsc``).

    ``snr_db`` is Es/N0 per resource element (``.inf`` in YAML: no noise). ``phase_noise_dbc`` is
    the SSB phase noise in dBc/Hz at ``phase_noise_offset_hz`` from the carrier; it sets the
    linewidth of a Wiener phase process (``beta = pi f^2 10^(L/10)``). ``iq_imbalance_db`` /
    ``iq_phase_deg``: amplitude and phase error of the Q branch. ``dc_offset`` (amplitude) at
    ``dc_phase_deg``: LO leakage added at the receiver.
    """

    model: str = "lammsc"
    snr_db: float = 15.0
    doppler_hz: float = 0.0
    k_factor_db: float = 6.0           # Rician only
    delay_spread_ns: float = 100.0     # scales TDL-A..E normalized delays
    cfo_hz: float = 0.0
    timing_offset: int = 0             # samples of leading noise
    fractional_delay: float = 0.0      # fraction of a sample
    phase_noise_dbc: float | None = None   # Wiener phase noise linewidth proxy; None = off
    iq_imbalance_db: float = 0.0
    iq_phase_deg: float = 0.0
    dc_offset: float = 0.0
    phase_noise_offset_hz: float = 100e3   # offset at which phase_noise_dbc is specified
    dc_phase_deg: float = 0.0

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        from .profiles import PROFILE_NAMES, canonical_name
        if canonical_name(self.model) not in PROFILE_NAMES:
            raise ConfigError(f"channel.model: unknown channel profile {self.model!r}; known profiles: "
                              f"{', '.join(PROFILE_NAMES)}")
        if math.isnan(self.snr_db) or self.snr_db == -math.inf:
            raise ConfigError(f"channel.snr_db: must be a number or +inf, got {self.snr_db}")
        if not self.doppler_hz >= 0:
            raise ConfigError(f"channel.doppler_hz: must be >= 0, got {self.doppler_hz}")
        if not self.delay_spread_ns > 0:
            raise ConfigError(f"channel.delay_spread_ns: must be > 0, got {self.delay_spread_ns}")
        if self.timing_offset < 0:
            raise ConfigError(f"channel.timing_offset: must be >= 0 samples, got {self.timing_offset}")
        if not 0 <= self.fractional_delay < 1:
            raise ConfigError(f"channel.fractional_delay: must be in [0, 1), got {self.fractional_delay}")
        if not self.phase_noise_offset_hz > 0:
            raise ConfigError(f"channel.phase_noise_offset_hz: must be > 0, got {self.phase_noise_offset_hz}")
        for name in ("k_factor_db", "cfo_hz", "iq_imbalance_db", "iq_phase_deg", "dc_offset", "dc_phase_deg"):
            if not math.isfinite(getattr(self, name)):
                raise ConfigError(f"channel.{name}: must be finite, got {getattr(self, name)}")
        if self.phase_noise_dbc is not None and not math.isfinite(self.phase_noise_dbc):
            raise ConfigError(f"channel.phase_noise_dbc: must be finite or null, got {self.phase_noise_dbc}")
        # Sanity ranges: a typo (1e12 dB, 2**40 samples) must be an error, not an overflow or a
        # 16 TiB allocation deep inside the channel.
        for name, lo, hi in (("snr_db", -100.0, math.inf), ("k_factor_db", -100.0, 100.0),
                             ("iq_imbalance_db", -20.0, 20.0), ("phase_noise_dbc", -300.0, 0.0),
                             ("timing_offset", 0, 10_000_000)):
            v = getattr(self, name)
            if v is not None and not lo <= v <= hi:
                raise ConfigError(f"channel.{name}: must be in [{lo:g}, {hi:g}], got {v}")
