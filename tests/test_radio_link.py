"""End to end: `lamsc link/send/receive/replay/calibrate` over sim, gnuradio, sigmf-file and the Pluto double."""
import json

import numpy as np
import pytest

from lamsc_sdr.captures import SigMFRecorder, read_capture, resample
from lamsc_sdr.cli import main
from lamsc_sdr.config import load_config
from lamsc_sdr.errors import ConfigError, RadioError
from lamsc_sdr.radio import make_radio

TEXT = ("Jane and me in a playful pose. The background is a garden. " * 12) + "Grüße ✓"


@pytest.fixture
def msg(tmp_path):
    p = tmp_path / "msg.txt"
    p.write_text(TEXT, encoding="utf-8")
    return p


def _json(p):
    return json.loads(p.read_text())


@pytest.mark.parametrize("backend", ["sim", "gnuradio"])
def test_link_then_replay_is_identical(backend, msg, tmp_path):
    live, rep = tmp_path / "live.json", tmp_path / "replay.json"
    cap = tmp_path / f"cap_{backend}"
    assert main(["link", str(msg), "--radio", backend, "--snr", "18", "--record", str(cap), "--json", str(live)]) == 0
    a = _json(live)
    assert a["frames"]["sent"] >= 2 and a["frames"]["lost"] == 0
    assert a["messages"][0]["text_received"] == TEXT and a["messages"][0]["exact"]
    meta = read_capture(cap)
    assert len(meta.frames()) == a["frames"]["detected"] and meta.simulated and meta.config["radio"]["backend"] == backend
    ann = meta.frames()[0]
    assert {"lamsc:message_id", "lamsc:header_crc_ok", "lamsc:snr_db", "lamsc:cfo_hz"} <= set(ann)
    ref = meta.reference()
    assert ref is not None and len(ref.frames()) == a["frames"]["sent"]
    assert np.load(str(cap) + ".frames.npz")["frames"].size == a["frames"]["detected"]
    assert main(["replay", str(cap) + ".sigmf-meta", "--json", str(rep)]) == 0
    b = _json(rep)
    assert b["frames"] == a["frames"] and b["messages"] == a["messages"]
    assert b["digest"] == a["digest"]                       # bit-exact: same bits and symbols


def test_replay_resamples_recordings_at_other_rates(msg, tmp_path):
    cap = tmp_path / "cap"
    assert main(["link", str(msg), "--radio", "sim", "--snr", "25", "--set", "channel.model=awgn",
                 "--record", str(cap)]) == 0
    c = read_capture(cap)
    other = tmp_path / "other_equipment"
    with SigMFRecorder(other, 1.92e6, c.center_freq, hardware="someone else's SDR",
                       extra_global={"lamsc:messages": c.messages, "lamsc:frames_sent": 3}) as rec:
        y = resample(c.samples, c.sample_rate, 1.92e6)
        rec.write(y * np.exp(2j * np.pi * 3000 / 1.92e6 * np.arange(y.size)))   # their LO is 3 kHz off
    out = tmp_path / "r.json"
    assert main(["replay", str(other) + ".sigmf-meta", "--set", "channel.model=awgn", "--json", str(out)]) == 0
    r = _json(out)
    assert r["recorded_sample_rate"] == 1.92e6 and r["messages"][0]["text_received"] == TEXT


def test_sigmf_file_send_then_replay(msg, tmp_path):
    out = tmp_path / "tx"
    assert main(["send", str(msg), "--radio", "sigmf-file", "--record", str(out)]) == 0
    cap = read_capture(out)
    assert cap.global_info["lamsc:direction"] == "tx" and len(cap.frames()) == cap.global_info["lamsc:frames_sent"]
    res = tmp_path / "r.json"
    assert main(["replay", str(out) + ".sigmf-meta", "--json", str(res)]) == 0
    assert _json(res)["messages"][0]["exact"]


def test_truncated_capture_still_replays_what_it_holds(msg, tmp_path):
    cap = tmp_path / "cap"
    assert main(["link", str(msg), "--radio", "sim", "--snr", "20", "--record", str(cap)]) == 0
    data = tmp_path / "cap.sigmf-data"
    full = _json_frames = read_capture(cap)
    starts = [a["core:sample_start"] for a in full.frames()]
    cut = starts[1] * 8 + 5                  # mid-sample, inside the second frame
    data.write_bytes(data.read_bytes()[:cut])
    out = tmp_path / "r.json"
    assert main(["replay", str(cap) + ".sigmf-meta", "--json", str(out)]) == 4   # exit 4: no message delivered
    r = _json(out)
    assert r["truncated_bytes"] == 5 and r["frames"]["crc_ok"] >= 1 and not r["messages"][0]["complete"]


def test_bad_input_is_a_clear_cli_error(tmp_path, capsys):
    assert main(["replay", str(tmp_path / "missing.sigmf-meta")]) == 1
    assert "not found" in capsys.readouterr().err
    assert main(["link", str(tmp_path / "nope.txt"), "--radio", "sim"]) == 1
    assert "cannot read message file" in capsys.readouterr().err
    assert main(["link", str(tmp_path), "--radio", "pluto", "--uri", "ip:127.0.0.1:9"]) == 1
    err = capsys.readouterr().err
    assert "127.0.0.1:9" in err or "cannot read" in err
    cfg = load_config()
    with pytest.raises(ConfigError, match="replay"):
        make_radio(cfg.replace(radio={"backend": "replay"}).radio, cfg)
    with pytest.raises(RadioError, match="output path"):
        make_radio(cfg.replace(radio={"backend": "sigmf-file"}).radio, cfg)
    with pytest.raises(ConfigError, match="radio.backend"):
        cfg.replace(radio={"backend": "hackrf"})


def test_pluto_double_two_device_link_with_calibration(msg, tmp_path):
    a = "double:a?ppm=6&air=t&path_loss_db=30&noise_dbfs=-95"
    b = "double:b?ppm=-3&air=t"
    cal = tmp_path / "cal.yaml"
    assert main(["calibrate", "--radio", "pluto", "--uri", a, "--rx-uri", b, "--target-snr", "25",
                 "--out", str(cal)]) == 0
    from lamsc_sdr.calibration import load_calibration
    c = load_calibration(cal)
    assert abs(c.cfo_ppm - 9.0) < 0.05 and c.clipping == 0
    out = tmp_path / "l.json"
    assert main(["link", str(msg), "--radio", "pluto", "--uri", a, "--rx-uri", b, "--calibration", str(cal),
                 "--set", "radio.buffer_size=16384", "--record", str(tmp_path / "p"), "--json", str(out)]) == 0
    r = _json(out)
    assert r["messages"][0]["exact"] and r["frames"]["lost"] == 0
    assert read_capture(tmp_path / "p").calibration["cfo_ppm"] == c.cfo_ppm


@pytest.mark.slow
def test_soak_10000_frames_through_gnuradio_loses_none():
    from lamsc_sdr.radio.bench import soak
    cfg = load_config(None, {"radio.backend": "gnuradio", "channel.snr_db": 30.0})
    r = soak(cfg, 10000, 400)
    assert r["frames"]["lost"] == 0
    assert r["rss_mb"]["second_half_growth"] < 20


@pytest.mark.slow
def test_fer_sim_and_gnuradio_agree():
    from lamsc_sdr.radio.bench import fer_sweep
    cfg = load_config(None, {"channel.model": "awgn"})
    r = fer_sweep(cfg, ["sim", "gnuradio"], [3.5, 4.5, 5.5], 400, 400)
    assert r["agree"], r["rows"]
