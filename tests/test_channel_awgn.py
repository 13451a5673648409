"""AWGN: variance, circularity and the Es/N0 convention of docs/CONTRACTS.md."""
import math

import numpy as np
import pytest

from lamsc_sdr.channel import awgn, noise_variance
from lamsc_sdr.errors import ConfigError


@pytest.mark.parametrize("snr_db", [-5.0, 0.0, 10.0, 20.0])
def test_noise_variance_and_circularity(snr_db, rng):
    n = 200_000
    x = np.zeros(n, dtype=np.complex64)
    w = awgn(x, snr_db, rng)
    n0 = 10 ** (-snr_db / 10)
    # sample variance of n complex samples: relative std 1/sqrt(n) -> 5 sigma
    assert abs(np.mean(np.abs(w) ** 2) / n0 - 1) < 5 / math.sqrt(n)
    assert abs(np.var(w.real) / (n0 / 2) - 1) < 5 * math.sqrt(2 / n)
    assert abs(np.mean(w.real * w.imag)) / n0 < 5 / math.sqrt(n)        # uncorrelated I/Q
    assert abs(np.mean(w * w)) / n0 < 5 / math.sqrt(n)                  # circular: E[w^2] = 0
    assert w.dtype == np.complex64


def test_es_scaling(rng):
    w = awgn(np.zeros(100_000, np.complex64), 10.0, rng, es=4.0)
    assert np.mean(np.abs(w) ** 2) == pytest.approx(0.4, rel=0.03)


def test_esn0_of_qpsk_through_ortho_ofdm(rng):
    # unit-power QPSK on all bins, unitary IFFT, noise N0 in time -> N0 on every subcarrier
    n_sym, nfft, snr = 2000, 64, 7.0
    qpsk = (rng.choice([-1, 1], (n_sym, nfft)) + 1j * rng.choice([-1, 1], (n_sym, nfft))) / math.sqrt(2)
    t = np.fft.ifft(qpsk, axis=1, norm="ortho").astype(np.complex64)
    r = np.fft.fft(awgn(t, snr, rng), axis=1, norm="ortho")
    es_n0 = np.mean(np.abs(qpsk) ** 2) / np.mean(np.abs(r - qpsk) ** 2)
    assert 10 * math.log10(es_n0) == pytest.approx(snr, abs=0.05)


def test_infinite_snr_is_noiseless_and_input_untouched(rng):
    x = np.ones(10, np.complex64)
    y = awgn(x, math.inf, rng)
    assert np.array_equal(x, y) and y is not x
    assert noise_variance(math.inf) == 0.0
    with pytest.raises(ConfigError, match="snr_db"):
        noise_variance(float("nan"))


def test_reproducible_with_seed():
    x = np.zeros(16, np.complex64)
    a = awgn(x, 3.0, np.random.default_rng(7))
    b = awgn(x, 3.0, np.random.default_rng(7))
    assert np.array_equal(a, b)
