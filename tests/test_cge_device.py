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
