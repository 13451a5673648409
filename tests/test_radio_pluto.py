"""The real ``pluto`` backend over the PlutoSDR test double, the real pyadi-iio failure path, and
hardware tests (``--pluto-uri``)."""
import numpy as np
import pytest

from lamsc_sdr.captures import SigMFRecorder, read_capture
from lamsc_sdr.errors import ConfigError, RadioNotFoundError, ShapeError
from lamsc_sdr.radio.pluto import TX_PEAK, PlutoRadio
from lamsc_sdr.radio.pluto_double import Air, FakePluto


def _pair(**kw):
    air = Air(path_loss_db=30, noise_dbfs=-90, seed=5)
    devs = {"double:a": FakePluto("double:a", air=air, **kw.pop("a", {})),
            "double:b": FakePluto("double:b", air=air, **kw.pop("b", {}))}
    return devs


def _tone(n, f=0.01):
    return np.exp(2j * np.pi * f * np.arange(n)).astype(np.complex64)


def test_unreachable_device_is_radio_not_found_naming_the_uri():
    # a refused loopback port: pyadi-iio raises a bare Exception("No device found") within ms
    with pytest.raises(RadioNotFoundError, match=r"ip:127\.0\.0\.1:9") as ei:
        PlutoRadio("ip:127.0.0.1:9")
    assert ei.value.__cause__ is not None
    with pytest.raises(RadioNotFoundError, match="explicit URI"):
        PlutoRadio(None)
    with pytest.raises(RadioNotFoundError, match="double:x"):
        PlutoRadio("double:x?absent=1")


def test_settings_reach_the_device_and_repr():
    devs = _pair()
    with PlutoRadio("double:a", device_factory=devs.__getitem__, sample_rate=1e6, center_freq=915e6,
                    rf_bandwidth=1e6, tx_gain=-20, rx_gain=35, buffer_size=4096) as r:
        d = devs["double:a"]
        assert (d.sample_rate, d.rx_lo, d.rx_rf_bandwidth) == (1_000_000, 915_000_000, 1_000_000)
        assert d.gain_control_mode_chan0 == "manual" and d.rx_hardwaregain_chan0 == 35
        assert d.rx_buffer_size == 4096
        r.tx(_tone(64))                      # TX settings are written when the radio first transmits
        assert (d.tx_lo, d.tx_rf_bandwidth, d.tx_hardwaregain_chan0) == (915_000_000, 1_000_000, -20)
        r.tx_gain = -5
        assert d.tx_hardwaregain_chan0 == -5
        assert "uri='double:a'" in repr(r) and "rx_gain=35" in repr(r)
    with pytest.raises(ConfigError, match="521e3"):
        PlutoRadio("double:a", device_factory=devs.__getitem__, sample_rate=200e3)


def test_tx_scaling_clipping_and_cyclic_rules():
    devs = _pair()
    r = PlutoRadio("double:a", device_factory=devs.__getitem__, tx_backoff_db=12)
    y, n_clip = r.scale_tx(np.ones(4, np.complex64))
    assert np.allclose(np.abs(y.real), TX_PEAK * 10 ** (-12 / 20)) and n_clip == 0
    big = np.full(10, 8 + 0j, np.complex64)          # 8x the RMS: beyond +-2^14 after 12 dB backoff
    r.tx(big)
    assert r.tx_clipped == 10 and r.last_tx_peak > 1
    # a new waveform replaces a cyclic one (the double raises if the buffer was not destroyed)
    r.tx(_tone(1000))
    r.tx(_tone(500))
    assert devs["double:a"].tx_destroy_calls >= 3
    with pytest.raises(ShapeError):
        r.tx(np.array([np.nan], np.complex64))
    r.close()
    # the double enforces libiio's rules by itself
    d = FakePluto()
    d.tx_cyclic_buffer = True
    d.tx(np.ones(8) * 100)
    with pytest.raises(Exception, match="cyclic"):
        d.tx(np.ones(8) * 100)
    with pytest.raises(Exception, match="destroyed"):
        d.tx_cyclic_buffer = False
    with pytest.raises(AttributeError, match="gain_control_mode"):
        d.gain_control_mode = "manual"   # the misspelling a real Pluto silently ignores


def test_fresh_capture_after_tx_and_stale_without():
    devs = _pair()
    d = devs["double:a"]
    d.sample_rate = 1_000_000
    d.tx_lo = d.rx_lo = 2_400_000_000
    d.gain_control_mode_chan0 = "manual"
    d.rx_hardwaregain_chan0 = 30
    d.rx_buffer_size = 2048
    d.rx()                                   # buffers created (and filled) before the transmission
    d.tx_cyclic_buffer = True
    d.tx(_tone(256) * 2 ** 14 * 0.25)
    stale = d.rx()
    assert np.mean(np.abs(stale) ** 2) < 10   # only noise: captured before the TX started
    with PlutoRadio("double:a", device_factory=devs.__getitem__, buffer_size=2048, rx_gain=30) as r:
        r.tx(_tone(256))
        y = r.rx(3000)                       # fresh: the tone is there from the first sample
        assert y.shape == (3000,) and y.dtype == np.complex64
        p = np.abs(y) ** 2
        assert p[:100].mean() > 100 * np.median(np.abs(stale / 2048) ** 2)
        assert abs(np.std(p) / np.mean(p)) < 0.2    # constant envelope all along


def test_adc_saturation_and_agc():
    devs = _pair()
    with PlutoRadio("double:a", device_factory=devs.__getitem__, rx_gain=71, tx_gain=0, tx_backoff_db=0,
                    buffer_size=4096) as r:
        r.tx(_tone(512))
        y = r.rx(4096)
        assert r.rx_saturated > 0
        assert np.max(np.abs(y.real)) <= 1.0 and np.max(np.abs(y.real)) >= 2047 / 2048
    with PlutoRadio("double:a", device_factory=devs.__getitem__, gain_control_mode="fast_attack",
                    tx_gain=-30, buffer_size=4096) as r:
        r.tx(_tone(512))
        for _ in range(6):
            y = r.rx(4096)
        level = 10 * np.log10(np.mean(np.abs(y) ** 2))
        assert abs(level - (-18)) < 2 and r.rx_saturated == 0
        assert 0 < r.rx_gain < 71


def test_two_devices_cfo_from_ppm_and_close_stops_tx():
    devs = _pair(a={"ppm": 10.0}, b={"ppm": -5.0})
    with PlutoRadio("double:a", rx_uri="double:b", device_factory=devs.__getitem__, buffer_size=8192,
                    rx_gain=30, center_freq=2.4e9) as r:
        r.tx(np.ones(1024, np.complex64))    # DC at the transmitter -> a tone at the CFO
        y = r.rx(8192)
        f = np.angle(np.vdot(y[:-1], y[1:])) / (2 * np.pi) * r.sample_rate
        assert abs(f - 2.4e9 * 15e-6) < 50
    a, b = devs["double:a"], devs["double:b"]
    assert a.tx_destroy_calls >= 1 and b.rx_destroy_calls >= 1
    assert all(t["stop"] is not None for t in a.air.transmissions if t["cyclic"])


def test_ctrl_c_inside_with_stops_tx():
    devs = _pair()
    with pytest.raises(KeyboardInterrupt):
        with PlutoRadio("double:a", device_factory=devs.__getitem__) as r:
            r.tx(_tone(100))
            raise KeyboardInterrupt
    assert r._closed and devs["double:a"]._txbuf is None


def test_device_vanishing_mid_capture_keeps_the_recording_valid(tmp_path):
    devs = _pair(a={"vanish_after_rx": 6})
    r = PlutoRadio("double:a", device_factory=devs.__getitem__, buffer_size=1024)
    rec = SigMFRecorder(tmp_path / "v", r.sample_rate, r.center_freq, hardware="FakePluto")
    r.record_to(rec)
    r.tx(_tone(256))
    got = 0
    with pytest.raises(RadioNotFoundError, match="double:a.*during rx") as ei:
        for _ in range(10):
            got += r.rx(1024).size
    assert isinstance(ei.value.__cause__, OSError)
    r.close()                                       # no error although the device is gone
    cap = read_capture(tmp_path / "v")
    assert cap.complete and cap.samples.size == got == 6 * 1024


def test_receive_only_device_keeps_its_transmitter_untouched():
    devs = _pair()
    b = devs["double:b"]
    before = (b.tx_lo, b.tx_hardwaregain_chan0, b.tx_rf_bandwidth)
    with PlutoRadio("double:b", device_factory=devs.__getitem__, center_freq=915e6) as r:
        r.rx(2048)
        r.center_freq = 920e6                # a retune touches the receiver only
        r.rx(2048)
    assert (b.tx_lo, b.tx_hardwaregain_chan0, b.tx_rf_bandwidth) == before
    assert b.rx_lo == 920_000_000 and b.tx_destroy_calls == 0 and not b._tx_lo_pd


def _heard(devs, uri="double:a", n=4096):
    """Mean power the same air delivers to a fresh receiver on ``uri``'s frequency now."""
    d = devs[uri]
    d.rx_destroy_buffer()
    return float(np.mean(np.abs(d.rx()[:n]) ** 2))


@pytest.mark.parametrize("how", ["stop_tx", "close", "ctrl_c"])
def test_stop_close_and_ctrl_c_leave_the_pluto_silent(how):
    devs = _pair()
    d = devs["double:a"]
    r = PlutoRadio("double:a", device_factory=devs.__getitem__, buffer_size=4096, rx_gain=30, tx_cyclic=False)
    r.tx(_tone(200_000))                     # a long non-cyclic burst: destroying the buffer alone is not enough
    assert _heard(devs) > 1e3
    if how == "stop_tx":
        r.stop_tx()
    elif how == "close":
        r.close()
    else:
        with pytest.raises(KeyboardInterrupt):
            with r:
                raise KeyboardInterrupt
    assert d.tx_hardwaregain_chan0 == -89.75 and d._tx_lo_pd      # maximum attenuation, TX LO down
    assert _heard(devs) < 10
    if how == "stop_tx":                     # transmitting again powers the LO up at the set gain
        r.tx(_tone(4096))
        assert not d._tx_lo_pd and d.tx_hardwaregain_chan0 == r.tx_gain
        r.close()


def test_overflow_is_counted_and_marked_as_a_new_capture_segment(tmp_path):
    import sigmf
    devs = _pair()
    d = devs["double:a"]
    r = PlutoRadio("double:a", device_factory=devs.__getitem__, buffer_size=1024, rx_gain=30)
    rec = SigMFRecorder(tmp_path / "o", r.sample_rate, r.center_freq, hardware=r.hardware())
    r.record_to(rec)
    r.tx(_tone(256))
    r.rx(3000)
    d.inject_overflow(50_000)                # the reader fell behind: 50k samples lost in the kernel
    y = r.rx(3000)
    r.rx(1000)
    r.close()
    rec.close()
    assert r.overflows == 1 and len(r.gaps) == 1 and 3000 <= r.gaps[0] < 6000
    cap = read_capture(tmp_path / "o")
    gaps = [c for c in cap.captures if c.get("lamsc:gap") == "overflow"]
    assert len(cap.captures) == 2 and gaps[0]["core:sample_start"] == r.gaps[0]
    assert [a["core:sample_start"] for a in cap.annotations if a["core:label"] == "gap"] == r.gaps
    assert cap.samples.size == 7000 and y.shape == (3000,)
    sigmf.sigmffile.fromfile(str(tmp_path / "o.sigmf-meta")).validate()


def test_double_rejects_what_real_pyadi_and_the_ad9363_reject():
    d = FakePluto()
    with pytest.raises(Exception, match="must be an int"):
        d.rx_lo = 2.4e9                      # pyadi-iio's _set_iio_attr_int
    for lo in (100_000_000, 5_800_000_000):  # outside the AD9363's 325 MHz..3.8 GHz
        with pytest.raises(OSError) as ei:
            d.tx_lo = lo
        assert ei.value.errno == 22
    with pytest.raises(OSError):
        d.sample_rate = 1e6                  # "1000000.0" is not an integer to the driver
    d.tx_rf_bandwidth = 56_000_000
    assert d.tx_rf_bandwidth == 20_000_000   # clamped by the AD9363 driver
    wide = FakePluto(part="ad9364")
    wide.tx_lo = 5_800_000_000
    wide.tx_rf_bandwidth = 56_000_000
    assert (wide.tx_lo, wide.tx_rf_bandwidth) == (5_800_000_000, 56_000_000)
    devs = _pair()
    with pytest.raises(ConfigError, match=r"rx_lo=5800000000.*EINVAL"):
        PlutoRadio("double:a", device_factory=devs.__getitem__, center_freq=5.8e9)


@pytest.mark.parametrize("code,pattern", [(110, r"5 s timeout during rx \(ETIMEDOUT"),
                                          (104, r"connection was reset during rx")])
def test_timeouts_and_resets_are_radio_errors_with_the_cause(code, pattern):
    devs = _pair(a={"vanish_after_rx": 2, "fail_errno": code})
    with PlutoRadio("double:a", device_factory=devs.__getitem__, buffer_size=1024) as r:
        r.rx(1024)
        r.rx(1024)
        with pytest.raises(RadioNotFoundError, match=pattern) as ei:
            r.rx(1024)
    assert isinstance(ei.value.__cause__, OSError) and ei.value.__cause__.errno == code


def test_recording_names_the_device_and_reads_back_rate_and_frequency(tmp_path, monkeypatch):
    from lamsc_sdr.radio.base import recording_fields
    monkeypatch.setenv("LAMSC_AUTHOR", "Ada Lovelace")
    devs = _pair()
    with PlutoRadio("double:a", device_factory=devs.__getitem__, sample_rate=1e6 + 0.4, center_freq=915e6 + 0.3) as r:
        rate, freq, hw = recording_fields(r)
        assert (rate, freq) == (1_000_000.0, 915_000_000.0)       # what the device holds, as numbers
        rec = SigMFRecorder(tmp_path / "h", rate, freq, hardware=hw)
        rec.close()
    g = read_capture(tmp_path / "h").global_info
    assert g["core:author"] == "Ada Lovelace"
    assert "PlutoSDR" in g["core:hw"] and "serial 104473dc" in g["core:hw"] and "firmware v0.38" in g["core:hw"]
    assert g["lamsc:hw"]["uri"] == "double:a"
    with PlutoRadio("double:a", device_factory=devs.__getitem__) as r:
        assert r.gain_range() == {"rx": (-3.0, 1.0, 71.0), "tx": (-89.75, 0.25, 0.0)}
        assert r.tracking() == {"quadrature": True, "rf_dc": True, "bb_dc": True}


@pytest.mark.hardware
def test_real_pluto_self_loopback(pluto_uri):
    with PlutoRadio(pluto_uri, buffer_size=2 ** 15, tx_gain=-20, rx_gain=30) as r:
        r.tx(_tone(4096, 0.02))
        y = r.rx(2 ** 15)
        assert y.shape == (2 ** 15,) and np.isfinite(y).all()
        spec = np.abs(np.fft.fft(y))
        assert abs(np.argmax(spec) / y.size - 0.02) < 0.005
        assert r.rx_saturated == 0


def test_gnuradio_pluto_unreachable_is_radio_not_found():
    from lamsc_sdr.radio.gnuradio_pluto import GrPlutoRadio
    with pytest.raises(RadioNotFoundError, match=r"ip:127\.0\.0\.1:9") as ei:
        GrPlutoRadio("ip:127.0.0.1:9")
    assert isinstance(ei.value.__cause__, OSError) and ei.value.__cause__.errno == 111   # ECONNREFUSED
    with pytest.raises(RadioNotFoundError, match="explicit URI"):
        GrPlutoRadio(None)


def test_receiver_dc_block_finds_bursts_behind_a_dc_residual():
    """A Pluto's DC / TX-LO-leakage residual above the noise in the gaps between bursts keeps the
    Schmidl-Cox metric high there: without the DC block the detector starts frames early and
    misses most of a cyclic transmission (seen through the emulated Pluto)."""
    from lamsc_sdr.config import load_config
    from lamsc_sdr.phy.frame import FrameReceiver
    from lamsc_sdr.transport import Sender, digital_frame_config
    cfg = load_config(None)
    plan = Sender(cfg.frame, "digital").plan(["DC residual above the gap noise"])
    rng = np.random.default_rng(0)
    x = np.tile(plan.iq, 30) * 0.01                                   # -40 dBFS bursts, 400-sample gaps
    x = x + 3e-4 * (rng.standard_normal(x.size) + 1j * rng.standard_normal(x.size)) + (2e-4 - 4e-4j)
    found = {}
    for dc in (False, True):
        rx = FrameReceiver(digital_frame_config(cfg.frame), dc_block=dc)
        frames = [f for i in range(0, x.size, 16384) for f in rx.push(x[i:i + 16384].astype(np.complex64))]
        found[dc] = sum(f.crc_ok for f in frames)
    assert found[True] >= 29 and found[False] < 15, found
