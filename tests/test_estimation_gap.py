"""The gap study (`lamsc eval estimator-gap`): grid regions partition the slot, and the CLI reports
the NMSE per region with the gap to genie LMMSE (0 for genie itself)."""
import json

import numpy as np

from lamsc_sdr.estimation.gap import REGIONS, region_masks
from lamsc_sdr.phy.config import FrameConfig


def test_regions_partition_the_grid():
    pp = FrameConfig().pilot_pattern
    m = region_masks(pp)
    assert tuple(m) == REGIONS
    total = sum(v.astype(int) for v in m.values())
    assert np.all(total == 1)                                   # disjoint and covering
    assert np.array_equal(m["pilot"], pp.mask)
    assert not m["edge-sc"][:, 3:-3].any() and not m["edge-symbol"][1:-1].any()


def test_estimator_gap_cli(tmp_path, capsys):
    from lamsc_sdr.cli import main
    out = tmp_path / "gap.json"
    rc = main(["eval", "estimator-gap", "--channel", "epa", "--snr", "20", "--doppler", "0,100", "--estimators",
               "ls,lmmse-est", "--n", "40", "--warmup", "40", "--quiet", "--json", str(out),
               "--plot", str(tmp_path / "gap.png")])
    assert rc == 0
    rows = json.loads(out.read_text())["results"]
    assert {r["region"] for r in rows} == {"all", *REGIONS}
    assert all(abs(r["gap_db"]) < 1e-9 for r in rows if r["estimator"] == "lmmse")
    ls = [r for r in rows if r["estimator"] == "ls" and r["region"] == "all"]
    assert len(ls) == 2 and all(r["gap_db"] > 3 for r in ls)    # LS is far from genie at 20 dB
    assert (tmp_path / "gap_maps.png").exists() and (tmp_path / "gap_doppler.png").exists()
    assert "gap to genie" in capsys.readouterr().out
