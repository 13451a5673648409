import pytest

from lamsc_sdr.config import dump_config, load_config
from lamsc_sdr.errors import ConfigError
from lamsc_sdr.cli import main


def test_defaults_roundtrip(tmp_path):
    cfg = load_config()
    p = tmp_path / "run.yaml"
    p.write_text(dump_config(cfg))
    assert load_config(p) == cfg


def test_unknown_key_names_key_and_file(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("schema_version: 1\nseed: 3\nchannel:\n  snr_dbb: 4\n")
    with pytest.raises(ConfigError, match=r"channel\.snr_dbb.*bad\.yaml"):
        load_config(p)


def test_bad_type_and_invalid_values(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("seed: three\n")
    with pytest.raises(ConfigError, match="seed"):
        load_config(p)
    with pytest.raises(ConfigError, match="cp_len"):
        load_config(overrides={"frame.cp_len": 64})
    with pytest.raises(ConfigError, match="freq_spacing"):
        load_config(overrides={"frame.pilots.freq_spacing": 60, "frame.pilots.kind": "comb"})


def test_malformed_yaml_and_schema(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("seed: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(p)
    p.write_text("schema_version: 99\n")
    with pytest.raises(ConfigError, match="schema_version"):
        load_config(p)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")


def test_cli_config_show(capsys):
    assert main(["config", "show", "--set", "channel.snr_db=7", "--seed", "5"]) == 0
    out = capsys.readouterr().out
    assert "snr_db: 7.0" in out and "seed: 5" in out
    assert main(["config", "show", "--set", "frame.bogus=1"]) == 1
    assert "frame.bogus" in capsys.readouterr().err
