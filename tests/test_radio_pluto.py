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
        assert (d.sample_rate, d.rx_lo, d.tx_lo, d.rx_rf_bandwidth) == (1_000_000, 915_000_000, 915_000_000, 1_000_000)
        assert d.gain_control_mode_chan0 == "manual" and d.rx_hardwaregain_chan0 == 35
        assert d.tx_hardwaregain_chan0 == -20 and d.rx_buffer_size == 4096
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
    d.sample_rate = 1e6
    d.tx_lo = d.rx_lo = 2.4e9
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
    assert isinstance(ei.value.__cause__, RuntimeError)
    with pytest.raises(RadioNotFoundError, match="explicit URI"):
        GrPlutoRadio(None)
