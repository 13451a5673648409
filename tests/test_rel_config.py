"""Issue 14: config files and overrides are read the way users write them; outputs get the umask."""
import os
import stat

import pytest

from lamsc_sdr.cli import main
from lamsc_sdr.config import load_config
from lamsc_sdr.config_base import yaml_load
from lamsc_sdr.errors import ConfigError
from lamsc_sdr.provenance import atomic_write_text, write_json


@pytest.mark.parametrize("text,value", [("1e6", 1e6), ("1.0e6", 1e6), ("915e6", 915e6), ("2.4e9", 2.4e9),
                                        ("-3e-2", -0.03), ("5.0e-4", 5e-4), (".5", 0.5), ("1_000.5", 1000.5)])
def test_yaml_floats_every_spelling(text, value):
    assert yaml_load(f"x: {text}")["x"] == pytest.approx(value)


def test_yaml_ints_strings_unchanged():
    d = yaml_load("a: 12\nb: 0x10\nc: e6\nd: 1/2\ne: '1e6'\nf: 1.2.3")
    assert d == {"a": 12, "b": 16, "c": "e6", "d": "1/2", "e": "1e6", "f": "1.2.3"}


def test_readme_example_config_validates(tmp_path):
    """The README's example config (1.0e6, 2.4e9) loads: PyYAML alone reads those as strings."""
    p = tmp_path / "run.yaml"
    p.write_text("schema_version: 1\nseed: 0\n"
                 "frame:     {fft_size: 64, cp_len: 16, n_symbols: 8, sample_rate: 1.0e6, pilots: {kind: scattered}}\n"
                 "channel:   {model: lammsc, snr_db: 15.0, doppler_hz: 0.0, cfo_hz: 0.0}\n"
                 "estimator: {kind: cgan, equalizer: mmse}\n"
                 "radio:     {backend: sim, uri: null, center_freq: 2.4e9}\n"
                 "kb:        {llm: offline, sender: Mike, receiver: Jane}\n")
    cfg = load_config(p)
    assert cfg.radio.center_freq == 2.4e9 and cfg.frame.sample_rate == 1e6
    assert main(["config", "check", str(p)]) == 0          # FILE without --config


def test_readme_example_is_the_defaults():
    """`config show` and the README's documented defaults agree (estimator cgan, etc.)."""
    import re
    from pathlib import Path
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    block = re.search(r"```yaml\n(.*?)```", readme, re.S).group(1)
    documented = yaml_load(block)
    actual = load_config().to_dict()

    def check(doc, act, where):
        for k, v in doc.items():
            if isinstance(v, dict):
                check(v, act[k], f"{where}{k}.")
            else:
                assert act[k] == v, f"README says {where}{k}={v!r}, config show says {act[k]!r}"
    check(documented, actual, "")


def test_set_accepts_float_spellings(capsys):
    assert main(["config", "show", "--set", "radio.center_freq=915e6", "--set", "frame.sample_rate=1e6"]) == 0
    out = capsys.readouterr().out
    assert "center_freq: 915000000.0" in out and "sample_rate: 1000000.0" in out


def test_set_rejects_nan_and_bad_yaml(capsys):
    assert main(["config", "show", "--set", "channel.snr_db=.nan"]) == 1
    assert main(["config", "show", "--set", "channel.snr_db=[1"]) == 1
    assert main(["config", "show", "--set", "=3"]) == 1
    err = capsys.readouterr().err
    assert err.count("lamsc: error:") == 3 and "Traceback" not in err


def test_non_utf8_and_unreadable_configs_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"seed: 1\n\xff\xfe\x00")
    assert main(["config", "check", "--config", str(bad)]) == 1
    assert main(["config", "show", "--config", str(tmp_path)]) == 1          # a directory
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "not UTF-8" in err[0] and "bad.yaml" in err[0]


def test_non_utf8_cases_and_profiles(tmp_path):
    from lamsc_sdr.kb.evaluate import load_cases
    from lamsc_sdr.kb.profiles import load_profiles
    bad = tmp_path / "x.yaml"
    bad.write_bytes(b"\xff\xfeprofiles: []")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_profiles(bad)
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_cases(bad, None)


def test_yaml_error_is_one_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("seed: [1, 2\nframe: {\n")
    with pytest.raises(ConfigError) as ei:
        load_config(p)
    assert "\n" not in str(ei.value)


def test_outputs_follow_umask(tmp_path):
    """--json files, index.html, summary.json, calibration YAML: mkstemp makes 0600; we want the umask."""
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
        write_json(tmp_path / "b.json", {"a": 1})
        from lamsc_sdr.estimation.fileio import atomic_write_bytes
        atomic_write_bytes(tmp_path / "c.bin", b"x")
        for n in ("a.txt", "b.json", "c.bin"):
            assert stat.S_IMODE((tmp_path / n).stat().st_mode) == 0o644, n
        os.umask(0o077)
        atomic_write_text(tmp_path / "d.txt", "x")
        assert stat.S_IMODE((tmp_path / "d.txt").stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_non_utf8_cases_and_profiles_cli(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"\xff\xfe\x00cases: []")
    assert main(["eval", "lkb", "--cases", str(bad), "--backend", "rules"]) == 1
    assert main(["kb", "extract", "a boy and a girl", "--profiles", str(bad), "--backend", "rules"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all("not UTF-8" in ln and "bad.yaml" in ln for ln in err), err
