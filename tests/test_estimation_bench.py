"""``lamsc bench estimators`` reports estimates per second against the 2 Msps need: its numbers are
checked for their own arithmetic and against a rate this test measures itself for the same LS call."""
import json
import time

import numpy as np
import pytest


def _own_rate(batch: int, seconds: float = 0.2) -> float:
    """LS estimates per second, timed here with perf_counter (independent of estimation.evaluate.bench)."""
    from lamsc_sdr.estimation import EstimatorConfig, make_estimator
    from lamsc_sdr.phy.config import FrameConfig
    fr = FrameConfig()
    est = make_estimator(EstimatorConfig(kind="ls"), fr)
    rng = np.random.default_rng(0)
    y = (rng.standard_normal((batch,) + fr.grid.shape) + 1j * rng.standard_normal((batch,) + fr.grid.shape)
         ).astype(np.complex64)
    calls, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        est(y, fr.pilot_pattern, 0.1)
        calls += 1
    return calls * batch / (time.perf_counter() - t0)


def test_bench_estimators_cli(tmp_path):
    from lamsc_sdr.cli import main
    out = tmp_path / "b.json"
    rc = main(["bench", "estimators", "--estimators", "ls,lmmse", "--batch", "1,4", "--min-time", "0.2",
               "--json", str(out)])
    assert rc == 0
    ref = _own_rate(4)
    body = json.loads(out.read_text())
    need = 2e6 / 640
    assert body["slots_per_s_needed_at_2msps"] == need
    rows = {(r["estimator"], r["batch"]): r for r in body["results"]}
    assert set(rows) == {("ls", 1), ("ls", 4), ("lmmse", 1), ("lmmse", 4)}
    for (name, b), r in rows.items():            # rate x time per call = slots per call; ratio = rate / need
        assert r["estimates_per_s"] * r["seconds_per_call"] == pytest.approx(b, rel=1e-9)
        assert r["realtime_factor_2msps"] == pytest.approx(r["estimates_per_s"] / need, rel=1e-9)
    # the same LS call timed here: within 10x either way (a shared machine moves timings, a unit or
    # batch-count error moves them by orders of magnitude)
    assert ref / 10 < rows[("ls", 4)]["estimates_per_s"] < ref * 10, (rows[("ls", 4)], ref)
