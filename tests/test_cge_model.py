"""CGE: model shapes, complex handling, training/checkpoint round trip, mismatch and bad input."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lamsc_sdr.errors import CaptureError, CheckpointMismatchError, ConfigError, ShapeError  # noqa: E402
from lamsc_sdr.estimation import EstimatorConfig, make_estimator  # noqa: E402
from lamsc_sdr.estimation import stats  # noqa: E402
from lamsc_sdr.estimation.cgan import (DEFAULT_CHECKPOINT, N_IN, build_models, channels_to_complex,  # noqa: E402
                                       complex_to_channels, make_conditioning, make_inputs)
from lamsc_sdr.estimation.cge_data import CaptureSource, SimDataConfig, SimSource, reference_channel  # noqa: E402
from lamsc_sdr.estimation.cge_train import load_cge_config, save_checkpoint, train_cge  # noqa: E402
from lamsc_sdr.estimation.evaluate import transmit_grid  # noqa: E402
from lamsc_sdr.phy.config import FrameConfig, PilotConfig  # noqa: E402

torch.set_num_threads(1)


def tiny_cfg(**train):
    t = {"steps": 12, "batch": 8, "stats_slots": 16, "width": 8, "val_every": 6, "val_per_snr": 4,
         "val_snr_db": [0.0, 30.0], **train}
    return load_cge_config(None, {"seed": 3, "data.profiles": ["lammsc", "epa"], **{f"train.{k}": v for k, v in t.items()}})


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    cfg = tiny_cfg()
    out = tmp_path_factory.mktemp("ck") / "cge.pt"
    train_cge(cfg, SimSource(cfg.data, cfg.frame), out, progress=False, curves=out.with_suffix(".png"))
    return out


@pytest.mark.parametrize("shape", [(8, 52), (7, 50), (14, 64)])
def test_generator_and_discriminator_shapes(shape):
    g, d = build_models(8)
    x = torch.randn(3, N_IN, *shape)
    out = g(x)
    assert out.shape == (3, 2, *shape)
    logits = d(x, out)
    assert logits.shape[:2] == (3, 1)
    # logits, not probabilities: no sigmoid anywhere in the discriminator
    assert not any(isinstance(m, torch.nn.Sigmoid) for m in d.modules())
    assert sum(isinstance(m, torch.nn.Conv2d) for m in d.modules()) == 4
    assert sum(isinstance(m, torch.nn.Conv2d) for m in g.modules()) == 3
    assert sum(isinstance(m, torch.nn.ConvTranspose2d) for m in g.modules()) == 3   # 2 up + output


def test_complex_images_keep_real_and_imag_as_channels(rng):
    z = (rng.standard_normal((2, 8, 52)) + 1j * rng.standard_normal((2, 8, 52))).astype(np.complex64)
    c = complex_to_channels(z)
    np.testing.assert_array_equal(c[:, 0], z.real)
    np.testing.assert_array_equal(c[:, 1], z.imag)
    np.testing.assert_array_equal(channels_to_complex(c), z)
    t = complex_to_channels(torch.from_numpy(z))
    np.testing.assert_array_equal(channels_to_complex(t).numpy(), z)


def test_inputs_are_normalised_by_pilot_scale(rng):
    fr = FrameConfig()
    pp = fr.pilot_pattern
    h = stats.grid_channel("epa", fr.grid, 4, rng)
    y, _ = transmit_grid(h, pp, 20.0, rng)
    x1, _, s1, g1 = make_inputs(y, pp, 0.01, make_conditioning(pp, track=False))
    x2, _, s2, g2 = make_inputs(y * 7.0, pp, 0.49, make_conditioning(pp, track=False))
    np.testing.assert_allclose(x1, x2, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(s2, 7 * s1, rtol=1e-5)
    np.testing.assert_allclose(g1, g2, rtol=1e-4)
    np.testing.assert_allclose(g1, np.sqrt(0.01) / s1, rtol=1e-5)     # sigma = sqrt(N0) / s


def test_untrained_generator_is_the_adaptive_lmmse(rng):
    """Residual learning: the output layer starts at zero, so an untrained generator returns the
    adaptive-LMMSE conditioning exactly; the correction is scaled by the slot's noise level."""
    fr = FrameConfig()
    pp = fr.pilot_pattern
    h = stats.grid_channel("tdl-c", fr.grid, 64, rng)
    y, _ = transmit_grid(h, pp, 25.0, rng)
    x, h_est, s, sigma = make_inputs(y, pp, 10 ** -2.5, make_conditioning(pp, track=False))
    g, _ = build_models(8)
    g.eval()
    with torch.no_grad():
        out = channels_to_complex(g.estimate(torch.from_numpy(x)).numpy()) * s[:, None, None]
        np.testing.assert_allclose(g.sigma(torch.from_numpy(x)).numpy().ravel(), sigma, rtol=1e-4)
    np.testing.assert_allclose(out, h_est, rtol=1e-4, atol=1e-5)
    ref, _ = make_estimator(EstimatorConfig(kind="lmmse-est"), fr)(y, pp, 10 ** -2.5)
    np.testing.assert_allclose(h_est, ref, rtol=1e-4, atol=1e-5)
    # pilot innovation planes: (h_ls - h_est) / sqrt(N0) at the pilots, zero elsewhere
    t, f = pp.pilot_index
    inno = (y[:, t, f] / pp.values[t, f] - h_est[:, t, f]) / np.sqrt(10 ** -2.5)
    np.testing.assert_allclose(x[:, 4, t, f], inno.real, rtol=1e-3, atol=1e-3)
    assert np.all(x[:, 4:6][:, :, ~pp.mask] == 0)


def test_trained_checkpoint_round_trip_and_gain_invariance(tiny_ckpt, rng):
    fr = FrameConfig()
    est = make_estimator(EstimatorConfig(kind="cgan", checkpoint=str(tiny_ckpt)), fr)
    h = stats.grid_channel("lammsc", fr.grid, 5, rng)
    y, _ = transmit_grid(h, fr.pilot_pattern, 15.0, rng)
    h1, e1 = est(y, fr.pilot_pattern, 10 ** -1.5)
    assert h1.shape == y.shape and h1.dtype == np.complex64 and e1.dtype == np.float32
    assert np.all(e1 > 0) and np.all(np.isfinite(h1))
    est.reset()
    h2, _ = est(3 * y, fr.pilot_pattern, 9 * 10 ** -1.5)          # the estimate scales with the gain
    np.testing.assert_allclose(h2, 3 * h1, rtol=1e-3, atol=1e-3)
    est.reset()
    est(y, fr.pilot_pattern, 10 ** -1.5)
    hb, _ = est(y[0], fr.pilot_pattern, 10 ** -1.5)                # unbatched (same tracked statistics)
    np.testing.assert_allclose(hb, h1[0], rtol=1e-3, atol=1e-4)
    ck = torch.load(tiny_ckpt, weights_only=True)
    assert ck["signature"]["n_symbols"] == 8 and ck["data"]["source"] == "sim"
    assert len(ck["validation"]["nmse"]) == 2 and ck["history"]["val_step"] == [0, 6, 12]
    assert ck["format"] == "lamsc-cge-3" and isinstance(ck["onnx"], bytes)
    assert tiny_ckpt.with_suffix(".png").stat().st_size > 1000
    with pytest.raises(ShapeError):
        est(y[:, :, :50], fr.pilot_pattern, 0.1)
    bad = y.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ShapeError):
        est(bad, fr.pilot_pattern, 0.1)


def test_checkpoint_for_another_frame_layout_is_refused(tiny_ckpt, tmp_path):
    other = FrameConfig(pilots=PilotConfig(kind="comb", freq_spacing=4))
    with pytest.raises(CheckpointMismatchError, match="kind"):
        make_estimator(EstimatorConfig(kind="cgan", checkpoint=str(tiny_ckpt)), other)
    with pytest.raises(CheckpointMismatchError, match="n_symbols"):
        make_estimator(EstimatorConfig(kind="cgan", checkpoint=str(tiny_ckpt)), FrameConfig(n_symbols=14))
    (tmp_path / "junk.pt").write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointMismatchError):
        make_estimator(EstimatorConfig(kind="cgan", checkpoint=str(tmp_path / "junk.pt")), FrameConfig())
    with pytest.raises(ConfigError, match="not found"):
        make_estimator(EstimatorConfig(kind="cgan", checkpoint=str(tmp_path / "none.pt")), FrameConfig())


def test_interrupted_save_leaves_nothing(tmp_path):
    class Boom:
        def __reduce__(self):
            raise RuntimeError("boom")
    with pytest.raises(Exception):
        save_checkpoint({"x": Boom()}, tmp_path / "c.pt")
    assert list(tmp_path.iterdir()) == []


def test_cge_config_errors(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("schema_version: 1\ntrain: {stepz: 3}\n")
    with pytest.raises(ConfigError, match="train.stepz"):
        load_cge_config(p)
    with pytest.raises(ConfigError, match="profile"):
        SimSource(SimDataConfig(profiles=("nope",)), FrameConfig())


def test_reference_channel_from_known_grid(rng):
    h = (rng.standard_normal((2, 8, 52)) + 1j * rng.standard_normal((2, 8, 52))).astype(np.complex64)
    x = ((rng.integers(0, 2, h.shape) * 2 - 1) + 0j).astype(np.complex64)
    x[0, 3, 10] = 0                                               # a null: filled from neighbours
    href = reference_channel(h * x, x)
    m = np.ones(h.shape, bool)
    m[0, 3, 10] = False
    np.testing.assert_allclose(href[m], h[m], rtol=1e-5)
    np.testing.assert_allclose(href[0, 3, 10], (h[0, 3, 9] + h[0, 3, 11]) / 2, rtol=1e-5)
    with pytest.raises(ShapeError):
        reference_channel(h, x[:1])


def test_empty_or_corrupt_capture_set(tmp_path):
    with pytest.raises(CaptureError, match="no SigMF"):
        CaptureSource([tmp_path], FrameConfig())
    with pytest.raises(CaptureError, match="not found"):
        CaptureSource([tmp_path / "missing"], FrameConfig())
    (tmp_path / "bad.sigmf-meta").write_text("{not json")
    with pytest.raises(CaptureError):
        CaptureSource([tmp_path], FrameConfig())
    (tmp_path / "bad.sigmf-meta").write_text(json.dumps({"global": {"core:datatype": "cf32_le"}}))
    with pytest.raises(CaptureError):
        CaptureSource([tmp_path / "bad.sigmf-meta"], FrameConfig())


def test_train_cli_refuses_mixed_sources(tmp_path):
    from lamsc_sdr.cli import main
    assert main(["train", "cge", "--source", "sim", str(tmp_path), "--out", str(tmp_path / "x.pt"), "--quiet"]) == 1
    assert not (tmp_path / "x.pt").exists()


@pytest.mark.skipif(not DEFAULT_CHECKPOINT.exists(), reason="shipped checkpoint not built yet")
def test_shipped_checkpoint_beats_ls_and_mismatched_lmmse(rng):
    fr = FrameConfig()
    pp = fr.pilot_pattern
    cg = make_estimator(EstimatorConfig(kind="cgan"), fr)
    ls = make_estimator(EstimatorConfig(kind="ls"), fr)
    mm = make_estimator(EstimatorConfig(kind="lmmse-mismatched", timing_uncertainty_samples=0), fr)
    h = stats.grid_channel("lammsc", fr.grid, 400, rng)
    y, _ = transmit_grid(h, pp, 5.0, rng)
    e_cg = np.sum(np.abs(cg(y, pp, 10 ** -0.5)[0] - h) ** 2)
    e_ls = np.sum(np.abs(ls(y, pp, 10 ** -0.5)[0] - h) ** 2)
    assert 10 * np.log10(e_ls / e_cg) > 3.0
    for snr in (10.0, 30.0):
        y, _ = transmit_grid(h, pp, snr, rng)
        n0 = 10 ** (-snr / 10)
        e_cg = np.sum(np.abs(cg(y, pp, n0)[0] - h) ** 2)
        e_mm = np.sum(np.abs(mm(y, pp, n0)[0] - h) ** 2)
        assert 10 * np.log10(e_mm / e_cg) > 3.0


@pytest.mark.skipif(not DEFAULT_CHECKPOINT.exists(), reason="shipped checkpoint not built yet")
def test_fast_path_agrees_with_pytorch(rng):
    """The receiver's default path (ONNX Runtime) gives the PyTorch model's NMSE within 0.1 dB."""
    pytest.importorskip("onnxruntime")
    fr = FrameConfig()
    pp = fr.pilot_pattern
    from lamsc_sdr.estimation.cgan import CGANEstimator, load_checkpoint
    ck = load_checkpoint(DEFAULT_CHECKPOINT)
    # an arbitrary generator (the shipped output layer may be near zero): perturb every weight
    g = torch.Generator().manual_seed(0)
    ck["generator"] = {k: v + 0.05 * torch.randn(v.shape, generator=g) if v.is_floating_point() else v
                       for k, v in ck["generator"].items()}
    ck.pop("onnx", None)                                          # exported from these weights
    fast = CGANEstimator(ck, pp, backend="auto", device="cpu")
    ref = CGANEstimator(ck, pp, backend="torch", device="cpu")
    assert fast.backend == "onnx" and ref.backend == "torch"
    # the receiver's default (device auto, backend auto): ONNX Runtime on a CPU-only machine, PyTorch
    # on CUDA where a GPU is present; on the CPU explicitly it is always ONNX Runtime
    want = "torch" if torch.cuda.is_available() else "onnx"
    assert make_estimator(EstimatorConfig(kind="cgan"), fr).backend == want
    assert make_estimator(EstimatorConfig(kind="cgan", device="cpu"), fr).backend == "onnx"
    h = stats.grid_channel("eva", fr.grid, 200, rng)
    for snr in (0.0, 15.0, 30.0):
        y, _ = transmit_grid(h, pp, snr, rng)
        n0 = 10 ** (-snr / 10)
        a, b = fast(y, pp, n0)[0], ref(y, pp, n0)[0]
        na = 10 * np.log10(np.sum(np.abs(a - h) ** 2) / np.sum(np.abs(h) ** 2))
        nb = 10 * np.log10(np.sum(np.abs(b - h) ** 2) / np.sum(np.abs(h) ** 2))
        assert abs(na - nb) < 0.1
        np.testing.assert_allclose(a, b, atol=1e-4)


@pytest.mark.skipif(not DEFAULT_CHECKPOINT.exists(), reason="shipped checkpoint not built yet")
def test_shipped_checkpoint_through_the_frame_receiver():
    """End to end (sync, CFO, timing error): the CGAN's BER at 20 dB on the LAM-MSC profile beats LS."""
    from lamsc_sdr.phy.evaluate import ber_curve
    rows = ber_curve(FrameConfig(), "qpsk", [20.0], 10, np.random.default_rng(5), csi=("ls", "cgan"),
                     channel="lammsc")
    ber = {r["csi"]: r["ber"] for r in rows}
    assert ber["cgan"] < 0.8 * ber["ls"]


def test_old_format_checkpoint_is_refused(tmp_path):
    """A checkpoint of the previous (robust-LMMSE-conditioned) format cannot be loaded into this generator."""
    p = tmp_path / "old.pt"
    torch.save({"format": "lamsc-cge-2", "signature": {}, "generator": {}}, p)
    with pytest.raises(CheckpointMismatchError, match="format"):
        make_estimator(EstimatorConfig(kind="cgan", checkpoint=str(p)), FrameConfig())
