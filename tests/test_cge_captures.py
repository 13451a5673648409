"""CGE training data from SigMF captures with their transmitted reference (synthetic recordings)."""
import json

import numpy as np
import pytest

pytest.importorskip("torch")

from lamsc_sdr.captures.sigmf_io import SigMFRecorder  # noqa: E402
from lamsc_sdr.channel import Channel, ChannelConfig  # noqa: E402
from lamsc_sdr.errors import CaptureError  # noqa: E402
from lamsc_sdr.estimation.cge_data import CaptureSource  # noqa: E402
from lamsc_sdr.estimation.cge_train import load_cge_config, train_cge  # noqa: E402
from lamsc_sdr.phy.config import FrameConfig  # noqa: E402
from lamsc_sdr.phy.frame import FrameTransmitter  # noqa: E402
from lamsc_sdr.phy.header import FrameHeader  # noqa: E402


@pytest.fixture(scope="module")
def capture_dir(tmp_path_factory):
    """Three analog frames through a static lammsc channel at 25 dB, recorded with their reference."""
    fr = FrameConfig()
    tx = FrameTransmitter(fr)
    rng = np.random.default_rng(5)
    bursts = []
    for m in range(3):
        n = tx.capacity_symbols
        z = ((rng.standard_normal(n) + 1j * rng.standard_normal(n)) / np.sqrt(2)).astype(np.complex64)
        bursts.append(tx.modulate_symbols(z, FrameHeader(message_id=m, payload_len=n)))
    iq = tx.stream(bursts)
    y, state = Channel(ChannelConfig(model="lammsc", snr_db=25.0, timing_offset=100), fr.sample_rate)(iq, rng)
    d = tmp_path_factory.mktemp("caps")
    with SigMFRecorder(d / "ref", fr.sample_rate) as r:
        r.write(iq)
    with SigMFRecorder(d / "rx", fr.sample_rate, extra_global={"lamsc:reference": "ref"}) as r:
        r.write(y)
    return d, state


def test_capture_source_extracts_grids_and_reference_channels(capture_dir):
    d, state = capture_dir
    fr = FrameConfig()
    src = CaptureSource([d / "rx"], fr)
    assert src.y.shape[1:] == fr.grid.shape and src.y.shape == src.h.shape
    assert src.describe()["slots"] == src.y.shape[0] >= 3
    # static channel: |H_ref| matches the true channel's magnitude up to the 25 dB noise (the
    # phase carries the receiver's timing and residual-CFO drift, part of the effective channel)
    h_true = state.frequency_response(fr.grid, 0)
    err = np.mean((np.abs(src.h) - np.abs(h_true)[None]) ** 2) / np.mean(np.abs(h_true) ** 2)
    assert 10 * np.log10(err) < -15
    y, h, snr = src.sample(5, np.random.default_rng(0))
    assert y.shape == (5, *fr.grid.shape) and np.all(np.isfinite(snr))


def test_capture_without_reference_is_refused(capture_dir):
    d, _ = capture_dir
    with pytest.raises(CaptureError, match="reference"):
        CaptureSource([d / "ref"], FrameConfig())


def test_training_on_captures(capture_dir, tmp_path):
    d, _ = capture_dir
    cfg = load_cge_config(None, {"train.steps": 4, "train.batch": 8, "train.stats_slots": 8, "train.width": 8,
                                 "train.val_every": 2})
    ck = train_cge(cfg, CaptureSource([d / "rx"], cfg.frame), tmp_path / "c.pt", progress=False)
    assert ck["data"]["source"] == "captures" and len(ck["validation"]["nmse"]) == 1
    assert (tmp_path / "c.pt").exists()


def test_folder_of_captures_skips_their_references(capture_dir):
    d, _ = capture_dir
    src = CaptureSource([d], FrameConfig())
    assert [f.rsplit("/", 1)[-1] for f in src.files] == ["rx.sigmf-meta"]


def test_capture_cli_errors_are_one_line(capture_dir, tmp_path, capsys):
    """Bad input through the CLI: no captures, a capture without its reference, a checkpoint for
    another frame shape -> exit 1 and one `lamsc: error:` line each, no traceback."""
    from lamsc_sdr.cli import main
    d, _ = capture_dir
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = [(["train", "cge", "--source", str(empty), "--out", str(tmp_path / "a.pt"), "--quiet"], "no SigMF"),
             (["train", "cge", "--source", str(d / "ref"), "--out", str(tmp_path / "b.pt"), "--quiet"], "reference"),
             (["eval", "estimators", "--captures", str(empty), "--estimators", "ls"], "no SigMF")]
    cfg = load_cge_config(None, {"frame.n_symbols": 14, "train.steps": 1, "train.batch": 4, "train.stats_slots": 8,
                                 "train.val_every": 1, "train.val_per_snr": 2, "train.val_snr_db": [10.0],
                                 "data.profiles": ["lammsc"]})
    from lamsc_sdr.estimation.cge_data import SimSource
    train_cge(cfg, SimSource(cfg.data, cfg.frame), tmp_path / "f14.pt", progress=False, device="cpu")
    cases.append((["eval", "estimators", "--estimators", "ls,cgan", "--checkpoint", str(tmp_path / "f14.pt"),
                   "--n", "10", "--quiet"], "another frame layout"))
    for argv, msg in cases:
        assert main(argv) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("lamsc: error:") and msg in err[0], (argv, err)


def test_eval_estimators_on_captures(capture_dir, tmp_path):
    from lamsc_sdr.cli import main
    d, _ = capture_dir
    out = tmp_path / "e.json"
    assert main(["eval", "estimators", "--captures", str(d), "--estimators", "ls,lmmse-est", "--json", str(out)]) == 0
    body = json.loads(out.read_text())
    rows = {r["estimator"]: r for r in body["results"]}
    # a static channel at 25 dB: the adaptive LMMSE beats LS against the capture's reference
    assert rows["lmmse-est"]["nmse_db"] < rows["ls"]["nmse_db"] and rows["ls"]["slots"] >= 3
