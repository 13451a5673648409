"""Calibration recovers injected impairments (sim, gnuradio, Pluto double) within stated tolerances:
CFO +-30 Hz, DC +-0.005 (full-scale units), IQ gain +-0.15 dB, IQ phase +-0.75 deg, SNR +-1.5 dB."""
import numpy as np
import pytest

from lamsc_sdr.calibration import (Calibration, CalibratedRadio, calibrate, correct, load_calibration,
                                   save_calibration)
from lamsc_sdr.channel.impairments import iq_imbalance
from lamsc_sdr.config import load_config
from lamsc_sdr.errors import ConfigError
from lamsc_sdr.radio import make_radio
from lamsc_sdr.radio.pluto import PlutoRadio
from lamsc_sdr.radio.pluto_double import Air, FakePluto

IMPAIRED = {"channel.model": "awgn", "channel.snr_db": 30.0, "channel.cfo_hz": 3000.0,
            "channel.dc_offset": 0.05, "channel.iq_imbalance_db": 0.5, "channel.iq_phase_deg": 3.0}


@pytest.mark.parametrize("backend", ["sim", "gnuradio"])
def test_simulated_radios(backend):
    cfg = load_config(None, {"radio.backend": backend, **IMPAIRED})
    with make_radio(cfg.radio, cfg) as r:
        cal = calibrate(r, rng=np.random.default_rng(1))
    assert abs(cal.cfo_hz - 3000) < 30 and abs(cal.cfo_ppm - 3000 / 2.4e9 * 1e6) < 0.02
    assert abs(cal.dc - 0.05) < 0.005
    assert abs(cal.iq_gain_db - 0.5) < 0.15 and abs(cal.iq_phase_deg - 3.0) < 0.75
    assert abs(cal.snr_db - 30) < 1.5


def test_pluto_double_two_devices_picks_gains_without_clipping():
    air = Air(path_loss_db=30, noise_dbfs=-90, seed=2)
    devs = {"double:a": FakePluto("double:a", air=air, ppm=7.0),
            "double:b": FakePluto("double:b", air=air, ppm=-4.0, dc_offset=0.01 - 0.02j, iq_gain_db=-0.4,
                                  iq_phase_deg=2.0)}
    with PlutoRadio("double:a", rx_uri="double:b", device_factory=devs.__getitem__, tx_gain=-40, rx_gain=25,
                    buffer_size=16384) as r:
        cal = calibrate(r, target_snr_db=30, rng=np.random.default_rng(3))
    assert abs(cal.cfo_ppm - 11.0) < 0.02                  # 26.4 kHz at 2.4 GHz
    assert abs(cal.dc - (0.01 - 0.02j)) < 0.005
    assert abs(cal.iq_gain_db + 0.4) < 0.15 and abs(cal.iq_phase_deg - 2.0) < 0.75
    assert cal.snr_db >= 30 and cal.clipping == 0 and cal.tx_gain > -40


def test_correct_undoes_the_impairments(rng):
    cal = Calibration(sample_rate=1e6, cfo_hz=2500.0, dc_offset=[0.03, -0.01], iq_gain_db=0.7, iq_phase_deg=-4.0)
    x = ((rng.standard_normal(4000) + 1j * rng.standard_normal(4000)) / np.sqrt(2)).astype(np.complex64)
    n = np.arange(4000)
    y = iq_imbalance(x * np.exp(2j * np.pi * 2500 / 1e6 * n), 0.7, -4.0) + (0.03 - 0.01j)
    z = np.concatenate([correct(y[:1000], cal, 0), correct(y[1000:], cal, 1000)])
    assert np.max(np.abs(z - x)) < 1e-4


def test_yaml_round_trip_and_receivers_load_it(tmp_path):
    cal = Calibration(device="sim", cfo_hz=1000.0, sample_rate=1e6, dc_offset=[0.1, 0.0])
    path = save_calibration(cal, tmp_path / "calibration" / "sim.yaml")
    assert load_calibration(path) == cal
    cfg = load_config(None, {"radio.calibration": str(path), "channel.model": "awgn", "channel.snr_db": 60.0})
    with make_radio(cfg.radio, cfg) as r:
        assert isinstance(r, CalibratedRadio) and r.sample_rate == 1e6
        r.tx(np.ones(1000, np.complex64) + 0.1)
        y = r.rx(1400)
    assert "calibration='sim'" in repr(r.settings()) or r.settings()["calibration"] == "sim"
    bad = tmp_path / "bad.yaml"
    bad.write_text("cfo_hz: 1\nwobble: 2\n")
    with pytest.raises(ConfigError, match="wobble.*bad.yaml"):
        load_calibration(bad)
    assert np.isfinite(y).all()


def test_one_pluto_to_itself_says_the_cfo_is_meaningless_and_pairs_are_named():
    air = Air(path_loss_db=30, noise_dbfs=-90, seed=4)
    devs = {"double:a": FakePluto("double:a", air=air, ppm=7.0), "double:b": FakePluto("double:b", air=air)}
    with PlutoRadio("double:a", device_factory=devs.__getitem__, tx_gain=-30, rx_gain=25, buffer_size=16384) as r:
        cal = calibrate(r, rng=np.random.default_rng(5))
    assert cal.shared_crystal and cal.cfo_ppm is None and abs(cal.cfo_hz) < 5     # one crystal: CFO ~0
    assert cal.device == "pluto-double_a-to-self" and "share one crystal" in cal.notes
    assert cal.tracking == {"quadrature": True, "rf_dc": True, "bb_dc": True} and "tracking on" in cal.notes
    assert cal.gain_limits == {"rx": [-3.0, 1.0, 71.0], "tx": [-89.75, 0.25, 0.0]}
    with PlutoRadio("double:a", rx_uri="double:b", device_factory=devs.__getitem__, tx_gain=-30, rx_gain=25,
                    buffer_size=16384) as r:
        pair = calibrate(r, rng=np.random.default_rng(5), tune_gains=False)
    assert pair.device == "pluto-double_a-to-double_b" and (pair.tx_uri, pair.rx_uri) == ("double:a", "double:b")
    assert not pair.shared_crystal and abs(pair.cfo_ppm - 7.0) < 0.02


def test_gain_search_stays_within_the_device_limits():
    air = Air(path_loss_db=60, noise_dbfs=-90, seed=6)
    devs = {"double:a": FakePluto("double:a", air=air), "double:b": FakePluto("double:b", air=air)}
    with PlutoRadio("double:a", rx_uri="double:b", device_factory=devs.__getitem__, tx_gain=-50, rx_gain=10,
                    buffer_size=16384) as r:
        r.gain_range = lambda: {"rx": (-3.0, 1.0, 20.0), "tx": (-89.75, 0.25, -40.0)}   # a tighter device
        cal = calibrate(r, target_snr_db=60, rng=np.random.default_rng(7))
    assert cal.tx_gain <= -40.0 and cal.rx_gain <= 20.0


def test_cfo_correction_follows_centre_frequency_and_rate():
    cal = Calibration(sample_rate=1e6, center_freq=2.4e9, cfo_hz=24_000.0, cfo_ppm=10.0)
    n = np.arange(8000)
    for fc, fs in ((915e6, 1e6), (2.4e9, 2e6), (915e6, 4e6)):
        f = 10e-6 * fc                               # the same crystal error at the new frequency
        y = np.exp(2j * np.pi * f / fs * n)
        z = correct(y, cal, 0, sample_rate=fs, center_freq=fc)
        assert np.max(np.abs(z - 1)) < 1e-3, (fc, fs)
