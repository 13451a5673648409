"""LS / LMMSE / perfect estimators against closed forms and NumPy references."""
import numpy as np
import pytest

from lamsc_sdr.errors import ConfigError, ShapeError
from lamsc_sdr.estimation import (EstimatorConfig, LMMSEEstimator, LSEstimator, PerfectEstimator,
                                  interpolation_matrix, make_estimator)
from lamsc_sdr.estimation import stats
from lamsc_sdr.estimation.evaluate import transmit_grid
from lamsc_sdr.phy.config import FrameConfig, PilotConfig


@pytest.fixture(scope="module")
def frame():
    return FrameConfig()


def nmse_db(h_hat, h):
    return 10 * np.log10(np.sum(np.abs(h_hat - h) ** 2) / np.sum(np.abs(h) ** 2))


@pytest.mark.parametrize("snr", [0.0, 10.0, 20.0])
def test_ls_error_at_pilots_is_n0_over_p2(frame, rng, snr):
    pp = frame.pilot_pattern
    h = stats.grid_channel("epa", frame.grid, 3000, rng)
    y, _ = transmit_grid(h, pp, snr, rng)
    h_hat, ev = LSEstimator()(y, pp, 10 ** (-snr / 10))
    t, f = pp.pilot_index
    n0 = 10 ** (-snr / 10)
    mse = np.mean(np.abs(h_hat[:, t, f] - h[:, t, f]) ** 2)
    expected = n0 / np.mean(np.abs(pp.values[t, f]) ** 2)
    assert mse == pytest.approx(expected, rel=0.03)
    np.testing.assert_allclose(ev[:, t, f], n0, rtol=1e-5)


@pytest.mark.parametrize("snr", [0.0, 5.0, 10.0, 20.0, 30.0])
def test_ls_grid_nmse_tracks_minus_snr_on_flat_channel(frame, rng, snr):
    pp = frame.pilot_pattern
    h = stats.grid_channel("rayleigh", frame.grid, 2000, rng)
    y, _ = transmit_grid(h, pp, snr, rng)
    n0 = 10 ** (-snr / 10)
    h_hat, ev = LSEstimator()(y, pp, n0)
    got = nmse_db(h_hat, h)
    assert abs(got - (-snr)) < 2.0
    # exact closed form on a flat channel (interpolation is exact): N0 * mean(sum_j A_ij^2)
    # (the MSE, not the NMSE, so the random channel power does not enter)
    a = interpolation_matrix(pp)
    mse = np.mean(np.abs(h_hat - h) ** 2)
    assert 10 * np.log10(mse) == pytest.approx(10 * np.log10(n0 * np.mean(np.sum(a ** 2, axis=1))), abs=0.1)
    assert 10 * np.log10(ev.mean()) == pytest.approx(10 * np.log10(mse), abs=0.1)


def test_interpolation_matrix_is_exact_for_linear_channels(frame):
    pp = frame.pilot_pattern
    a = interpolation_matrix(pp)
    np.testing.assert_allclose(a.sum(axis=1), 1.0, atol=1e-12)
    t, f = np.meshgrid(np.arange(frame.grid.n_symbols), np.arange(frame.grid.n_used), indexing="ij")
    plane = 0.3 + 0.02 * f - 0.05 * t
    ti, fi = pp.pilot_index
    est = (a @ plane[ti, fi]).reshape(frame.grid.shape)
    # exact wherever no edge-hold is needed: between the first and last pilot of every row
    lo = max(fi[ti == r].min() for r in range(frame.grid.n_symbols))
    np.testing.assert_allclose(est[:, lo:], plane[:, lo:], atol=1e-12)


def test_interpolation_fills_symbols_without_pilots():
    fr = FrameConfig(pilots=PilotConfig(kind="block", time_spacing=4))
    pp = fr.pilot_pattern
    h = np.ones((1, *fr.grid.shape), np.complex64) * (1 + 1j)
    y = np.where(pp.mask, h * pp.values, 0).astype(np.complex64)
    h_hat, _ = LSEstimator()(y, pp, 0.0)
    np.testing.assert_allclose(h_hat, h, atol=1e-5)


def _lmmse_reference(y, pp, r, n0):
    """Direct textbook LMMSE on one grid: W = R_hp (R_pp + N0 D)^-1, err = diag(R - W R_ph)."""
    t, f = pp.pilot_index
    pidx = t * pp.grid.n_used + f
    hp = y[t, f] / pp.values[t, f]
    d = np.diag(1 / np.abs(pp.values[t, f]) ** 2)
    w = r[:, pidx] @ np.linalg.inv(r[np.ix_(pidx, pidx)] + n0 * d)
    return (w @ hp).reshape(pp.grid.shape), np.real(np.diag(r - w @ r[pidx, :])).reshape(pp.grid.shape)


def test_lmmse_matches_numpy_reference_with_per_grid_noise(frame, rng):
    pp = frame.pilot_pattern
    r_t = stats.time_correlation(100.0, frame.grid)
    r_f = stats.frequency_correlation("lammsc", frame.grid)
    r = np.kron(r_t, r_f)
    h = stats.grid_channel("lammsc", frame.grid, 3, rng, 100.0)
    snrs = np.array([0.0, 12.0, 27.0])
    y, _ = transmit_grid(h, pp, snrs, rng)
    n0 = 10 ** (-snrs / 10)
    h_hat, ev = LMMSEEstimator(r_t, r_f)(y, pp, n0)
    for i in range(3):
        ref_h, ref_e = _lmmse_reference(y[i].astype(np.complex128), pp, r, n0[i])
        np.testing.assert_allclose(h_hat[i], ref_h, atol=2e-4 * np.abs(ref_h).max())
        np.testing.assert_allclose(ev[i], ref_e, rtol=2e-3, atol=1e-6)


@pytest.mark.parametrize("profile", ["lammsc", "epa"])
def test_genie_lmmse_beats_ls_at_low_snr_and_predicts_its_error(frame, rng, profile):
    pp = frame.pilot_pattern
    ls = make_estimator(EstimatorConfig(kind="ls"), frame, profile)
    lm = make_estimator(EstimatorConfig(timing_uncertainty_samples=0.0, kind="lmmse"), frame, profile)
    h = stats.grid_channel(profile, frame.grid, 2000, rng)
    for snr in (0.0, 5.0):
        y, _ = transmit_grid(h, pp, snr, rng)
        n0 = 10 ** (-snr / 10)
        h_ls, _ = ls(y, pp, n0)
        h_lm, ev = lm(y, pp, n0)
        assert nmse_db(h_lm, h) < nmse_db(h_ls, h) - 5.0
        assert 10 * np.log10(ev.mean() / np.mean(np.abs(h) ** 2)) == pytest.approx(nmse_db(h_lm, h), abs=0.3)


def test_mismatched_lmmse_error_variance_is_its_true_mse_when_statistics_match(frame, rng):
    pp = frame.pilot_pattern
    cfg = EstimatorConfig(timing_uncertainty_samples=0.0, kind="lmmse-mismatched", assumed_profile="epa", assumed_snr_db=25.0)
    est = make_estimator(cfg, frame)
    h = stats.grid_channel("epa", frame.grid, 3000, rng)
    y, _ = transmit_grid(h, pp, 5.0, rng)
    h_hat, ev = est(y, pp, 10 ** -0.5)
    mse = np.mean(np.abs(h_hat - h) ** 2)
    assert 10 * np.log10(ev.mean()) == pytest.approx(10 * np.log10(mse), abs=0.3)
    genie = make_estimator(EstimatorConfig(timing_uncertainty_samples=0.0, kind="lmmse"), frame, "epa")
    assert nmse_db(genie(y, pp, 10 ** -0.5)[0], h) < nmse_db(h_hat, h)


def test_mismatched_equals_genie_when_assumptions_are_true(frame, rng):
    pp = frame.pilot_pattern
    h = stats.grid_channel("eva", frame.grid, 5, rng)
    y, _ = transmit_grid(h, pp, 15.0, rng)
    mm = make_estimator(EstimatorConfig(timing_uncertainty_samples=0.0, kind="lmmse-mismatched", assumed_profile="eva", assumed_snr_db=15.0), frame)
    gn = make_estimator(EstimatorConfig(timing_uncertainty_samples=0.0, kind="lmmse"), frame, "eva")
    a, ea = mm(y, pp, 10 ** -1.5)
    b, eb = gn(y, pp, 10 ** -1.5)
    np.testing.assert_allclose(a, b, atol=1e-4)
    np.testing.assert_allclose(ea, eb, rtol=1e-3, atol=1e-7)


def test_perfect_oracle(frame, rng):
    pp = frame.pilot_pattern
    h = stats.grid_channel("epa", frame.grid, 4, rng)
    y, _ = transmit_grid(h, pp, 10.0, rng)
    est = make_estimator(EstimatorConfig(kind="perfect"), frame)
    with pytest.raises(ConfigError, match="set_truth"):
        est(y, pp, 0.1)
    h_hat, ev = est(y, pp, 0.1, truth=h)
    np.testing.assert_array_equal(h_hat, h)
    assert not ev.any()
    est.set_truth(h[:2])
    with pytest.raises(ShapeError):
        est(y, pp, 0.1)


@pytest.mark.parametrize("kind", ["ls", "lmmse", "lmmse-mismatched"])
def test_bad_input_raises_clear_errors(frame, kind):
    pp = frame.pilot_pattern
    est = make_estimator(EstimatorConfig(kind=kind), frame, "epa")
    good = np.ones((2, *frame.grid.shape), np.complex64)
    with pytest.raises(ShapeError, match="shape"):
        est(np.ones((2, 8, 64), np.complex64), pp, 0.1)
    with pytest.raises(ShapeError, match="complex"):
        est(np.ones((2, *frame.grid.shape)), pp, 0.1)
    bad = good.copy()
    bad[1, 3, 4] = np.nan
    with pytest.raises(ShapeError, match="NaN"):
        est(bad, pp, 0.1)
    with pytest.raises(ShapeError, match="noise_var"):
        est(good, pp, -1.0)
    with pytest.raises(ShapeError, match="noise_var"):
        est(good, pp, np.ones(3))
    h, ev = est(good[0], pp, 0.1)             # unbatched (T, F) works too
    assert h.shape == frame.grid.shape and h.dtype == np.complex64 and ev.dtype == np.float32


def test_make_estimator_rejects_unknown_kind_and_profile(frame):
    with pytest.raises(ConfigError):
        make_estimator(EstimatorConfig(kind="nope"), frame)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        make_estimator(EstimatorConfig(timing_uncertainty_samples=0.0, kind="lmmse"), frame, "no-such-profile")


def test_exponential_pdp_statistics_are_consistent(frame, rng):
    """Our own ``exp:RMS_NS`` profile: genie LMMSE built from its R predicts its own error."""
    pp = frame.pilot_pattern
    est = make_estimator(EstimatorConfig(timing_uncertainty_samples=0.0, kind="lmmse"), frame, "exp:2000")
    h = stats.grid_channel("exp:2000", frame.grid, 1500, rng, 150.0)
    assert np.mean(np.abs(h) ** 2) == pytest.approx(1.0, rel=0.05)
    y, _ = transmit_grid(h, pp, 10.0, rng)
    h_hat, ev = make_estimator(EstimatorConfig(timing_uncertainty_samples=0.0, kind="lmmse"), frame, "exp:2000", doppler_hz=150.0)(y, pp, 0.1)
    assert 10 * np.log10(ev.mean()) == pytest.approx(10 * np.log10(np.mean(np.abs(h_hat - h) ** 2)), abs=0.3)
    assert est is not None
    with pytest.raises(ConfigError):
        stats.frequency_correlation("exp:abc", frame.grid)


def test_timing_spread_is_the_average_over_shifted_delays(frame):
    """R_f widened by +-u samples of timing error equals the mean of R_f over shifted copies of the
    profile (a NumPy reference: shift every path delay and average)."""
    g = frame.grid
    r_f = stats.frequency_correlation("lammsc", g)
    u = 2.5
    f = g.used_k / g.fft_size
    ref = np.mean([r_f * np.exp(-2j * np.pi * (f[:, None] - f[None, :]) * d)
                   for d in np.linspace(-u, u, 2001)], axis=0)
    np.testing.assert_allclose(stats.timing_spread(r_f, g, u), ref, atol=2e-3)
    np.testing.assert_array_equal(stats.timing_spread(r_f, g, 0.0), r_f)
    with pytest.raises(ConfigError):
        stats.timing_spread(r_f, g, -1.0)


def test_robust_statistics_match_uniform_pdp_and_flat_doppler(frame):
    g = frame.grid
    taus = np.linspace(-2.0, g.cp_len, 4001)                          # samples
    f = g.used_k / g.fft_size
    ref = np.mean(np.exp(-2j * np.pi * np.subtract.outer(f, f)[..., None] * taus), axis=-1)
    np.testing.assert_allclose(stats.robust_frequency_correlation(g, pre_samples=2.0), ref, atol=2e-3)
    t = np.arange(g.n_symbols) * g.symbol_len / g.sample_rate
    nu = np.linspace(-300.0, 300.0, 4001)
    ref_t = np.mean(np.cos(2 * np.pi * np.subtract.outer(t, t)[..., None] * nu), axis=-1)
    np.testing.assert_allclose(stats.robust_time_correlation(300.0, g), ref_t, atol=2e-3)


def test_receiver_timing_error_widened_lmmse_beats_ls(frame, rng):
    """The frame receiver's residual timing error shifts every delay by a few samples. Exact-profile
    LMMSE then fails on the shifted slots (worse than LS at high SNR); widened by the timing
    uncertainty (the default for receivers) it beats LS on every slot population."""
    from lamsc_sdr.estimation.cge_data import timing_shift
    pp, g = frame.pilot_pattern, frame.grid
    h = stats.grid_channel("lammsc", g, 400, rng)
    h = timing_shift(h, rng.uniform(-2.0, 2.0, 400), g.used_k, g.fft_size)
    y, _ = transmit_grid(h, pp, 25.0, rng)
    n0 = 10 ** -2.5
    exact = make_estimator(EstimatorConfig(kind="lmmse", timing_uncertainty_samples=0.0), frame, "lammsc")
    wide = make_estimator(EstimatorConfig(kind="lmmse"), frame, "lammsc")          # default: receiver
    ls = make_estimator(EstimatorConfig(kind="ls"), frame)
    e_ls, e_ex, e_wi = (nmse_db(e(y, pp, n0)[0], h) for e in (ls, exact, wide))
    assert e_ex > e_ls                 # the bug: exact statistics lose to LS under timing error
    assert e_wi < e_ls - 3.0


def test_frame_level_lmmse_beats_ls_on_lammsc():
    """End to end through sync, CFO correction and the receiver: LMMSE (receiver default, widened by
    the timing uncertainty) has a lower BER than LS at 20 dB on the LAM-MSC profile."""
    from lamsc_sdr.phy.evaluate import ber_curve
    rows = ber_curve(FrameConfig(), "qpsk", [20.0], 20, np.random.default_rng(5), csi=("ls", "lmmse"),
                     channel="lammsc")
    ber = {r["csi"]: r["ber"] for r in rows}
    assert ber["lmmse"] < 0.8 * ber["ls"]
