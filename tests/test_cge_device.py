"""Device plumbing (--device auto|cpu|cuda) on a CPU machine: auto resolves to the CPU, cuda is a
clear error, checkpoints load on the CPU, results equal the plain CPU path."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lamsc_sdr.devices import resolve_device  # noqa: E402
from lamsc_sdr.errors import ConfigError  # noqa: E402


def test_resolve_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu" and resolve_device(None) == "cpu" and resolve_device("cpu") == "cpu"
    with pytest.raises(ConfigError, match="no CUDA"):
        resolve_device("cuda")
    with pytest.raises(ConfigError, match="expected one of"):
        resolve_device("tpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == "cuda" and resolve_device("cpu") == "cpu"


def test_cgan_and_codec_on_auto_equal_cpu(monkeypatch, rng):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    from lamsc_sdr.estimation import EstimatorConfig, make_estimator, stats
    from lamsc_sdr.estimation.cgan import DEFAULT_CHECKPOINT
    from lamsc_sdr.estimation.evaluate import transmit_grid
    from lamsc_sdr.phy.config import FrameConfig
    if not DEFAULT_CHECKPOINT.exists():
        pytest.skip("no shipped CGE checkpoint")
    fr = FrameConfig()
    h = stats.grid_channel("epa", fr.grid, 8, rng)
    y, _ = transmit_grid(h, fr.pilot_pattern, 10.0, rng)
    a = make_estimator(EstimatorConfig(kind="cgan", backend="torch", device="auto"), fr)
    b = make_estimator(EstimatorConfig(kind="cgan", backend="torch", device="cpu"), fr)
    assert a.device == "cpu"
    np.testing.assert_array_equal(a(y, fr.pilot_pattern, 0.1)[0], b(y, fr.pilot_pattern, 0.1)[0])
    from lamsc_sdr.semantic.codec import SemanticCodec
    c = SemanticCodec.load("europarl", device="auto")
    assert c.device == "cpu" and next(c.model.parameters()).device.type == "cpu"


def test_cli_device_cuda_without_gpu_is_one_clear_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    from lamsc_sdr.cli import main
    rc = main(["train", "cge", "--source", "sim", "--steps", "1", "--out", str(tmp_path / "c.pt"),
               "--device", "cuda", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 1 and "no CUDA device" in err and "Traceback" not in err
    assert not (tmp_path / "c.pt").exists()


def test_cge_training_on_cpu_device(tmp_path):
    from lamsc_sdr.estimation.cge_data import SimSource
    from lamsc_sdr.estimation.cge_train import load_cge_config, train_cge
    cfg = load_cge_config(None, {"train.steps": 2, "train.batch": 4, "train.stats_slots": 8, "train.val_every": 2,
                                 "train.val_per_snr": 2, "train.val_snr_db": [10.0], "data.profiles": ["lammsc"]})
    ck = train_cge(cfg, SimSource(cfg.data, cfg.frame), tmp_path / "c.pt", progress=False, device="cpu")
    assert all(v.device.type == "cpu" for v in ck["generator"].values())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cge_on_real_cuda(tmp_path, rng):
    """On a GPU: training runs on CUDA (batches prepared by a worker process), the CGAN on CUDA agrees
    with the CPU within 0.1 dB NMSE, and the checkpoint written on CUDA loads on the CPU."""
    from lamsc_sdr.estimation import EstimatorConfig, make_estimator, stats
    from lamsc_sdr.estimation.cge_data import SimSource
    from lamsc_sdr.estimation.cge_train import load_cge_config, train_cge
    from lamsc_sdr.estimation.evaluate import transmit_grid
    cfg = load_cge_config(None, {"train.steps": 3, "train.batch": 8, "train.stats_slots": 16, "train.val_every": 3,
                                 "train.val_per_snr": 4, "train.val_snr_db": [10.0], "data.profiles": ["epa"],
                                 "train.workers": 1, "train.stats_planes": True, "train.families": 2})
    ck = train_cge(cfg, SimSource(cfg.data, cfg.frame), tmp_path / "c.pt", progress=False, device="cuda")
    assert all(v.device.type == "cpu" for v in ck["generator"].values())
    fr = cfg.frame
    h = stats.grid_channel("epa", fr.grid, 64, rng)
    y, _ = transmit_grid(h, fr.pilot_pattern, 20.0, rng)
    out = {}
    for dev, backend in (("cuda", "torch"), ("cpu", "torch"), ("cpu", "auto")):
        est = make_estimator(EstimatorConfig(kind="cgan", checkpoint=str(tmp_path / "c.pt"), device=dev,
                                             backend=backend), fr)
        a = est(y, fr.pilot_pattern, 0.01)[0]
        out[(dev, backend)] = 10 * np.log10(np.sum(np.abs(a - h) ** 2) / np.sum(np.abs(h) ** 2))
    assert max(out.values()) - min(out.values()) < 0.1, out


def test_batches_do_not_depend_on_workers_and_stats_planes(tmp_path):
    """A step's batch is a function of (seed, step) only: forked workers give the batches of the
    training process. With ``stats_planes`` the inputs carry the fitted correlations (1 at lag 0)."""
    from lamsc_sdr.estimation.cge_data import SimSource
    from lamsc_sdr.estimation.cge_train import _batches, load_cge_config
    over = {"train.batch": 6, "train.stats_slots": 12, "train.families": 2, "train.stats_planes": True,
            "data.profiles": ["epa", "tdl-a"]}
    got = []
    for workers in (0, 2):
        cfg = load_cge_config(None, {**over, "train.workers": workers})
        it = _batches(SimSource(cfg.data, cfg.frame), cfg, 3)
        got.append(list(it))
        it.close()
    for (s0, x0, r0), (s1, x1, r1) in zip(*got):
        assert s0 == s1 and x0.shape == (6, 12, 8, 52) and r0.shape == (6, 2, 8, 52)
        np.testing.assert_array_equal(x0, x1)
        np.testing.assert_array_equal(r0, r1)
    x = got[0][0][1]
    np.testing.assert_allclose(x[:, 8, :, 0], 1.0, atol=1e-6)      # Re r_f(0) = 1
    np.testing.assert_allclose(x[:, 10, 0, :], 1.0, atol=1e-6)     # Re r_t(0) = 1
    assert np.all(np.abs(x[:, 8:10]) <= 1.0 + 1e-6)


def test_stats_planes_checkpoint_runs_in_the_receiver(tmp_path, rng):
    """A 12-plane checkpoint trained with a time limit loads through make_estimator (ONNX Runtime on
    the CPU) and agrees with its PyTorch path."""
    from lamsc_sdr.estimation import EstimatorConfig, make_estimator, stats
    from lamsc_sdr.estimation.cge_data import SimSource
    from lamsc_sdr.estimation.cge_train import load_cge_config, train_cge
    from lamsc_sdr.estimation.evaluate import transmit_grid
    cfg = load_cge_config(None, {"train.steps": 50, "train.max_seconds": 0.01, "train.batch": 4,
                                 "train.stats_slots": 8, "train.val_every": 50, "train.val_per_snr": 2,
                                 "train.val_snr_db": [10.0], "data.profiles": ["lammsc"], "train.stats_planes": True})
    ck = train_cge(cfg, SimSource(cfg.data, cfg.frame), tmp_path / "c.pt", progress=False, device="cpu")
    assert ck["model"]["n_in"] == 12 and ck["train"]["steps"] < 50
    fr = cfg.frame
    h = stats.grid_channel("lammsc", fr.grid, 16, rng)
    y, _ = transmit_grid(h, fr.pilot_pattern, 15.0, rng)
    a = make_estimator(EstimatorConfig(kind="cgan", checkpoint=str(tmp_path / "c.pt"), device="cpu"), fr)
    b = make_estimator(EstimatorConfig(kind="cgan", checkpoint=str(tmp_path / "c.pt"), device="cpu",
                                       backend="torch"), fr)
    assert a.backend == "onnx" and a.n_in == 12
    np.testing.assert_allclose(a(y, fr.pilot_pattern, 0.03)[0], b(y, fr.pilot_pattern, 0.03)[0], atol=1e-4)
