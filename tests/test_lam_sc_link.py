"""LAM-SC over the project's OFDM frames and radios; the eval contract; the CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skimage")

from lamsc_sdr.cli import main  # noqa: E402
from lamsc_sdr.config import RunConfig  # noqa: E402
from lamsc_sdr.lam_sc import images  # noqa: E402
from lamsc_sdr.lam_sc.asi import ASI, AsiConfig, AsiSelector  # noqa: E402
from lamsc_sdr.lam_sc.link import Item, transmit  # noqa: E402
from lamsc_sdr.lam_sc.model import LamScCodec, LamScModel, ModelConfig  # noqa: E402


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    """A randomly initialized LAM-SC checkpoint (SC + ASC + ASI) in the shipped format."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("lamsc") / "tiny.pt"
    LamScCodec(LamScModel(ModelConfig())).save(path, {"training_image_sha256": []},
                                               extra=AsiSelector(ASI(AsiConfig())).state())
    return path


def awgn_cfg(snr=30.0, estimator="ls"):
    return RunConfig().replace(channel={"model": "awgn", "snr_db": snr}, estimator={"kind": estimator})


def test_items_cross_the_ofdm_link():
    """Digital side information arrives bit-exact; analog symbols arrive with the channel's noise."""
    from lamsc_sdr.radio import make_radio
    cfg = awgn_cfg(30.0)
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2, 700).astype(np.uint8)
    sym = ((rng.standard_normal(7000) + 1j * rng.standard_normal(7000)) / np.sqrt(2)).astype(np.complex64)
    items = [Item(bits=bits), Item(symbols=sym)]
    with make_radio(cfg.radio, cfg) as radio:
        res = transmit(radio, cfg, items, message_id=7)
    assert res["frames"]["sent"] == res["frames"]["delivered"] == 1 + items[1].frames
    assert items[1].frames == 2                                   # 7000 symbols need two frames
    assert np.array_equal(items[0].received, bits)
    err = np.mean(np.abs(items[1].received - sym) ** 2)
    assert err < 10 ** (-30 / 10) * 3                            # ~N0 (LS estimate noise included)
    assert res["air_time_s"] > 0 and res["snr_db"] > 20


def test_eval_contract_awgn_and_phy(tiny_ckpt, tmp_path):
    """``lamsc eval image`` writes results[{system, snr_db, ssim, psnr_db, bits, channel_uses, n}]."""
    img_dir = tmp_path / "imgs"
    arr, names, meta = images.evaluation_set(1)
    images.write_image_dir(img_dir, arr[:1], names[:1], meta)
    out, plot = tmp_path / "e.json", tmp_path / "e.png"
    assert main(["eval", "image", "--images", str(img_dir), "--systems", "lam-sc,sc,sc-asc,sc-sa,jpeg",
                 "--snr", "0,20", "--checkpoint", str(tiny_ckpt), "--json", str(out), "--plot", str(plot)]) == 0
    doc = json.loads(out.read_text())
    assert plot.stat().st_size > 0
    res = doc["results"]
    assert {(r["system"], r["snr_db"]) for r in res} == {(s, v) for s in ("lam-sc", "sc", "sc-asc", "sc-sa", "jpeg")
                                                         for v in (0.0, 20.0)}
    for r in res:
        assert {"system", "snr_db", "ssim", "psnr_db", "bits", "channel_uses", "n", "ssim_ci"} <= set(r)
        assert r["n"] == 1
    sc = next(r for r in res if r["system"] == "sc")
    assert sc["channel_uses"] == 29 * 29 * 16 and sc["bits"] == 29 * 29 * 32
    lam = next(r for r in res if r["system"] == "lam-sc")
    assert lam["channel_uses"] < sc["channel_uses"]                            # black background not sent
    jpeg = [r for r in res if r["system"] == "jpeg"]
    assert all(r["channel_uses"] <= sc["channel_uses"] for r in jpeg)          # equal air time at most
    assert doc["segmenter"]["stand_in"] and "stand-in" in doc["note"]
    assert "lam_sc_vs_sc" in doc["goals"] and "sc_vs_jpeg" in doc["goals"] and "lam_sc_vs_sc_sa" in doc["goals"]
    sc_sa = next(r for r in res if r["system"] == "sc-sa")
    assert sc_sa["channel_uses"] == sc["channel_uses"]                        # the whole semantic-aware image
    # the same through OFDM frames over the simulated radio
    out2 = tmp_path / "p.json"
    assert main(["eval", "image", "--images", str(img_dir), "--limit", "1", "--systems", "lam-sc,jpeg",
                 "--snr", "25", "--channel", "phy", "--set", "channel.model=awgn",
                 "--checkpoint", str(tiny_ckpt), "--json", str(out2)]) == 0
    res2 = json.loads(out2.read_text())["results"]
    assert all(r["delivered"]["k"] == 1 for r in res2)


def test_link_command_sends_an_image(tiny_ckpt, tmp_path, monkeypatch, capsys):
    from lamsc_sdr.lam_sc import model as model_mod
    monkeypatch.setattr(model_mod, "DEFAULT_CHECKPOINT", tiny_ckpt)
    from PIL import Image
    img = tmp_path / "photo.png"
    Image.fromarray(images.evaluation_set(1)[0][0]).save(img)
    out = tmp_path / "link.json"
    assert main(["link", str(img), "--codec", "lam-sc", "--radio", "sim", "--snr", "25", "--set", "channel.model=awgn",
                 "--media-out", str(tmp_path / "media"), "--json", str(out)]) == 0
    msg = json.loads(out.read_text())["messages"][0]
    assert msg["frames"]["delivered"] == msg["frames"]["sent"] and msg["mask_delivered"]
    assert msg["stand_in"] and 0 < msg["region_fraction"] <= 1
    for f in msg["files"].values():
        assert (tmp_path / "media").joinpath(f.split("/")[-1]).is_file()
    assert "stand-in for SAM" in capsys.readouterr().out
    # a human prompt, in the photo's own pixel coordinates, picks the segment under the point
    assert main(["link", str(img), "--codec", "lam-sc", "--radio", "sim", "--snr", "25", "--set", "channel.model=awgn",
                 "--media-out", str(tmp_path / "media"), "--prompt", "64,64", "--json", str(out)]) == 0
    msg = json.loads(out.read_text())["messages"][0]
    assert msg["selection"] == "human prompt" and msg["prompt"] == [[64, 64]] and msg["selected"] == 1
    assert "human prompt" in capsys.readouterr().out


def test_prompt_points_map_into_the_sent_square():
    from lamsc_sdr.errors import ConfigError
    from lamsc_sdr.lam_sc.demo_row import square_point
    assert square_point(100, 0, (200, 400), 128) == (0, 0)            # square is x in [100, 300)
    assert square_point(299, 199, (200, 400), 128) == (127, 127)
    assert square_point(200, 100, (200, 400), 128) == (64, 64)
    with pytest.raises(ConfigError, match="centred"):
        square_point(50, 10, (200, 400), 128)
    from lamsc_sdr.cli.lam_sc_cmd import parse_prompt
    assert parse_prompt(["10,20;30,40", "5,6"]) == [(10, 20), (30, 40), (5, 6)]
    with pytest.raises(ConfigError, match="X,Y"):
        parse_prompt(["10"])


@pytest.mark.parametrize("argv, msg", [
    (["eval", "image", "--systems", "lam-sc,foo"], "unknown system"),
    (["eval", "image", "--systems", "jpeg:9qam"], "modulation-coding"),
    (["eval", "image", "--images", "/nonexistent/dir"], "no such folder"),
    (["eval", "image", "--segmenter", "sam:/nonexistent.pth"], "SAM checkpoint not found"),
    (["link", "/nonexistent.png", "--codec", "lam-sc"], "no such image file"),
    (["link", "/nonexistent.png", "--codec", "lam-sc", "--prompt", "1,x"], "--prompt"),
])
def test_cli_errors_are_one_line(argv, msg, tiny_ckpt, capsys):
    if argv[1] == "image":
        argv = argv + ["--checkpoint", str(tiny_ckpt)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("lamsc: error:") and msg in err and "Traceback" not in err
