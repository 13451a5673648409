"""The paper's experiments at CI size: real media through the whole chain on the offline defaults."""
import json

import pytest

from lamsc_sdr.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_fig4_small_accuracy_grows_with_snr(tmp_path):
    out = tmp_path / "fig4.json"
    assert main(["experiment", "fig4", "--size", "small", "--json", str(out), "--plot", str(tmp_path / "fig4.png"),
                 "--set", "seed=1"]) == 0
    res = json.loads(out.read_text())
    assert res["config"]["kb"]["llm"] == "rules" and (tmp_path / "fig4.png").stat().st_size > 10_000
    overall = {r["snr_db"]: r for r in res["results"] if r["modality"] == "overall"}
    assert set(overall) == {0.0, 10.0, 25.0}
    assert overall[25.0]["accuracy_text"] >= overall[0.0]["accuracy_text"]
    assert overall[25.0]["similarity_text"] > 0.8       # semantics arrive at 25 dB on 5-tap fading
    assert {r["modality"] for r in res["results"]} == {"image", "audio", "video", "overall"}


def test_compression_small_counts_air_time(tmp_path):
    out = tmp_path / "c.json"
    assert main(["experiment", "compression", "--size", "small", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    for r in res["results"]:
        # sending the raw file takes far more air time than the semantic symbols
        assert r["raw_16qam_12_air_time_s"] > 20 * r["semantic_air_time_s"]
        assert r["paper_raw_bits"] > 0
    assert {f["modulation"] for f in res["conventional_fer"]} == {"qpsk", "16qam", "64qam"}
