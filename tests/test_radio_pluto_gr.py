"""The ``gnuradio-pluto`` backend's logic over look-alikes of gr-iio 3.10.5.1's blocks
(tests/gr_iio_fakes.py) and the Pluto double's libiio context. The real gr-iio blocks against
the emulated Pluto are in tests/test_radio_pluto_emulator.py."""
import time

import numpy as np
import pytest

from gr_iio_fakes import FakeSink, FakeSource
from lamsc_sdr.captures import SigMFRecorder, read_capture
from lamsc_sdr.errors import RadioError
from lamsc_sdr.radio.gnuradio_pluto import GrPlutoRadio
from lamsc_sdr.radio.iio_control import IioControl
from lamsc_sdr.radio.pluto import PlutoRadio
from lamsc_sdr.radio.pluto_double import Air, FakePluto

RATE = 1e6


def _radio(rate=RATE, push_delay_s=0.0, **kw):
    dev = FakePluto("double:g", air=Air(seed=1))
    ctl = IioControl(dev.ctx, "double:g")
    src = FakeSource(ctl, rate)
    sinks = []

    def sink_factory(uri, size, cyclic):
        sinks.append(FakeSink(ctl, size, cyclic, push_delay_s))
        return sinks[-1]

    r = GrPlutoRadio("ip:fake", sample_rate=rate, source_factory=lambda: src, sink_factory=sink_factory,
                     control_factory=lambda uri: ctl, **kw)
    return r, dev, src, sinks


def test_rx_chunks_are_one_contiguous_stream():
    r, dev, src, _ = _radio()
    with r:
        y = np.concatenate([r.rx(1000) for _ in range(40)])
    assert np.array_equal(y.real, np.arange(y[0].real, y[0].real + 40_000))    # no sample lost or repeated
    assert src.starts == 1 and r.overflows == 0 and r.gaps == []


def test_slow_reader_loses_samples_counted_and_marked(tmp_path):
    r, dev, src, _ = _radio(max_queue_s=0.05)
    rec = SigMFRecorder(tmp_path / "s", RATE, 2.4e9)
    r.record_to(rec)
    with r:
        a = r.rx(2000)
        time.sleep(0.3)                      # the reader falls 0.3 s behind a 0.05 s queue
        b = r.rx(100_000)
        dev.inject_overflow(0)               # and the device's DMA flags an overflow too
        time.sleep(0.15)
        c = r.rx(200_000)                    # past the chunk the poll flagged
    rec.close()
    y = np.concatenate([a, b, c]).real
    jumps = np.flatnonzero(np.diff(y) != 1) + 1
    assert len(jumps) >= 1 and set(jumps.tolist()) <= set(r.gaps)           # every jump is a marked gap
    assert r.overflows == len(r.gaps) >= 2
    cap = read_capture(tmp_path / "s")
    kinds = {k for c in cap.captures[1:] for k in c["lamsc:gap"].split(",")}
    assert {"host-overflow", "overflow"} <= kinds
    assert [c["core:sample_start"] for c in cap.captures[1:]] == sorted(set(r.gaps))


def test_gain_mode_bandwidth_and_settings_reach_the_device():
    # the look-alike reproduces gr-iio 3.10.5.1: one set_gain_mode call leaves the previous mode
    dev = FakePluto("double:q")
    src = FakeSource(IioControl(dev.ctx, "double:q"))
    dev.gain_control_mode_chan0 = "manual"
    src.set_gain_mode(0, "slow_attack")
    assert dev.gain_control_mode_chan0 == "manual"
    r, dev, src, _ = _radio(gain_control_mode="slow_attack", rf_bandwidth=1_000_000)
    with r:
        r.rx(1000)
        assert dev.gain_control_mode_chan0 == "slow_attack"
        assert dev.rx_rf_bandwidth == 1_000_000                  # the source has no bandwidth setter
        r.center_freq = 915e6
        r.sample_rate = 2e6
        assert (dev.rx_lo, dev.sample_rate) == (915_000_000, 2_000_000)
        assert r.readback() == {"sample_rate": 2e6, "center_freq": 915e6}
    r, dev, src, _ = _radio(rx_gain=20)
    with r:
        r.rx(1000)
        assert dev.rx_hardwaregain_chan0 == 20
        r.rx_gain = 33
        assert dev.rx_hardwaregain_chan0 == 33
        with pytest.raises(RadioError, match=r"did not take RX LO frequency=5\.8e\+09.*only logs"):
            r.center_freq = 5.8e9                                # refused by the AD9363; gr-iio only logs


def test_tx_returns_after_the_cyclic_push_and_close_silences():
    r, dev, src, sinks = _radio(push_delay_s=0.3)
    x = np.exp(2j * np.pi * 0.01 * np.arange(5000)).astype(np.complex64)
    t0 = time.monotonic()
    r.tx(x)
    t1 = time.monotonic()
    assert len(sinks[0].pushes) == 1 and t0 < sinks[0].pushes[0][0] <= t1     # pushed before tx returned
    assert sinks[0].cyclic and sinks[0].buffer_size == 5000
    assert not dev._tx_lo_pd and dev.tx_hardwaregain_chan0 == r.tx_gain
    r.close()
    assert dev.tx_hardwaregain_chan0 == -89.75 and dev._tx_lo_pd


def test_non_cyclic_tx_sends_the_tail_and_one_scale_with_pluto():
    r, dev, src, sinks = _radio(tx_cyclic=False, buffer_size=4096)
    x = np.exp(2j * np.pi * 0.01 * np.arange(10_000)).astype(np.complex64)
    with r:
        r.tx(x)
    sent = np.concatenate([p for _, p in sinks[0].pushes])
    assert sent.size == 4 * 4096                                  # 10000 -> 3 whole buffers + one of zeros
    words_gr = sent[:10_000] * 32768.0                            # what gr-iio turns floats into
    p = PlutoRadio("double:a", device_factory=lambda u: FakePluto(u), tx_backoff_db=r.tx_backoff_db)
    words_pluto, _ = p.scale_tx(x)
    p.close()
    assert np.allclose(words_gr, words_pluto, atol=0.01)          # the same DAC words from both backends
    assert np.abs(sent[10_000:]).max() == 0


def test_identity_and_ranges_come_from_the_device():
    r, dev, src, _ = _radio()
    with r:
        hw = r.hardware()
        assert hw["serial"].startswith("104473") and hw["firmware"] == "v0.38" and hw["driver"] == "gr-iio"
        assert r.gain_range()["rx"] == (-3.0, 1.0, 71.0)
        assert r.tracking() == {"quadrature": True, "rf_dc": True, "bb_dc": True}
