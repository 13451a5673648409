"""SigMF writer/reader: round trip, crash safety, bad input (docs: lamsc_sdr/captures/sigmf_io.py)."""
import json

import numpy as np
import pytest

from lamsc_sdr.captures import SigMFRecorder, read_capture, resample
from lamsc_sdr.errors import CaptureError, ShapeError


def _record(tmp_path, x, **kw):
    with SigMFRecorder(tmp_path / "cap", 1e6, 2.4e9, hardware="simulated (test)", **kw) as rec:
        rec.write(x[: x.size // 2])
        rec.write(x[x.size // 2:])
        rec.annotate(10, 100, message_id=7, segment_index=0, header_crc_ok=True, snr_db=20.5, cfo_hz=-12.0)
    return rec


def test_round_trip_is_exact_and_valid_sigmf(tmp_path, rng):
    x = (rng.standard_normal(1001) + 1j * rng.standard_normal(1001)).astype(np.complex64)
    _record(tmp_path, x, extra_global={"lamsc:config": {"seed": 3}, "lamsc:simulated": True})
    cap = read_capture(tmp_path / "cap.sigmf-meta")
    assert np.array_equal(cap.samples, x)
    assert cap.sample_rate == 1e6 and cap.center_freq == 2.4e9
    assert cap.config == {"seed": 3} and cap.simulated and cap.complete
    (ann,) = cap.frames()
    assert ann["core:sample_start"] == 10 and ann["lamsc:message_id"] == 7 and ann["lamsc:header_crc_ok"]
    # the official reader accepts it too
    from sigmf import sigmffile
    sf = sigmffile.fromfile(str(tmp_path / "cap.sigmf-meta"))
    assert sf.get_global_field("core:datatype") == "cf32_le"
    assert np.allclose(sf.read_samples(), x)


def test_cut_off_recording_reads_up_to_last_complete_sample(tmp_path, rng):
    x = (rng.standard_normal(64) + 1j * rng.standard_normal(64)).astype(np.complex64)
    rec = SigMFRecorder(tmp_path / "cut", 1e6, None)
    rec.write(x)
    # the process dies mid-write: no close(), a partial sample at the end of the data file
    rec._fh.write(b"\x01\x02\x03")
    rec._fh.flush()
    cap = read_capture(tmp_path / "cut")
    assert cap.truncated_bytes == 3 and not cap.complete
    assert np.array_equal(cap.samples, x)


def test_nan_is_refused_and_earlier_data_stays_valid(tmp_path):
    rec = SigMFRecorder(tmp_path / "nan", 1e6)
    rec.write(np.ones(8, np.complex64))
    with pytest.raises(ShapeError, match="NaN"):
        rec.write(np.array([1, np.nan], np.complex64))
    rec.close()
    assert read_capture(tmp_path / "nan").samples.size == 8


@pytest.mark.parametrize("field,value,match", [
    ("core:datatype", "rf32_le", "real-valued"),
    ("core:datatype", "cf16_le", "not supported|invalid"),
    ("core:sample_rate", -5, "sample_rate|invalid"),
    ("core:sample_rate", "fast", "sample_rate|invalid"),
])
def test_bad_metadata_is_a_clear_error(tmp_path, field, value, match):
    _record(tmp_path, np.ones(16, np.complex64))
    meta = tmp_path / "cap.sigmf-meta"
    m = json.loads(meta.read_text())
    m["global"][field] = value
    meta.write_text(json.dumps(m))
    with pytest.raises(CaptureError, match=match):
        read_capture(meta)


def test_missing_files_and_nan_data(tmp_path):
    with pytest.raises(CaptureError, match="not found"):
        read_capture(tmp_path / "nothing.sigmf-meta")
    _record(tmp_path, np.ones(16, np.complex64))
    data = tmp_path / "cap.sigmf-data"
    raw = np.fromfile(data, np.complex64)
    raw[5] = np.nan
    raw.tofile(data)
    with pytest.raises(CaptureError, match="sample 5 is NaN"):
        read_capture(tmp_path / "cap")
    data.unlink()
    with pytest.raises(CaptureError, match="data file not found"):
        read_capture(tmp_path / "cap")
    (tmp_path / "cap.sigmf-meta").write_text("{not json")
    with pytest.raises(CaptureError, match="JSON"):
        read_capture(tmp_path / "cap")


def test_ci16_recordings_from_other_equipment(tmp_path):
    iq = np.array([[16384, -16384], [0, 32767]], dtype="<i2").ravel()
    iq.tofile(tmp_path / "o.sigmf-data")
    (tmp_path / "o.sigmf-meta").write_text(json.dumps({
        "global": {"core:datatype": "ci16_le", "core:version": "1.2.0", "core:sample_rate": 2e6},
        "captures": [{"core:sample_start": 0}], "annotations": []}))
    cap = read_capture(tmp_path / "o")
    assert np.allclose(cap.samples, [0.5 - 0.5j, 32767 / 32768 * 1j])


def test_resample_preserves_a_tone(rng):
    fs_in, fs_out, f = 1.92e6, 1e6, 50e3
    n = np.arange(19200)
    x = np.exp(2j * np.pi * f / fs_in * n).astype(np.complex64)
    y = resample(x, fs_in, fs_out)
    assert abs(y.size - 10000) <= 1
    spec = np.abs(np.fft.fft(y[1000:9000]))
    k = np.argmax(spec)
    assert abs(k / 8000 * fs_out - f) < fs_out / 8000 * 1.01
