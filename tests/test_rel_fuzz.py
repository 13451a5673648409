"""Issue 14, fuzzing as a habit: every kind of file lamsc reads, malformed at random.

Each reader either succeeds or raises a LamscError whose message is one line (the CLI prints it as
``lamsc: error: ...`` and exits 1); never another exception (a traceback), never a hang (the
hypothesis deadline), and a failed command leaves no output file behind.
"""
import contextlib
import io
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lamsc_sdr.cli import main
from lamsc_sdr.errors import LamscError

FUZZ = settings(max_examples=40, deadline=10_000, suppress_health_check=[HealthCheck.too_slow],
                derandomize=True)

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 40, 2 ** 40),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12))
values = st.recursive(scalars, lambda ch: st.one_of(st.lists(ch, max_size=4),
                                                    st.dictionaries(st.text(max_size=8), ch, max_size=4)),
                      max_leaves=12)


def _yaml_texts(keys: list[str]):
    """YAML documents: known keys with wild values, unknown keys, raw bytes, broken syntax."""
    known = st.dictionaries(st.sampled_from(keys), values, max_size=5)
    return st.one_of(known.map(lambda d: yaml.safe_dump(d, allow_unicode=True).encode()),
                     values.map(lambda v: yaml.safe_dump(v).encode()),
                     st.binary(max_size=200),
                     st.text(max_size=120).map(lambda t: t.encode("utf-8", "surrogatepass")))


def _check(call):
    """Run ``call()``: success or a one-line LamscError; anything else fails the test."""
    try:
        call()
    except LamscError as err:
        assert str(err) and "\n" not in str(err), repr(str(err))


def _cli(argv) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(argv)
    text = err.getvalue()
    assert "Traceback" not in text
    if rc == 1:
        lines = [ln for ln in text.splitlines() if ln.startswith("lamsc: error:")]
        assert len(lines) == 1, text
    return rc, text


@pytest.fixture(scope="module")
def work():
    d = Path(tempfile.mkdtemp(prefix="lamsc-fuzz-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


# ------------------------------------------------------------------------------ run configs
RUN_KEYS = ["schema_version", "seed", "frame", "channel", "estimator", "radio", "semantic", "mma", "kb"]


@FUZZ
@given(data=_yaml_texts(RUN_KEYS))
def test_fuzz_run_config(work, data):
    p = work / "run.yaml"
    p.write_bytes(data)
    rc, _ = _cli(["config", "check", str(p)])
    assert rc in (0, 1)


@FUZZ
@given(section=st.sampled_from(["frame", "channel", "estimator", "radio", "semantic", "kb"]),
       body=st.dictionaries(st.sampled_from(["fft_size", "cp_len", "snr_db", "kind", "model", "center_freq",
                                             "sample_rate", "pilots", "checkpoint", "llm", "seed", "x"]),
                            values, max_size=4))
def test_fuzz_run_config_sections(work, section, body):
    p = work / "sec.yaml"
    p.write_text(yaml.safe_dump({section: body}))
    rc, _ = _cli(["config", "check", str(p)])
    assert rc in (0, 1)


@FUZZ
@given(value=st.text(max_size=30))
def test_fuzz_set_values(value):
    rc, _ = _cli(["config", "show", "--set", f"channel.snr_db={value}"])
    assert rc in (0, 1)


# ------------------------------------------------------------------------------ cases, profiles, calibration
@FUZZ
@given(data=_yaml_texts(["schema_version", "profiles", "name", "age"]), csv=st.booleans())
def test_fuzz_profiles(work, data, csv):
    from lamsc_sdr.kb.profiles import load_profiles
    p = work / ("p.csv" if csv else "p.yaml")
    p.write_bytes(data)
    _check(lambda: load_profiles(p))


@FUZZ
@given(data=_yaml_texts(["cases", "sender", "receiver", "text", "intent", "expect"]))
def test_fuzz_cases(work, data):
    from lamsc_sdr.kb.evaluate import load_cases
    from lamsc_sdr.kb.profiles import example_profiles_path, load_profiles
    base = load_profiles(example_profiles_path())
    p = work / "cases.yaml"
    p.write_bytes(data)
    _check(lambda: load_cases(p, base))


@FUZZ
@given(data=_yaml_texts(["device", "cfo_hz", "tx_gain", "rx_gain", "dc", "iq_gain_db", "schema_version"]))
def test_fuzz_calibration(work, data):
    from lamsc_sdr.calibration import load_calibration
    p = work / "cal.yaml"
    p.write_bytes(data)
    _check(lambda: load_calibration(p))


# ------------------------------------------------------------------------------ SigMF metadata and data
@pytest.fixture(scope="module")
def capture(work):
    """A small real recording (digital link over the sim radio) to mutate."""
    msg = work / "m.txt"
    msg.write_text("fuzz me")
    base = work / "good"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["capture", str(base), str(msg), "--snr", "25", "--set", "estimator.kind=ls"]) == 0
    return base


def _mutate(meta: dict, path: list, value):
    node = meta
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return meta


META_PATHS = [["global", "core:datatype"], ["global", "core:sample_rate"], ["global", "core:version"],
              ["global", "lamsc:config"], ["global", "lamsc:codec"], ["global", "lamsc:rx_chunk"],
              ["global", "lamsc:messages"], ["global", "lamsc:calibration"], ["global", "lamsc:complete"],
              ["global", "core:num_channels"], ["captures"], ["annotations"], ["global"]]


@FUZZ
@given(path=st.sampled_from(META_PATHS), value=values)
def test_fuzz_sigmf_metadata(work, capture, path, value):
    base = work / "meta_case"
    meta = json.loads(capture.with_name("good.sigmf-meta").read_text())
    base.with_name("meta_case.sigmf-meta").write_text(json.dumps(_mutate(meta, path, value), default=str))
    shutil.copy(capture.with_name("good.sigmf-data"), base.with_name("meta_case.sigmf-data"))
    out = work / "meta_case.json"
    out.unlink(missing_ok=True)
    rc, _ = _cli(["replay", str(base), "--json", str(out)])
    assert rc in (0, 1, 3, 4)
    assert out.exists() == (rc != 1)          # a failed run leaves no (half-written) JSON


@FUZZ
@given(raw=st.binary(max_size=300))
def test_fuzz_sigmf_metadata_bytes(work, capture, raw):
    base = work / "raw_case"
    base.with_name("raw_case.sigmf-meta").write_bytes(raw)
    shutil.copy(capture.with_name("good.sigmf-data"), base.with_name("raw_case.sigmf-data"))
    rc, _ = _cli(["replay", str(base)])
    assert rc == 1


@FUZZ
@given(cut=st.floats(0, 1), junk=st.binary(max_size=64), nan=st.booleans())
def test_fuzz_sigmf_data(work, capture, cut, junk, nan):
    base = work / "data_case"
    shutil.copy(capture.with_name("good.sigmf-meta"), base.with_name("data_case.sigmf-meta"))
    data = capture.with_name("good.sigmf-data").read_bytes()
    data = data[: int(len(data) * cut)] + junk
    if nan and len(data) >= 8:
        data = np.float32(np.nan).tobytes() + data[4:]
    base.with_name("data_case.sigmf-data").write_bytes(data)
    rc, _ = _cli(["replay", str(base)])
    assert rc in (0, 1, 3, 4)


# ------------------------------------------------------------------------------ checkpoints
@FUZZ
@given(cut=st.floats(0, 1), flip=st.integers(0, 2 ** 31), keep_sidecar=st.booleans())
def test_fuzz_checkpoints(work, cut, flip, keep_sidecar):
    from lamsc_sdr.checkpoints import shipped_checkpoints, sidecar_path
    from lamsc_sdr.estimation.cgan import load_checkpoint
    src = next(p for p in shipped_checkpoints() if p.name == "cge_default.pt")
    data = bytearray(src.read_bytes()[: max(1, int(src.stat().st_size * cut))])
    data[flip % len(data)] ^= 0xFF
    p = work / "ck.pt"
    p.write_bytes(bytes(data))
    side = sidecar_path(p)
    side.unlink(missing_ok=True)
    if keep_sidecar:
        shutil.copy(sidecar_path(src), side)
    with pytest.raises(LamscError) as ei:      # never loads: the sidecar refuses it, or torch cannot read it
        load_checkpoint(p)
    assert "\n" not in str(ei.value) and "weights_only=False" not in str(ei.value)


# ------------------------------------------------------------------------------ media
@FUZZ
@given(raw=st.binary(max_size=400), ext=st.sampled_from([".jpg", ".png", ".wav", ".mp4"]),
       real_prefix=st.booleans())
def test_fuzz_media(work, raw, ext, real_prefix):
    from lamsc_sdr.mma.base import load_audio, load_image
    from lamsc_sdr.mma.video import read_video
    p = work / f"media{ext}"
    head = b""
    if real_prefix:       # a real file's start (valid header), then garbage: a truncated download
        head = {".jpg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", ".png": b"\x89PNG\r\n\x1a\n",
                ".wav": b"RIFF\x24\x08\x00\x00WAVEfmt ", ".mp4": b"\x00\x00\x00\x18ftypmp42"}[ext]
    p.write_bytes(head + raw)
    reader = {".jpg": load_image, ".png": load_image, ".wav": load_audio,
              ".mp4": lambda q: read_video(q, 2)}[ext]
    _check(lambda: reader(p))


EXTREMES = [("seed", "-1"), ("frame.fft_size", "1099511627776"), ("frame.n_symbols", "1099511627776"),
            ("frame.sample_rate", ".inf"), ("frame.gap_samples", "1099511627776"),
            ("channel.snr_db", "-1099511627776"), ("channel.timing_offset", "1099511627776"),
            ("channel.phase_noise_dbc", "1e300"), ("channel.iq_imbalance_db", "1e300"),
            ("radio.tx_gain", "1e300"), ("radio.rx_gain", "1099511627776"), ("radio.rx_chunk", "1099511627776")]


@pytest.mark.parametrize("key,value", EXTREMES)
def test_extreme_numbers_refused_before_the_run(key, value, work):
    """Each of these once ran into an OverflowError or a multi-TiB allocation inside `lamsc link`
    (found by sweeping every numeric config key with 0, -1, +-2**40, 1e300, inf)."""
    msg = work / "x.txt"
    msg.write_text("hello")
    rc, err = _cli(["link", str(msg), "--set", "estimator.kind=ls", "--set", f"{key}={value}"])
    assert rc == 1 and key.split(".")[-1] in err
