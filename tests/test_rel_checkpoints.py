"""Issue 14: checkpoints carry a SHA-256 sidecar (hash, resolved config, versions), verified on load."""
import json
import shutil

import pytest

from lamsc_sdr.checkpoints import load_torch, shipped_checkpoints, sidecar_path, sign, verify
from lamsc_sdr.cli import main
from lamsc_sdr.errors import CheckpointIntegrityError, CheckpointMismatchError, LamscError


def test_every_shipped_checkpoint_is_signed_and_verifies():
    """Catches a new .pt shipped without `lamsc checkpoint sign`."""
    ships = shipped_checkpoints()
    assert len(ships) >= 3
    for p in ships:
        body = verify(p, required=True)
        assert body["file"] == p.name
        assert isinstance(body.get("config"), dict) and body["config"], p    # resolved config recorded
        assert body["versions"].get("lamsc_sdr") and body["versions"].get("torch"), p
        assert body["signed_with"].get("python")


def _flipped_copy(src, tmp_path):
    dst = tmp_path / src.name
    shutil.copy(src, dst)
    shutil.copy(sidecar_path(src), sidecar_path(dst))
    data = bytearray(dst.read_bytes())
    data[len(data) // 2] ^= 0x40
    dst.write_bytes(bytes(data))
    return dst


def test_flipped_byte_cge_checkpoint_refused(tmp_path):
    from lamsc_sdr.estimation.cgan import load_checkpoint
    bad = _flipped_copy(next(p for p in shipped_checkpoints() if p.name == "cge_default.pt"), tmp_path)
    with pytest.raises(CheckpointIntegrityError, match="cge_default.pt.*does not match"):
        load_checkpoint(bad)


def test_flipped_byte_semantic_checkpoint_refused_by_cli(tmp_path, capsys):
    from lamsc_sdr.semantic.config import resolve_checkpoint
    bad = _flipped_copy(resolve_checkpoint("lamsc"), tmp_path)
    msg = tmp_path / "m.txt"
    msg.write_text("hello there")
    rc = main(["link", str(msg), "--codec", "semantic", "--set", f"semantic.checkpoint={bad}"])
    err = capsys.readouterr().err
    assert rc == 1 and "does not match its sidecar" in err and str(bad) in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all\n", b"PK\x03\x04garbage"])
def test_non_checkpoint_file_never_advises_weights_only_false(tmp_path, content):
    p = tmp_path / "x.pt"
    p.write_bytes(content)
    with pytest.raises(CheckpointMismatchError) as ei:
        load_torch(p, "CGE")
    assert "weights_only" not in str(ei.value) and "x.pt" in str(ei.value) and "\n" not in str(ei.value)


def test_pickled_object_refused_without_advice(tmp_path):
    import pickle
    import torch
    p = tmp_path / "evil.pt"
    torch.save({"fn": pickle.dumps}, p)        # a global that a safe load refuses
    with pytest.raises(CheckpointMismatchError) as ei:
        load_torch(p, "semantic")
    assert "weights_only" not in str(ei.value) and "refuses" in str(ei.value)


def test_save_signs_and_sign_command(tmp_path, capsys):
    import torch
    from lamsc_sdr.estimation.cge_train import save_checkpoint
    p = tmp_path / "new.pt"
    save_checkpoint({"format": "x", "config": {"seed": 3}, "w": torch.zeros(3)}, p)
    body = json.loads(sidecar_path(p).read_text())
    assert body["config"] == {"seed": 3} and body["sha256"] and body["versions"]["lamsc_sdr"]
    q = tmp_path / "unsigned.pt"
    torch.save({"w": torch.ones(2)}, q)
    assert verify(q) is None                                      # no sidecar: warns, loads
    assert main(["checkpoint", "verify", str(q)]) == 1            # but verify insists
    assert main(["checkpoint", "sign", str(q)]) == 0
    assert main(["checkpoint", "verify", str(q)]) == 0
    q.write_bytes(q.read_bytes()[:-3] + b"abc")
    assert main(["checkpoint", "verify", str(q)]) == 1
    err = capsys.readouterr().err
    assert "does not match" in err and "Traceback" not in err


def test_malformed_sidecar_is_one_line(tmp_path):
    import torch
    p = tmp_path / "m.pt"
    torch.save({"w": torch.ones(2)}, p)
    sidecar_path(p).write_text("{not json")
    with pytest.raises(LamscError, match="sidecar"):
        load_torch(p)
    sign(p)
    assert verify(p, required=True)["file"] == "m.pt"


def test_captures_record_config_and_versions(tmp_path):
    from lamsc_sdr.captures.sigmf_io import read_capture
    msg = tmp_path / "m.txt"
    msg.write_text("hello")
    assert main(["capture", str(tmp_path / "c"), str(msg), "--snr", "25", "--set", "estimator.kind=ls"]) == 0
    g = read_capture(tmp_path / "c").global_info
    assert g["lamsc:config"]["estimator"]["kind"] == "ls"
    assert g["lamsc:versions"]["lamsc_sdr"] and g["lamsc:versions"]["numpy"]
