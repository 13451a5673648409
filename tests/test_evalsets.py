"""The evaluation sets: built from registry packages, hashed in a manifest, disjoint from the gallery."""
import json
import shutil

import pytest

from lamsc_sdr.experiments import evalsets
from lamsc_sdr.mma.evaluate import LIBRIVOX_DIR
from lamsc_sdr.mma.image_gen import default_gallery_dir

pytestmark = pytest.mark.skipif(not (LIBRIVOX_DIR / "transcription").is_file(),
                                reason="Debian pocketsphinx-testdata not installed")


def test_small_set_builds_verifies_and_is_disjoint_from_the_gallery(tmp_path):
    m = evalsets.build("small", tmp_path)
    assert m["counts"] == evalsets.SMALL_TARGET and m["shortfall"] == {}
    for it in m["items"]:
        assert len(it["sha256"]) == 64 and len(it["source_sha256"]) == 64 and it["licence"]
    assert evalsets.verify("small", tmp_path)["ok"]
    # a gallery photo smuggled into the set is caught (pHash), and a changed file by its hash
    img = next(it for it in m["items"] if it["modality"] == "image")
    shutil.copy(default_gallery_dir() / "coffee.jpg", tmp_path / "small" / img["file"])
    r = evalsets.verify("small", tmp_path)
    assert not r["ok"] and any("sha256" in p for p in r["problems"]) and any("coffee" in p for p in r["problems"])


def test_shipped_full_manifest_meets_the_sizes():
    """The committed manifest of the full set (docs/results/evalsets) holds >= 50/50/20 items."""
    from pathlib import Path
    p = Path(__file__).resolve().parents[1] / "docs" / "results" / "evalsets" / "manifest_full.json"
    m = json.loads(p.read_text())
    assert all(m["counts"][k] >= v for k, v in evalsets.FULL_TARGET.items())
    assert len({it["sha256"] for it in m["items"]}) == len(m["items"])          # no duplicate files
    assert m["excluded_as_in_gallery"] == [] or all(e["gallery_matches"] for e in m["excluded_as_in_gallery"])
