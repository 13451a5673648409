"""Fading statistics against closed forms: Rayleigh envelope, Rician K, Jakes J0, sinc interpolation."""
import math

import numpy as np
import pytest
from scipy import stats
from scipy.special import j0

from lamsc_sdr.channel import (Channel, ChannelConfig, apply_multipath, draw_path_gains, grid_channel,
                               sinc_interpolator)
from lamsc_sdr.phy.grid import ResourceGrid


def _flat_gains(model, n, rng, **kw):
    ch = Channel(ChannelConfig(model=model, snr_db=math.inf, **kw), 1e6)
    return np.array([ch(np.ones(1, np.complex64), rng)[0][0] for _ in range(n)])


def test_rayleigh_block_fading_envelope(rng):
    h = _flat_gains("rayleigh", 4000, rng)
    assert np.mean(np.abs(h) ** 2) == pytest.approx(1.0, abs=5 * 1 / math.sqrt(4000))
    # |h| ~ Rayleigh with E|h|^2 = 1: CDF 1 - exp(-r^2)
    assert stats.kstest(np.abs(h), lambda r: 1 - np.exp(-r ** 2)).pvalue > 0.01
    # uniform phase
    assert stats.kstest(np.angle(h), stats.uniform(-np.pi, 2 * np.pi).cdf).pvalue > 0.01


def test_grid_channel_rayleigh_is_rayleigh(rng):
    h = grid_channel("rayleigh", ResourceGrid(), 20000, rng)[:, 0, 0]
    assert stats.kstest(np.abs(h), lambda r: 1 - np.exp(-r ** 2)).pvalue > 0.01


def _k_moment(h):
    """Moment estimator of K (Greenstein et al. 1999): gamma = Var|h|^2 / E^2|h|^2 = (2K+1)/(K+1)^2."""
    p = np.abs(h) ** 2
    g = p.var() / p.mean() ** 2
    s = math.sqrt(1 - g)
    return s / (1 - s)


@pytest.mark.parametrize("k_db", [3.0, 10.0])
def test_rician_k_factor(k_db, rng):
    h = _flat_gains("rician", 3000, rng, k_factor_db=k_db)
    assert 10 * math.log10(_k_moment(h)) == pytest.approx(k_db, abs=0.8)
    hg = grid_channel("rician", ResourceGrid(), 40000, rng, k_factor_db=k_db)[:, 0, 0]
    assert 10 * math.log10(_k_moment(hg)) == pytest.approx(k_db, abs=0.3)
    # Rice envelope CDF by KS (scipy's rice: b = nu/sigma with sigma^2 per dimension)
    k = 10 ** (k_db / 10)
    nu, sig = math.sqrt(k / (k + 1)), math.sqrt(1 / (2 * (k + 1)))
    assert stats.kstest(np.abs(hg[:5000]), stats.rice(nu / sig, scale=sig).cdf).pvalue > 0.01


def test_jakes_autocorrelation_is_j0(rng):
    fd, fs, n_real = 100.0, 1e5, 600
    lags = np.arange(0, 3000, 50)                         # up to 3 cycles of fd
    acc = np.zeros(lags.size, complex)
    for _ in range(n_real):
        g = draw_path_gains([1.0], fs, rng, doppler_hz=fd).at(lags)[:, 0]
        acc += g * np.conj(g[0])
    r = acc / n_real
    ref = j0(2 * np.pi * fd * lags / fs)
    # ensemble mean of a product of unit-power terms: std ~ 1/sqrt(n_real) ~ 0.04
    assert np.max(np.abs(r.real - ref)) < 0.15
    assert np.mean(np.abs(r.real - ref)) < 0.05
    assert np.max(np.abs(r.imag)) < 0.15


def test_jakes_gain_interpolation_matches_exact(rng):
    g = draw_path_gains([0.7, 0.3], 1e6, rng, doppler_hz=50.0)
    assert g.step > 1
    t = np.arange(0, 5000, 7)
    exact = g._exact(t.astype(float))
    assert np.max(np.abs(g.at(t) - exact)) < 1e-3


def test_sinc_interpolator_integer_delays_exact():
    s, pre = sinc_interpolator([0, 3, 5, 6, 8])
    assert pre == 0 and s.shape == (5, 9)
    np.testing.assert_array_equal(s, np.eye(9)[[0, 3, 5, 6, 8]])


@pytest.mark.parametrize("d", [0.1, 0.37, 0.5, 2.81])
def test_sinc_interpolator_inband_response(d):
    s, pre = sinc_interpolator([d])
    f = np.linspace(-0.41, 0.41, 101)                     # the default grid's used band
    n = np.arange(s.shape[1]) - pre
    h = (s[0][None, :] * np.exp(-2j * np.pi * f[:, None] * n[None, :])).sum(1)
    assert np.max(np.abs(h - np.exp(-2j * np.pi * f * d))) < 10 ** (-38 / 20)


def test_static_multipath_is_convolution(rng):
    s, _ = sinc_interpolator([0.0, 1.3, 4.0])
    g = draw_path_gains([0.5, 0.3, 0.2], 1e6, rng)
    x = rng.standard_normal(300) + 1j * rng.standard_normal(300)
    np.testing.assert_allclose(apply_multipath(x, s, g), np.convolve(x, g.static @ s), atol=1e-12)


def test_time_varying_multipath_reference(rng):
    s, _ = sinc_interpolator([0.0, 2.0, 3.5])
    g = draw_path_gains([0.5, 0.3, 0.2], 1e4, rng, doppler_hz=300.0)
    x = rng.standard_normal(200) + 1j * rng.standard_normal(200)
    y = apply_multipath(x, s, g, chunk=64)
    n_out, n_taps = x.size + s.shape[1] - 1, s.shape[1]
    h = g.at(np.arange(n_out)) @ s
    ref = np.array([sum(h[t, l] * x[t - l] for l in range(n_taps) if 0 <= t - l < x.size) for t in range(n_out)])
    np.testing.assert_allclose(y, ref, atol=1e-10)
