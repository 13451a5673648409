"""``lamsc bench estimators`` runs and reports estimates per second against the 2 Msps need."""
import json


def test_bench_estimators_cli(tmp_path):
    from lamsc_sdr.cli import main
    out = tmp_path / "b.json"
    rc = main(["bench", "estimators", "--estimators", "ls,lmmse", "--batch", "1,4", "--min-time", "0.05",
               "--json", str(out)])
    assert rc == 0
    body = json.loads(out.read_text())
    assert body["slots_per_s_needed_at_2msps"] == 2e6 / 640
    rows = {(r["estimator"], r["batch"]): r for r in body["results"]}
    assert set(rows) == {("ls", 1), ("ls", 4), ("lmmse", 1), ("lmmse", 4)}
    assert all(r["estimates_per_s"] > 0 for r in rows.values())
