"""The ``gnuradio`` backend: a running GNU Radio top block through channels.channel_model."""
import numpy as np
import pytest

from lamsc_sdr.channel.config import ChannelConfig
from lamsc_sdr.errors import RadioError, ShapeError
from lamsc_sdr.radio.gnuradio import GnuRadioChannelRadio


def _run(ch, seed=3, chunks=(3000, 4000), clock_ppm=0.0):
    with GnuRadioChannelRadio(ch, seed=seed, clock_ppm=clock_ppm) as r:
        r.tx(np.exp(2j * np.pi * 0.01 * np.arange(5000)).astype(np.complex64))
        return np.concatenate([r.rx(n) for n in chunks])


def test_reproducible_and_independent_of_chunking():
    ch = ChannelConfig(model="awgn", snr_db=20.0, cfo_hz=1000.0)
    a = _run(ch, chunks=(3000, 4000))
    b = _run(ch, chunks=(3000, 4000))
    c = _run(ch, chunks=(1000, 2500, 3500))
    assert np.array_equal(a, b)
    assert np.array_equal(a, c)          # the stream does not depend on how it is read
    assert not np.array_equal(a, _run(ch, seed=4))


def test_noise_variance_follows_the_snr_convention():
    ch = ChannelConfig(model="awgn", snr_db=10.0)
    with GnuRadioChannelRadio(ch, seed=1) as r:
        y = r.rx(200_000)                 # idle transmitter: noise only
    n0 = np.mean(np.abs(y) ** 2)
    assert abs(10 * np.log10(n0) - (-10.0)) < 0.05     # N0 = 10**(-snr/10), +-1 %


def test_cfo_and_idle_zeros_between_bursts():
    ch = ChannelConfig(model="awgn", snr_db=200.0, cfo_hz=2500.0)
    with GnuRadioChannelRadio(ch, seed=1) as r:
        r.tx(np.ones(4000, np.complex64))
        y = r.rx(6000)
    f = np.angle(np.vdot(y[100:3900], y[101:3901])) / (2 * np.pi) * 1e6
    assert abs(f - 2500.0) < 1.0
    assert np.all(np.abs(y[4100:]) < 1e-3) and np.all(np.abs(np.abs(y[10:3990]) - 1) < 1e-3)


def test_multipath_taps_have_unit_average_power():
    from lamsc_sdr.radio.gnuradio import channel_taps
    p = [np.sum(np.abs(channel_taps(ChannelConfig(model="epa"), 1e6, np.random.default_rng(s))) ** 2)
         for s in range(400)]
    assert abs(np.mean(p) - 1) < 0.15


def test_timing_drift_and_bad_input():
    ch = ChannelConfig(model="awgn", snr_db=200.0)
    with GnuRadioChannelRadio(ch, seed=1, clock_ppm=200.0) as r:
        r.tx(np.exp(2j * np.pi * 0.02 * np.arange(20000)).astype(np.complex64))
        y = r.rx(20000)
        with pytest.raises(ShapeError):
            r.tx(np.array([np.nan], np.complex64))
    assert y.shape == (20000,) and np.isfinite(y).all()
    with pytest.raises(RadioError, match="closed"):
        r.rx(10)
