"""Impairments against closed forms: CFO ramp, IQ-imbalance image rejection, Wiener phase, delays."""
import math

import numpy as np
import pytest

from lamsc_sdr.channel import (add_timing_offset, apply_cfo, dc_offset, fractional_delay,
                               image_rejection_ratio_db, iq_coefficients, iq_imbalance,
                               linewidth_from_dbc, phase_noise, wiener_phase)
from lamsc_sdr.errors import ConfigError


def test_cfo_is_a_linear_phase_ramp():
    fs, f = 1e6, 12_345.0
    y = apply_cfo(np.ones(1000, np.complex64), f, fs)
    slope = np.polyfit(np.arange(1000), np.unwrap(np.angle(y)), 1)[0]
    assert slope == pytest.approx(2 * np.pi * f / fs, rel=1e-6)
    assert np.allclose(np.abs(y), 1, atol=1e-6) and y.dtype == np.complex64


def test_cfo_shifts_a_tone_by_f():
    fs, n = 1e6, 4096
    y = apply_cfo(np.ones(n, np.complex128), 40e3, fs)
    assert np.argmax(np.abs(np.fft.fft(y))) == round(40e3 / fs * n)


@pytest.mark.parametrize("gain_db,phase_deg", [(0.5, 2.0), (1.0, 5.0), (-0.3, -3.0), (0.0, 0.0)])
def test_iq_imbalance_image_rejection(gain_db, phase_deg):
    n, k = 1024, 100
    x = np.exp(2j * np.pi * k * np.arange(n) / n)          # tone at +k
    spec = np.abs(np.fft.fft(iq_imbalance(x, gain_db, phase_deg))) ** 2
    irr = image_rejection_ratio_db(gain_db, phase_deg)
    if math.isinf(irr):
        assert spec[n - k] < 1e-12 * spec[k]
    else:
        assert 10 * math.log10(spec[k] / spec[n - k]) == pytest.approx(irr, abs=1e-6)
        # closed form check of the formula itself: 1 dB / 5 deg ~ 25 dB is the textbook figure
    g, phi = 10 ** (gain_db / 20), math.radians(phase_deg)
    mu, nu = iq_coefficients(gain_db, phase_deg)
    assert abs(mu) ** 2 == pytest.approx((1 + g * g + 2 * g * math.cos(phi)) / 4)


def test_iq_imbalance_branch_model():
    # I untouched, Q scaled by g and rotated by phi: y_Q = g (x_Q cos phi - x_I sin phi)
    x = np.array([1 + 0j, 0 + 1j, 0.3 - 0.7j])
    g, phi = 10 ** (1 / 20), math.radians(4)
    y = iq_imbalance(x, 1.0, 4.0)
    np.testing.assert_allclose(y.real, x.real, atol=1e-12)
    np.testing.assert_allclose(y.imag, g * (x.imag * math.cos(phi) - x.real * math.sin(phi)), atol=1e-12)


def test_wiener_phase_variance_grows_linearly(rng):
    beta, fs, n = 100.0, 1e6, 2000
    th = np.array([wiener_phase(n, beta, fs, rng) for _ in range(800)])
    var = th[:, -1].var()
    assert var == pytest.approx(2 * np.pi * beta * (n - 1) / fs, rel=0.15)
    assert np.allclose(np.abs(phase_noise(np.ones(50), beta, fs, rng)), 1.0)


def test_linewidth_from_dbc():
    # Lorentzian far from the carrier: L(f) = beta / (pi f^2)
    beta = linewidth_from_dbc(-100.0, 1e5)
    assert 10 * math.log10(beta / (math.pi * 1e10)) == pytest.approx(-100.0)


def test_timing_offset_and_dc():
    x = np.arange(1, 4).astype(np.complex64)
    np.testing.assert_array_equal(add_timing_offset(x, 2), [0, 0, 1, 2, 3])
    np.testing.assert_allclose(dc_offset(x, 0.1 + 0.2j), x + (0.1 + 0.2j))
    with pytest.raises(ConfigError, match="timing_offset"):
        add_timing_offset(x, -1)


def test_fractional_delay_of_a_bandlimited_tone():
    n, f, d = 512, 0.07, 0.37
    t = np.arange(n)
    y = fractional_delay(np.exp(2j * np.pi * f * t), d)
    ref = np.exp(2j * np.pi * f * (t - d))
    # windowed-sinc interpolator: in-band error < -39 dB (about 3e-3 here, a gain ripple)
    assert np.max(np.abs(y[20:-20] - ref[20:-20])) < 5e-3
