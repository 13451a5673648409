"""Equalizers: effective noise variance against Monte Carlo; channel files; the eval CLI."""
import json

import numpy as np
import pytest

from lamsc_sdr.errors import ConfigError, ShapeError
from lamsc_sdr.estimation import equalize
from lamsc_sdr.estimation.evaluate import load_channel_file, qpsk
from lamsc_sdr.phy.grid import ResourceGrid


def _mc(rng, h_hat, err_var, n0, n=200_000):
    """Monte Carlo of y = (h_hat + e) x + n for fixed h_hat per element."""
    x = qpsk((n, h_hat.size), rng)
    e = (rng.standard_normal(x.shape) + 1j * rng.standard_normal(x.shape)) * np.sqrt(err_var / 2)
    w = (rng.standard_normal(x.shape) + 1j * rng.standard_normal(x.shape)) * np.sqrt(n0 / 2)
    y = (h_hat + e) * x + w
    return x, y


@pytest.mark.parametrize("kind,unbiased", [("mmse", False), ("mmse", True), ("zf", False)])
def test_effective_noise_variance_matches_monte_carlo(rng, kind, unbiased):
    h_hat = np.array([0.2 + 0.1j, 1.0, 1.5 - 0.7j, 0.05j], np.complex64)
    err_var, n0 = 0.05, 0.1
    x, y = _mc(rng, h_hat, err_var, n0)
    xh, nv = equalize(y, np.broadcast_to(h_hat, y.shape), err_var, n0, kind=kind, unbiased=unbiased)
    measured = np.mean(np.abs(xh - x) ** 2, axis=0)
    np.testing.assert_allclose(nv[0], measured, rtol=0.03)
    if kind == "mmse" and not unbiased:        # bias g = |h|^2 / (|h|^2 + N0 + err_var)
        g = np.abs(h_hat) ** 2 / (np.abs(h_hat) ** 2 + n0 + err_var)
        np.testing.assert_allclose(np.mean(xh * np.conj(x), axis=0).real, g, rtol=0.03, atol=2e-3)


def test_per_grid_noise_variance_broadcasts(rng):
    y = np.ones((3, 8, 52), np.complex64)
    h = np.ones_like(y)
    _, nv = equalize(y, h, np.zeros((3, 8, 52)), np.array([0.1, 0.2, 0.3]), kind="zf")
    np.testing.assert_allclose(nv[:, 0, 0], [0.1, 0.2, 0.3], rtol=1e-6)


def test_equalizer_bad_input():
    y = np.ones((2, 8, 52), np.complex64)
    with pytest.raises(ConfigError):
        equalize(y, y, 0.0, 0.1, kind="mrc")
    with pytest.raises(ShapeError):
        equalize(y, y[:1], 0.0, 0.1)
    with pytest.raises(ShapeError):
        equalize(y, y, 0.0, np.nan)


def test_channel_file_resampling_and_errors(tmp_path, rng):
    grid = ResourceGrid()
    f = np.linspace(0, 1, 26)
    h = np.exp(2j * np.pi * 0.7 * f)[None, :] * (1 + rng.random((5, 1)))
    np.save(tmp_path / "h2.npy", h)
    out = load_channel_file(tmp_path / "h2.npy", grid)
    assert out.shape == (5, *grid.shape) and out.dtype == np.complex64
    assert np.mean(np.abs(out) ** 2) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(out[:, 0], out[:, -1])           # constant over symbols
    np.save(tmp_path / "h3.npy", rng.standard_normal((4, 3, 52)) + 1j)
    assert load_channel_file(tmp_path / "h3.npy", grid).shape == (4, *grid.shape)
    bad = h.copy()
    bad[0, 3] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(ShapeError, match="NaN"):
        load_channel_file(tmp_path / "nan.npy", grid)
    np.save(tmp_path / "real.npy", np.ones((3, 52)))
    with pytest.raises(ShapeError, match="complex"):
        load_channel_file(tmp_path / "real.npy", grid)
    np.save(tmp_path / "4d.npy", np.ones((2, 2, 2, 52), np.complex64))
    with pytest.raises(ShapeError, match="shape"):
        load_channel_file(tmp_path / "4d.npy", grid)
    (tmp_path / "junk.npy").write_bytes(b"not an array")
    with pytest.raises(ConfigError):
        load_channel_file(tmp_path / "junk.npy", grid)


def test_eval_estimators_cli(tmp_path, rng):
    from lamsc_sdr.cli import main
    out = tmp_path / "e.json"
    rc = main(["eval", "estimators", "--channel", "epa", "--snr", "0:10:10", "--n", "200",
               "--estimators", "ls,lmmse,lmmse-mismatched,perfect", "--json", str(out),
               "--plot", str(tmp_path / "e.png"), "--quiet"])
    assert rc == 0
    rows = json.loads(out.read_text())["results"]
    assert {(r["estimator"], r["snr_db"]) for r in rows} >= {("ls", 0.0), ("lmmse", 10.0), ("perfect", 0.0)}
    by = {(r["estimator"], r["snr_db"]): r["nmse_db"] for r in rows}
    assert by[("lmmse", 0.0)] < by[("ls", 0.0)] - 5
    assert (tmp_path / "e.png").stat().st_size > 1000
    np.save(tmp_path / "m.npy", (rng.standard_normal((50, 52)) + 1j * rng.standard_normal((50, 52))).astype(np.complex64))
    rc = main(["eval", "estimators", "--channel-file", str(tmp_path / "m.npy"), "--snr", "10",
               "--estimators", "ls,lmmse", "--json", str(out), "--quiet"])
    assert rc == 0 and json.loads(out.read_text())["source"]["n_in_file"] == 50
    np.save(tmp_path / "bad.npy", np.ones((50, 52)))
    assert main(["eval", "estimators", "--channel-file", str(tmp_path / "bad.npy"), "--quiet"]) == 1
