"""The image deep-JSCC contender (LAM-SC's SC codec) at equal air time: never more air than LAM-MSC
used, the codec's own decode as the reference at high SNR, and quality that follows the budget."""
import numpy as np
import pytest

from lamsc_sdr.lam_sc.model import DEFAULT_CHECKPOINT

pytestmark = pytest.mark.skipif(not DEFAULT_CHECKPOINT.is_file(), reason="no LAM-SC checkpoint")


@pytest.fixture(scope="module")
def jscc():
    from lamsc_sdr.config import RunConfig
    from lamsc_sdr.experiments.deepjscc import DeepJscc
    cfg = RunConfig().replace(channel={"model": "awgn", "cfo_hz": 0.0}, estimator={"kind": "ls"})
    return DeepJscc(cfg)


@pytest.fixture(scope="module")
def photo():
    from skimage import data
    return data.astronaut()[::2, ::2].copy()                 # (256, 256, 3) uint8


def test_fit_never_exceeds_the_budget(jscc):
    from lamsc_sdr.experiments.deepjscc import _air, fit
    fr = jscc.cfg.frame
    full128 = _air(fr, 29 * 29 * 16)
    assert fit(fr, full128) == (128, 841) and fit(fr, full128 - 1)[0] == 64
    for budget in (300, 1000, 1776, 3000, 9000, full128 - 1):
        side, k = fit(fr, budget)
        assert _air(fr, k * 16) <= budget
        if side == 32 and k < 25:                              # one more position would not fit
            assert _air(fr, (k + 1) * 16) > budget


def test_high_snr_matches_the_codecs_own_decode_and_budget_orders_quality(jscc, photo):
    from PIL import Image
    from lamsc_sdr.experiments.deepjscc import _air
    fr = jscc.cfg.frame
    got, info = jscc.send(photo, _air(fr, 841 * 16), 40.0, 1)
    assert info["side"] == 128 and info["positions_sent"] == 841 and info["frames_delivered"] == info["frames_sent"]
    sq = np.array(Image.fromarray(photo).resize((128, 128), Image.BICUBIC))
    sym, mask = jscc.codec.encode(sq)
    ref = np.asarray(Image.fromarray(jscc.codec.decode(sym, mask)).resize((256, 256), Image.BICUBIC))
    assert got.shape == photo.shape and np.mean(np.abs(got.astype(float) - ref)) < 3.0   # channel ~ transparent
    err = {}
    for budget in (_air(fr, 841 * 16), _air(fr, 169 * 16), _air(fr, 12 * 16)):
        out, info = jscc.send(photo, budget, 40.0, 1)
        err[info["side"], info["positions_sent"]] = float(np.mean(np.abs(out.astype(float) - photo)))
    e = list(err.values())
    keys = list(err)                     # (a frame's slots hold a few more positions than asked for)
    assert keys[:2] == [(128, 841), (64, 169)] and keys[2][0] == 32 and 12 <= keys[2][1] < 25, err
    assert e[0] < e[1] < e[2], err


@pytest.mark.slow
def test_contenders_small_has_the_deep_jscc_row(tmp_path):
    import json

    from lamsc_sdr.cli import main
    from lamsc_sdr.experiments.deepjscc import SYSTEM
    out = tmp_path / "contenders.json"
    assert main(["experiment", "contenders", "--size", "small", "--limit", "1", "--json", str(out),
                 "--out-dir", str(tmp_path / "exp")]) == 0
    res = json.loads(out.read_text())
    systems = {r["system"] for r in res["results"]}
    assert SYSTEM in systems and "LAM-MSC" in systems
    jscc = [c for c in res["contender_records"] if c["system"] == SYSTEM]
    assert len(jscc) == 1 and 0 < jscc[0]["air_samples"] <= jscc[0]["lamsc_air_samples"]
    assert res["air_time_ratio_contender_over_lamsc"][SYSTEM] <= 1.0
