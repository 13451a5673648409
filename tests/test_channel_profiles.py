"""Published power-delay profiles: tables, normalization, RMS delay spreads, names and errors."""
import math

import numpy as np
import pytest

from lamsc_sdr.channel import PROFILE_NAMES, ChannelConfig, get_profile
from lamsc_sdr.errors import ConfigError


def test_epa_table_as_published():
    # 3GPP TS 36.104 Table B.2-2
    p = get_profile("EPA")
    np.testing.assert_allclose(p.delays * 1e9, [0, 30, 70, 90, 110, 190, 410])
    np.testing.assert_allclose(p.powers_db, [0, -1, -2, -3, -8, -17.2, -20.8])


@pytest.mark.parametrize("name", PROFILE_NAMES)
def test_powers_normalized_and_delays_valid(name):
    p = get_profile(name)
    assert math.isclose(p.powers.sum(), 1.0, rel_tol=1e-12)
    assert np.all(p.delays >= 0) and p.delays[0] == 0.0
    assert len(p.delays_s) == len(p.powers_db)


@pytest.mark.parametrize("name,published_ns,tol_ns", [
    ("epa", 43, 1), ("eva", 357, 1), ("etu", 991, 1),       # TS 36.104 Table B.2-1
    ("veh-a", 370, 2), ("veh-b", 4000, 5),                   # ITU-R M.1225 (r.m.s. spreads)
    ("ped-a", 45, 2),
])
def test_rms_delay_spread_matches_published(name, published_ns, tol_ns):
    assert abs(get_profile(name).rms_delay_spread_s * 1e9 - published_ns) <= tol_ns


@pytest.mark.parametrize("name", ["tdl-a", "tdl-b", "tdl-c", "tdl-d", "tdl-e"])
@pytest.mark.parametrize("ds_ns", [30.0, 300.0])
def test_tdl_normalized_rms_is_one(name, ds_ns):
    # 38.901 tables are normalized to unit RMS delay spread (TDL-D to 0.994 after rounding).
    p = get_profile(name, delay_spread_ns=ds_ns)
    assert abs(p.rms_delay_spread_s / (ds_ns * 1e-9) - 1.0) < 0.01


def test_tdl_los_k_factors():
    d, e = get_profile("tdl-d"), get_profile("tdl-e")
    assert d.k_factor_db == 13.3 and e.k_factor_db == 22.0          # 38.901 Tables 7.7.2-4/-5
    # merged first tap: LOS -0.2 dB + Rayleigh -13.5 dB
    assert math.isclose(d.powers_db[0], 10 * math.log10(10 ** -0.02 + 10 ** -1.35))
    assert get_profile("tdl-a").k_factor_db is None


def test_tdl_tap_counts():
    counts = {n: get_profile(n).n_paths for n in ("tdl-a", "tdl-b", "tdl-c", "tdl-d", "tdl-e")}
    assert counts == {"tdl-a": 23, "tdl-b": 23, "tdl-c": 24, "tdl-d": 13, "tdl-e": 14}


def test_lammsc_profile_in_samples():
    p = get_profile("lammsc", sample_rate=2e6)
    np.testing.assert_allclose(p.delays * 2e6, [0, 3, 5, 6, 8])
    np.testing.assert_allclose(p.powers_db, [0, -8, -17, -21, -25])
    np.testing.assert_allclose(p.at_sample_rate(1e6).delays * 1e6, [0, 3, 5, 6, 8])


def test_flat_profiles():
    assert get_profile("rayleigh").n_paths == 1
    assert get_profile("rician", k_factor_db=10).k_linear == pytest.approx(10.0)
    assert math.isinf(get_profile("awgn").k_linear)


def test_unknown_profile_lists_known_names():
    with pytest.raises(ConfigError) as err:
        get_profile("tdl-z")
    msg = str(err.value)
    assert "channel.model" in msg and "tdl-z" in msg and "epa" in msg and "lammsc" in msg


def test_config_validates_fields():
    with pytest.raises(ConfigError, match="channel.model"):
        ChannelConfig(model="nope")
    with pytest.raises(ConfigError, match="channel.timing_offset"):
        ChannelConfig(timing_offset=-1)
    with pytest.raises(ConfigError, match="channel.fractional_delay"):
        ChannelConfig(fractional_delay=1.5)
    with pytest.raises(ConfigError, match="channel.doppler_hz"):
        ChannelConfig(doppler_hz=-3)
    assert ChannelConfig(model="TDL_A").model == "TDL_A"     # aliases accepted
