"""M4SC experiment bookkeeping, the multi-user radio group over Plutos and the caption metrics."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from scipy.stats import binomtest

from lamsc_sdr.errors import ConfigError
from lamsc_sdr.m4sc.experiment import evalset_items, mcnemar_p, saving_summary
from lamsc_sdr.radio.base import Radio
from lamsc_sdr.radio.broadcast import RadioGroup


def test_saving_summary_is_a_ratio_of_totals():
    rows = [{"users": 4, "snr_db": 15.0, "modality": "image", "shared": 100, "unicast": 400, "ratio": 0.25},
            {"users": 4, "snr_db": 15.0, "modality": "audio", "shared": 300, "unicast": 400, "ratio": 0.75},
            {"users": 2, "snr_db": 15.0, "modality": "image", "shared": 50, "unicast": 50, "ratio": 1.0}]
    s = {r["users"]: r for r in saving_summary(rows)}
    assert s[4]["ratio"] == pytest.approx(400 / 800)             # not the mean of the ratios (0.5 here too)
    assert s[4]["image"]["ratio"] == 0.25 and s[4]["audio"]["ratio"] == 0.75 and s[4]["sessions"] == 2
    assert s[2]["ratio"] == 1.0 and "audio" not in s[2]


def test_mcnemar_exact_against_scipy():
    assert mcnemar_p(0, 0) == 1.0
    assert mcnemar_p(1, 9) == pytest.approx(binomtest(1, 10, 0.5).pvalue)
    assert mcnemar_p(0, 6) == pytest.approx(2 * 0.5 ** 6)


def test_evalset_items_spread_over_the_manifest(tmp_path, monkeypatch):
    root = tmp_path / "sets"
    (root / "full").mkdir(parents=True)
    items = [{"id": f"i{k}", "modality": "image", "file": f"image/i{k}.png"} for k in range(10)]
    items += [{"id": "a0", "modality": "audio", "file": "audio/a0.wav"}]
    (root / "full" / "manifest.json").write_text(json.dumps({"items": items}))
    monkeypatch.setenv("LAMSC_EVALSET_DIR", str(root))
    got = evalset_items("full", {"image": 4, "audio": 3, "video": 2})
    assert [p.name for p in got["image"]] == ["i0.png", "i3.png", "i6.png", "i9.png"]   # first, last, evenly between
    assert [p.name for p in got["audio"]] == ["a0.wav"] and got["video"] == []
    with pytest.raises(ConfigError, match="evalset build"):
        evalset_items("small", {"image": 1})


class _Rx(Radio):
    backend = "fake"

    def __init__(self):
        super().__init__()
        self.stale_dropped = 0

    def tx(self, iq):
        pass

    def rx(self, n=None):
        return np.zeros(n or 4, np.complex64)

    def discard_stale(self):
        self.stale_dropped += 1


def test_radio_group_tells_receivers_their_queue_is_stale():
    rxs = [_Rx(), _Rx(), _Rx()]
    g = RadioGroup(_Rx(), rxs)
    g.tx(np.ones(8, np.complex64))
    g.tx(np.ones(8, np.complex64))
    assert [r.stale_dropped for r in rxs] == [2, 2, 2] and g.transmitter.stale_dropped == 0


def test_pluto_discard_stale_makes_the_next_capture_fresh():
    from lamsc_sdr.radio.pluto import PlutoRadio
    r = PlutoRadio.__new__(PlutoRadio)
    r._fresh = False
    r.discard_stale()
    assert r._fresh is True


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "lamsc_sdr.cli", *args], capture_output=True, text=True, timeout=120)


def test_users_link_over_plutos_needs_one_rx_uri_per_user(tmp_path):
    users = tmp_path / "u.yaml"
    users.write_text("users: [{profile: Jane, task: describe}, {profile: Tom, task: describe}]\n")
    photo = tmp_path / "p.png"
    from PIL import Image
    Image.new("RGB", (32, 32), (200, 10, 10)).save(photo)
    r = _cli("link", str(photo), "--users", str(users), "--radio", "pluto", "--uri", "ip:127.0.0.1:1",
             "--rx-uri", "ip:127.0.0.1:2")
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "--rx-uri: give one receiver URI per user" in r.stderr and "2 users, 1 URI" in r.stderr
    r = _cli("link", str(photo), "--users", str(users), "--radio", "replay", "--uri", "x.sigmf-meta")
    assert r.returncode != 0 and "multi-user links run on the sim radio or on Plutos" in r.stderr


def test_caption_scores_retrieval_and_share():
    from lamsc_sdr.m4sc.evaluate import caption_scores
    refs = ["A pelican.", "A green bus.", "A yellow lemon."]
    same = caption_scores(refs, refs)
    assert same["retrieval_r1"]["k"] == 3 and same["k"] == 3 and same["mean"] == pytest.approx(1.0, abs=1e-5)
    assert same["retrieval_chance"] == pytest.approx(1 / 3) and same["chance_mean_cosine"] < 0.6
    swapped = caption_scores([refs[1], refs[2], refs[0]], refs)      # every hypothesis is another item's caption
    assert swapped["retrieval_r1"]["k"] == 0 and swapped["k"] == 0


def test_plot_tolerates_wilson_rounding(tmp_path):
    from lamsc_sdr.m4sc.experiment import plot_m4sc
    rows = [{"users": u, "scheme": sc, "snr_db": 15.0, "accuracy": 1.0, "ci_low": 0.8, "ci_high": 1.0 - 1e-16,
             "channel_uses": 100.0 * u} for u in (1, 2) for sc in ("shared", "unicast")]
    saving = [{"users": u, "snr_db": 15.0, "modality": "image", "shared": 100, "unicast": 100 * u, "ratio": 1 / u}
              for u in (1, 2)]
    plot_m4sc({"results": rows, "saving": saving, "overlap": [], "threshold": 0.8}, tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 1000
