"""Channels: AWGN, flat and tapped-delay-line fading with published profiles, Doppler, and the
radio impairments (CFO, timing, fractional delay, phase noise, IQ imbalance, DC offset).

Pure functions take an explicit ``numpy.random.Generator``; :class:`Channel` is a thin block
over them that returns the true channel (:class:`ChannelState`) for the perfect-CSI oracle.
"""
from .config import ChannelConfig
from .fading import PathGains, apply_multipath, draw_path_gains
from .gridlevel import frequency_correlation, grid_channel, time_correlation
from .impairments import (add_timing_offset, apply_cfo, awgn, complex_noise, dc_offset,
                          fractional_delay, image_rejection_ratio_db, iq_coefficients, iq_imbalance,
                          linewidth_from_dbc, noise_variance, phase_noise, sinc_interpolator,
                          wiener_phase)
from .model import Channel, ChannelState
from .profiles import (PROFILE_NAMES, PUBLISHED_RMS_DELAY_S, TDLProfile, canonical_name, get_profile,
                       resolve_profile)

__all__ = [
    "ChannelConfig", "Channel", "ChannelState", "TDLProfile", "PROFILE_NAMES", "PUBLISHED_RMS_DELAY_S",
    "get_profile", "resolve_profile", "canonical_name", "awgn", "noise_variance", "complex_noise",
    "apply_cfo", "add_timing_offset", "fractional_delay", "sinc_interpolator", "phase_noise",
    "wiener_phase", "linewidth_from_dbc", "iq_imbalance", "iq_coefficients", "image_rejection_ratio_db",
    "dc_offset", "PathGains", "draw_path_gains", "apply_multipath", "grid_channel",
    "frequency_correlation", "time_correlation",
]
