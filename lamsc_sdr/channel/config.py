"""Channel configuration section (``channel:`` in the run YAML)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChannelConfig:
    """A simulated channel. ``model`` is ``awgn``, ``rayleigh``, ``rician`` or a TDL profile name
    (``tdl-a``..``tdl-e``, ``epa``, ``eva``, ``etu``, ``ped-a``, ``ped-b``, ``veh-a``, ``veh-b``, ``lammsc``)."""

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
