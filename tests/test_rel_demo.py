"""Issue 14: the demo honours --set, records what ran; verdicts flag garbled text; plots and bars."""
import contextlib
import io
import json

import numpy as np

from lamsc_sdr.cli import main
from lamsc_sdr.demo import DEMO_OVERRIDES, cli_demo_config


def test_demo_set_wins_over_demo_defaults(tmp_path):
    cfg = cli_demo_config(None, {"channel.snr_db": 3.0, "estimator.kind": "ls"})
    assert cfg.channel.snr_db == 3.0 and cfg.estimator.kind == "ls"
    assert cfg.channel.doppler_hz == DEMO_OVERRIDES["channel"]["doppler_hz"]      # the demo's own default kept
    f = tmp_path / "run.yaml"
    f.write_text("channel: {snr_db: 7.0}\nseed: 5\n")
    cfg = cli_demo_config(str(f), {"seed": 9})
    assert cfg.channel.snr_db == 7.0 and cfg.seed == 9 and cfg.estimator.kind == "cgan"
    assert DEMO_OVERRIDES["channel"]["snr_db"] == 15.0                              # not mutated


def test_demo_json_records_what_ran(tmp_path, monkeypatch):
    import lamsc_sdr.demo as demo
    seen = {}

    def fake_run_demo(cfg, out, explicit_config=False, media=None):
        seen["cfg"] = cfg
        return {"frames": {"sent": 0, "detected": 0, "crc_ok": 0, "lost": 0}, "messages": [], "table": [],
                "seconds": 0.0, "threshold": 0.6}
    monkeypatch.setattr(demo, "run_demo", fake_run_demo)
    out = tmp_path / "d.json"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["demo", "--out", str(tmp_path / "o"), "--set", "channel.snr_db=4", "--json", str(out)]) == 0
    rec = json.loads(out.read_text())["config"]
    assert seen["cfg"].channel.snr_db == 4.0 and rec["channel"]["snr_db"] == 4.0
    assert rec["channel"]["doppler_hz"] == seen["cfg"].channel.doppler_hz


def test_report_flags_garbled_with_threshold_and_snr(tmp_path):
    from lamsc_sdr.pipeline import summary_rows
    from lamsc_sdr.report import write_report
    m = {"modality": "image", "source": "a.png", "similarity": 0.631, "similarity_media": None, "channel_uses": 10,
         "raw_bytes": 100, "frames": 1, "text_received": "x", "snr_db": 3.7}
    garbled = dict(m, similarity=0.41, source="b.png")
    rows = summary_rows([m, garbled, dict(m, text_received=None, source="c.png")])
    assert [r["verdict"] for r in rows] == ["correct", "garbled (< 0.6)", "lost"]
    page = write_report(tmp_path, {"messages": [garbled], "table": rows, "threshold": 0.6,
                                   "provenance": {"versions": {"lamsc_sdr": "0.1.0", "torch": "2.13.0"}}}).read_text()
    assert "GARBLED (&lt; 0.6)" in page and "rx SNR 3.7 dB" in page and "at least 0.6" in page
    assert "torch 2.13.0" in page


def test_sizes_legend_covers_no_bar(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt
    from lamsc_sdr.demo import _size_plot
    figs = []
    monkeypatch.setattr(plt, "close", lambda fig=None: figs.append(fig))
    msgs = [{"modality": k, "raw_bytes": b, "channel_uses": u} for k, b, u in
            [("image", 190_000, 400), ("audio", 300_000, 300), ("video", 2_000_000, 500)]]
    _size_plot(msgs, tmp_path)
    fig = figs[0]
    fig.canvas.draw()
    ax = fig.axes[0]
    leg = ax.get_legend().get_window_extent()
    for patch in ax.patches:
        assert not leg.overlaps(patch.get_window_extent()), "legend over a bar"


class _TTY(io.StringIO):
    def isatty(self):
        return True


def test_link_shows_a_progress_bar_on_a_terminal(tmp_path):
    msg = tmp_path / "m.txt"
    msg.write_text("progress please " * 40)
    err = _TTY()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        assert main(["link", str(msg), "--snr", "25", "--set", "estimator.kind=ls"]) == 0
    assert "receive" in err.getvalue() and "sa" in err.getvalue()


def test_eval_phy_prints_a_table_json_to_file(tmp_path, capsys):
    out = tmp_path / "p.json"
    assert main(["eval", "phy", "--snr", "10", "--frames", "2", "--csi", "perfect", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "{" not in text and "snr_db" in text and "ber" in text
    assert json.loads(out.read_text())["results"][0]["snr_db"] == 10.0
    assert np.isfinite(json.loads(out.read_text())["results"][0]["ber"])
