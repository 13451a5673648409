"""The whole chain on the shipped semantic codec, the deterministic LKB and the sim radio; the
report page rendered by a real headless browser."""
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from lamsc_sdr.config import load_config
from lamsc_sdr.errors import ConfigError
from lamsc_sdr.pipeline import Link, format_table, summary_rows
from lamsc_sdr.report import write_report

SHIPPED = Path(__file__).resolve().parents[1] / "lamsc_sdr" / "semantic" / "checkpoints"
needs_codec = pytest.mark.skipif(not any(SHIPPED.glob("*.pt")), reason="no shipped semantic checkpoint")


def _cfg(**over):
    base = {"kb.llm": "rules", "estimator.kind": "ls", "channel.model": "awgn", "channel.snr_db": 25.0, "seed": 3}
    base.update(over)
    return load_config(overrides=base)


@needs_codec
def test_text_message_round_trip(tmp_path):
    msg = tmp_path / "note.txt"
    msg.write_text("A boy and a girl in a playful pose. The background is a garden.")
    res = Link(_cfg(**{"kb.intent": "share a photo of me and my sister"})).run([msg], tmp_path)
    assert res["frames"]["sent"] >= 1 and res["frames"]["lost"] == 0
    m = res["messages"][0]
    # The sender's LKB personalizes for Mike -> Jane as the intent grounds it; the profiles never travel.
    assert "Jane" in m["semantics_sent"] and "Mike" not in m["semantics_sent"]
    assert m["text_received"] is not None and m["similarity"] > 0.8
    assert "Mike" in m["text_personalized"]
    assert m["channel_uses"] > 0 and m["modality"] == "text"


@needs_codec
def test_lost_message_scores_zero(tmp_path):
    msg = tmp_path / "note.txt"
    msg.write_text("The committee adopted the report.")
    res = Link(_cfg(**{"channel.snr_db": -15.0})).run([msg], tmp_path)
    m = res["messages"][0]
    if m["text_received"] is None:          # nothing delivered at -15 dB: counted, not invented
        assert m["similarity"] == 0.0 and res["frames"]["crc_ok"] == 0


def test_missing_media_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="no such media file"):
        Link(_cfg()).sender.prepare(tmp_path / "nope.png", 1)


def _summary(tmp_path):
    img = tmp_path / "in.png"
    from PIL import Image
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(img)
    msgs = [{"modality": "image", "source": str(img), "media_in": str(img), "media_out": str(img),
             "description": "A photo of <b>a cat</b>", "semantics_sent": "My cat",
             "text_received": "my cat <script>alert(1)</script>", "text_personalized": "Mike's cat",
             "similarity": 0.93, "similarity_media": 0.9, "channel_uses": 120, "raw_bytes": 5000,
             "frames": 1, "labels": ["image->text: offline default"], "stage_seconds": {"mma": 0.1}}]
    return {"title": "t", "messages": msgs, "table": summary_rows(msgs), "plots": [], "config": {"seed": 1}}


def test_report_escapes_untrusted_text(tmp_path):
    page = write_report(tmp_path, _summary(tmp_path)).read_text()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "offline default" in page
    assert "similarity" in format_table(summary_rows(_summary(tmp_path)["messages"]))


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian chromium not installed")
def test_report_renders_in_headless_chromium(tmp_path):
    page = write_report(tmp_path / "rep", _summary(tmp_path))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(["chromium", *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    assert "Image:" in dom and "Mike's cat" in dom and "<img" in dom
    shot = tmp_path / "shot.png"
    subprocess.run(["chromium", *flags, f"--screenshot={shot}", "--window-size=1200,900", page.as_uri()],
                   capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 5000


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian chromium not installed")
def test_demo_report_in_headless_chromium(tmp_path):
    """The main job end to end (deterministic LKB for speed), its page opened by a real browser."""
    from lamsc_sdr.cli import main
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--llm", "rules", "--json", str(tmp_path / "demo.json")]) == 0
    res = json.loads((tmp_path / "demo.json").read_text())
    assert [m["modality"] for m in res["messages"]] == ["image", "audio", "video"]
    assert all(m["channel_uses"] > 0 and m["description"] for m in res["messages"])
    for png in ("constellation.png", "channel_estimate.png", "sizes.png"):
        assert (out / png).stat().st_size > 10_000
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(["chromium", *flags, "--dump-dom", (out / "index.html").as_uri()], capture_output=True,
                         text=True, timeout=120).stdout
    assert "<audio" in dom and "<video" in dom and "channel_estimate.png" in dom and "offline default" in dom
