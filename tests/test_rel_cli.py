"""Issue 14: exit codes, status lines, replay overrides, input and output-path validation."""
import json

import pytest

from lamsc_sdr.cli import main
from lamsc_sdr.verdict import EXIT_ALL, EXIT_NOTHING, EXIT_PARTIAL, exit_code, message_status

TEXT = ("Moreover, a total ban on discards is not realistic, as we know. In my opinion the Commission "
        "should look again at the proposal and come back with something that the fleet can live with. ") * 8


@pytest.fixture
def msg(tmp_path):
    p = tmp_path / "m.txt"
    p.write_text(TEXT)
    return p


def _one_error_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("lamsc: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_link_all_lost_exits_4_and_json_says_so(msg, tmp_path, capsys):
    out = tmp_path / "o.json"
    assert main(["link", str(msg), "--snr", "-20", "--json", str(out)]) == EXIT_NOTHING
    res = json.loads(out.read_text())
    assert res["exit_code"] == 4 and res["messages"][0]["text_received"] is None
    text = capsys.readouterr().out
    assert "message 1: lost" in text and "None" not in text and "exit 4" in text


def test_link_delivered_exits_0(msg, capsys):
    assert main(["link", str(msg), "--snr", "25", "--set", "estimator.kind=ls"]) == EXIT_ALL
    assert "message 1: exact" in capsys.readouterr().out


def test_link_max_samples_honoured_partial_status(msg, capsys):
    assert main(["link", str(msg), "--snr", "25", "--set", "estimator.kind=ls", "--max-samples", "3000"]) == 4
    out = capsys.readouterr().out
    assert "partial: 1/" in out and "segments" in out and "incomplete None" not in out


def test_exit_code_rules():
    ok = {"text_received": "a", "exact": True}
    lost = {"text_received": None, "segments": 3, "segments_received": 0}
    assert exit_code([ok, ok]) == EXIT_ALL
    assert exit_code([ok, lost]) == EXIT_PARTIAL
    assert exit_code([lost]) == EXIT_NOTHING and exit_code([]) == EXIT_NOTHING
    garbled = {"text_received": "x y", "similarity": 0.43}
    assert exit_code([ok, garbled]) == EXIT_PARTIAL


def test_status_lines():
    assert message_status({"text_received": "a", "text_sent": "a", "similarity": 1.0}) == "delivered, similarity 1.000"
    assert message_status({"text_received": "a", "similarity": 0.631}).startswith("delivered")
    assert message_status({"text_received": "a", "similarity": 0.43}) == "garbled: similarity 0.430 < 0.6"
    assert message_status({"text_received": None, "segments": 237, "segments_received": 70}) == \
        "partial: 70/237 segments"
    assert message_status({"text_sent": "a", "frames": 3}) == "sent (3 frames)"


def test_send_status_is_not_incomplete_none(msg, tmp_path, capsys):
    assert main(["send", str(msg), "--radio", "sigmf-file", "--record", str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    assert "incomplete" not in out and "None" not in out and "sent (" in out


@pytest.fixture
def cap128(msg, tmp_path):
    base = tmp_path / "cap128"
    rc = main(["capture", str(base), str(msg), "--snr", "25", "--set", "frame.fft_size=128", "--set",
               "frame.cp_len=32", "--set", "estimator.kind=ls"])
    assert rc == 0
    return base


def test_replay_overrides_apply_on_top_of_the_recording(cap128, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["replay", str(cap128), "--seed", "3", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["config"]["frame"]["fft_size"] == 128 and res["config"]["seed"] == 3
    assert main(["replay", str(cap128), "--set", "estimator.kind=lmmse", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["config"]["estimator"]["kind"] == "lmmse" and res["config"]["frame"]["cp_len"] == 32
    assert all(m["exact"] for m in res["messages"])
    capsys.readouterr()
    assert main(["replay", str(cap128), "--set", "frame.fft_size=64"]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "frame layout" in line and "fft_size" in line


def test_replay_cut_off_recording_warns_once_and_records(msg, tmp_path, capsys, caplog):
    base = tmp_path / "cap"
    assert main(["capture", str(base), str(msg), "--snr", "25", "--set", "estimator.kind=ls"]) == 0
    meta = base.with_name(base.name + ".sigmf-meta")
    data = base.with_name(base.name + ".sigmf-data")
    m = json.loads(meta.read_text())
    m["global"]["lamsc:complete"] = False
    meta.write_text(json.dumps(m))
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2 + 3])
    out = tmp_path / "r.json"
    capsys.readouterr()
    caplog.clear()
    rc = main(["replay", str(base), "--json", str(out)])
    res = json.loads(out.read_text())
    assert res["recording_complete"] is False and rc in (3, 4)
    text = capsys.readouterr().out
    assert "partial: " in text and "None" not in text
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert sum("cut off" in w for w in warnings) == 1                  # the recording's own flag
    assert sum("trailing bytes" in w for w in warnings) == 1           # printed once, not twice


@pytest.mark.parametrize("argv,needle", [
    (["receive", "--duration", "nan"], "--duration"),
    (["receive", "--duration", "-1"], "--duration"),
    (["receive", "--samples", "-5"], "--samples"),
    (["capture", "{tmp}/c", "--duration", "inf"], "--duration"),
    (["link", "{msg}", "--max-samples", "0"], "--max-samples"),
    (["link", "{msg}", "--json", "{tmp}"], "is a folder"),
    (["link", "{msg}", "--record", "{msg}/x"], "is not a folder"),
    (["demo", "--out", "{msg}"], "not a folder"),
    (["eval", "phy", "--snr", ""], "--snr"),
    (["eval", "phy", "--snr", "0:1e9:1"], "at most"),
    (["eval", "phy", "--snr", "nan"], "--snr"),
    (["eval", "fer", "--snr-range", "x"], "--snr-range"),
])
def test_bad_inputs_one_line_before_the_run(argv, needle, msg, tmp_path, capsys):
    argv = [a.format(tmp=tmp_path, msg=msg) for a in argv]
    assert main(argv) == 1
    assert needle in _one_error_line(capsys.readouterr().err)


def test_results_printed_before_a_failing_write(msg, tmp_path, capsys, monkeypatch):
    import lamsc_sdr.provenance as prov

    def boom(*a, **k):
        raise OSError(28, "No space left on device", str(tmp_path / "o.json"))
    monkeypatch.setattr(prov, "write_json", boom)
    assert main(["link", str(msg), "--snr", "25", "--set", "estimator.kind=ls", "--json", str(tmp_path / "o.json")]) == 1
    cap = capsys.readouterr()
    assert "message 1: exact" in cap.out and "No space left" in _one_error_line(cap.err)


def test_every_option_has_help():
    """`lamsc X --help` explains every option and argument (issue 14: several had none)."""
    import argparse
    from lamsc_sdr.cli import build_parser
    missing = []

    def walk(parser, path):
        for a in parser._actions:
            if isinstance(a, argparse._SubParsersAction):
                for name, sp in a.choices.items():
                    walk(sp, path + [name])
            elif a.help is None and not isinstance(a, argparse._HelpAction):
                missing.append(" ".join(path + [a.option_strings[0] if a.option_strings else a.dest]))
    walk(build_parser(), ["lamsc"])
    assert not missing, f"options without help= (add one): {missing}"


def test_link_help_mentions_media_and_exit_codes():
    from lamsc_sdr.cli import build_parser
    import argparse
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    text = " ".join(sub.choices["link"].format_help().split())
    assert "image, audio or video" in text and "text file(s)" not in text
    assert "3 partial" in text and "4 nothing" in text


@pytest.mark.parametrize("ext", [".jpg", ".png"])
def test_truncated_media_one_line(tmp_path, capsys, ext):
    """Truncated downloads in link, mma describe and demo --media: one line naming the file."""
    import skimage.data
    from PIL import Image
    full = tmp_path / f"full{ext}"
    Image.fromarray(skimage.data.astronaut()).save(full)
    cut = tmp_path / f"cut{ext}"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 3])
    for argv in (["link", str(cut)], ["mma", "describe", str(cut)],
                 ["demo", "--media", str(cut), "--out", str(tmp_path / "demo"), "--llm", "rules"]):
        assert main(argv) == 1, argv
        line = _one_error_line(capsys.readouterr().err)
        assert str(cut) in line and "truncated" in line
