"""The Channel block and grid-level channels: frequency response vs time-domain convolution,
empirical correlations vs the closed forms, determinism and shapes."""
import math

import numpy as np
import pytest

from lamsc_sdr.channel import (Channel, ChannelConfig, frequency_correlation, get_profile, grid_channel,
                               time_correlation)
from lamsc_sdr.errors import ConfigError, ShapeError
from lamsc_sdr.phy.grid import ResourceGrid

GRID = ResourceGrid()


def _ofdm(x_grid, grid=GRID):
    """NumPy reference OFDM modulator: (T, n_used) -> (T * symbol_len,), unitary IFFT + CP."""
    f = np.zeros((x_grid.shape[0], grid.fft_size), complex)
    f[:, grid.used_bins] = x_grid
    t = np.fft.ifft(f, axis=1, norm="ortho")
    return np.concatenate([t[:, -grid.cp_len:], t], axis=1).ravel().astype(np.complex64)


def _demod(y, start, n_sym, backoff=0, grid=GRID):
    out = []
    for q in range(n_sym):
        w = start + q * grid.symbol_len + grid.cp_len - backoff
        out.append(np.fft.fft(y[w:w + grid.fft_size], norm="ortho")[grid.used_bins])
    return np.array(out)


def _qpsk(rng, shape):
    return ((rng.choice([-1, 1], shape) + 1j * rng.choice([-1, 1], shape)) / math.sqrt(2))


@pytest.mark.parametrize("model,kw,backoff,tol", [
    ("lammsc", {}, 0, 1e-5),                         # integer taps: exact
    ("lammsc", {"timing_offset": 37}, 4, 1e-5),
    ("rayleigh", {"cfo_hz": 0.0}, 0, 1e-5),
    ("epa", {"timing_offset": 5}, 7, 1e-5),          # sinc taps inside the CP with a 7-sample back-off
    ("tdl-a", {"delay_spread_ns": 30.0}, 7, 1e-5),
])
def test_frequency_response_equals_fft_of_convolution(model, kw, backoff, tol, rng):
    x = _qpsk(rng, GRID.shape)
    y, st = Channel(ChannelConfig(model=model, snr_db=math.inf, **kw), GRID.sample_rate)(_ofdm(x), rng)
    h = st.frequency_response(GRID, st.delay, fft_offset=backoff)
    assert h.shape == GRID.shape and h.dtype == np.complex64
    np.testing.assert_allclose(_demod(y, st.delay, GRID.n_symbols, backoff), h * x, atol=tol)


def test_frequency_response_with_timing_error_and_tx_start(rng):
    x = _qpsk(rng, (4, GRID.n_used))
    tx = np.concatenate([np.zeros(100, np.complex64), _ofdm(x)])
    y, st = Channel(ChannelConfig(model="lammsc", snr_db=math.inf, timing_offset=11), GRID.sample_rate)(tx, rng)
    rx_start = 100 + st.delay - 3                     # receiver 3 samples early
    h = st.frequency_response(GRID, rx_start, 4, tx_start=100)
    np.testing.assert_allclose(_demod(y, rx_start, 4), h * x, atol=1e-5)


def test_frequency_response_cfo_common_phase(rng):
    x = _qpsk(rng, (2, GRID.n_used))
    cfo = 3000.0
    y, st = Channel(ChannelConfig(model="lammsc", snr_db=math.inf, cfo_hz=cfo, timing_offset=9),
                    GRID.sample_rate)(_ofdm(x), rng)
    ref = 50
    n = np.arange(y.size)
    yc = y * np.exp(-2j * np.pi * cfo * (n - ref) / GRID.sample_rate)   # ideal CFO correction
    h = st.frequency_response(GRID, st.delay, 2, cfo_ref_sample=ref)
    # the residual intra-symbol phase ramp is gone; the constant phase is in h
    np.testing.assert_allclose(_demod(yc, st.delay, 2), h * x, atol=1e-4)


def test_time_varying_response_close_to_fft(rng):
    x = _qpsk(rng, GRID.shape)
    y, st = Channel(ChannelConfig(model="lammsc", snr_db=math.inf, doppler_hz=50.0), GRID.sample_rate)(_ofdm(x), rng)
    h = st.frequency_response(GRID, st.delay)
    err = _demod(y, st.delay, GRID.n_symbols) - h * x
    # only ICI remains: power ~ (pi fd T)^2 / 3 relative, about -42 dB at 50 Hz, T = 64 us
    assert 10 * np.log10(np.mean(np.abs(err) ** 2) / np.mean(np.abs(h) ** 2)) < -35
    assert not np.allclose(h[0], h[-1])               # the channel does move


def test_output_length_noise_and_order(rng):
    cfg = ChannelConfig(model="lammsc", snr_db=10.0, timing_offset=20)
    y, st = Channel(cfg, 1e6)(np.zeros(500, np.complex64), rng)
    assert y.shape == (20 + 500 + st.n_taps - 1,) and y.dtype == np.complex64
    assert np.mean(np.abs(y) ** 2) == pytest.approx(0.1, rel=0.15)     # noise only: N0 = 0.1
    assert st.noise_var == pytest.approx(0.1)


def test_deterministic_for_a_seed():
    cfg = ChannelConfig(model="tdl-c", doppler_hz=30.0, cfo_hz=1e3, phase_noise_dbc=-90.0,
                        iq_imbalance_db=0.5, dc_offset=0.01, fractional_delay=0.3)
    x = np.exp(1j * np.arange(2000) * 0.1).astype(np.complex64)
    a, _ = Channel(cfg, 1e6)(x, np.random.default_rng(3))
    b, _ = Channel(cfg, 1e6)(x, np.random.default_rng(3))
    assert np.array_equal(a, b)


def test_channel_rejects_bad_input(rng):
    ch = Channel(ChannelConfig(), 1e6)
    with pytest.raises(ShapeError):
        ch(np.zeros((2, 3), np.complex64), rng)
    _, st = ch(np.zeros(10, np.complex64), rng)
    with pytest.raises(ConfigError, match="sample_rate"):
        st.frequency_response(ResourceGrid(sample_rate=2e6), 0)


def test_frequency_correlation_closed_form():
    r = frequency_correlation("lammsc", GRID)
    p = get_profile("lammsc")
    k, l = 3, 10
    dk = GRID.used_k[k] - GRID.used_k[l]
    ref = sum(pw * np.exp(-2j * np.pi * dk * d / GRID.fft_size) for pw, d in zip(p.powers, [0, 3, 5, 6, 8]))
    assert r[k, l] == pytest.approx(ref)
    np.testing.assert_allclose(np.diag(r).real, 1.0)
    np.testing.assert_allclose(r, r.conj().T)


@pytest.mark.parametrize("profile,fd", [("lammsc", 0.0), ("eva", 0.0), ("tdl-d", 0.0), ("tdl-a", 300.0)])
def test_grid_channel_matches_closed_form_statistics(profile, fd, rng):
    n = 20000
    h = grid_channel(profile, GRID, n, rng, doppler_hz=fd)
    assert h.shape == (n,) + GRID.shape and h.dtype == np.complex64
    rf = np.einsum("nk,nl->kl", h[:, 2], h[:, 2].conj()) / n
    # each entry is a mean of n unit-variance products: std <= 1/sqrt(n) ~ 0.007
    assert np.max(np.abs(rf - frequency_correlation(profile, GRID))) < 0.04
    rt = np.einsum("nt,ns->ts", h[:, :, 7], h[:, :, 7].conj()) / n
    assert np.max(np.abs(rt - time_correlation(fd, GRID))) < 0.04
    assert abs(np.mean(h)) < 0.03                      # zero-mean (LOS phase uniform)


def test_time_correlation_j0():
    from scipy.special import j0
    r = time_correlation(500.0, GRID)
    dt = GRID.symbol_len / GRID.sample_rate
    assert r[0, 3] == pytest.approx(j0(2 * np.pi * 500.0 * 3 * dt))
    np.testing.assert_array_equal(time_correlation(0.0, GRID), np.ones(GRID.shape[0:1] * 2))


def test_grid_channel_agrees_with_time_domain_statistics(rng):
    # the oracle response of the time-domain channel has the same frequency correlation
    ch = Channel(ChannelConfig(model="lammsc", snr_db=math.inf), GRID.sample_rate)
    hs = np.array([ch(np.zeros(1, np.complex64), rng)[1].frequency_response(GRID, 0, 1)[0] for _ in range(3000)])
    rf = hs.T @ hs.conj() / len(hs)
    assert np.max(np.abs(rf - frequency_correlation("lammsc", GRID))) < 0.1
