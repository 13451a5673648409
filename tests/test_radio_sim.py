"""SimRadio: tx -> channel -> rx timeline, gains, determinism, lifecycle, recording."""
import dataclasses
import math

import numpy as np
import pytest

from lamsc_sdr.channel import ChannelConfig
from lamsc_sdr.config import RunConfig
from lamsc_sdr.errors import RadioError, ShapeError
from lamsc_sdr.radio.base import Radio
from lamsc_sdr.radio.config import RadioConfig
from lamsc_sdr.radio.sim import SimRadio


def _burst(rng, n=400):
    return ((rng.standard_normal(n) + 1j * rng.standard_normal(n)) / math.sqrt(2)).astype(np.complex64)


def test_burst_comes_back_delayed_at_high_snr(rng):
    cfg = ChannelConfig(model="awgn", snr_db=60.0, timing_offset=13)
    x = _burst(rng)
    with SimRadio(cfg, seed=1, gap_samples=100) as r:
        assert isinstance(r, Radio)
        r.tx(x)
        y = r.rx(1000)
        b = r.bursts[0]
        assert b.rx_start == 100 and b.state.delay == 13
        s = b.rx_start + b.state.delay
        np.testing.assert_allclose(y[s:s + x.size], x, atol=5e-3)
        assert np.max(np.abs(y[:s])) < 5e-3                                   # noise only before
        assert y.dtype == np.complex64 and y.shape == (1000,)


def test_multipath_burst_matches_its_channel_state(rng):
    cfg = ChannelConfig(model="lammsc", snr_db=math.inf)
    x = _burst(rng)
    r = SimRadio(cfg, seed=2, gap_samples=0)
    r.tx(x)
    y = r.rx(x.size + 20)
    st = r.last_state
    np.testing.assert_allclose(y[:x.size + st.n_taps - 1], np.convolve(x, st.taps), atol=1e-5)


def test_rx_without_tx_is_noise_floor():
    r = SimRadio(ChannelConfig(snr_db=10.0), seed=0)
    y = r.rx(50_000)
    assert np.mean(np.abs(y) ** 2) == pytest.approx(0.1, rel=0.05)
    assert r.samples_read == 50_000 and r.pending == 0


def test_tx_gain_changes_snr_rx_gain_scales_everything(rng):
    x = np.ones(20_000, np.complex64)
    cfg = ChannelConfig(model="awgn", snr_db=10.0)
    ref = SimRadio(cfg, seed=5, gap_samples=0)
    hot = SimRadio(cfg, seed=5, gap_samples=0, tx_gain=-4.0)        # +6 dB TX
    loud = SimRadio(cfg, seed=5, gap_samples=0, rx_gain=46.0)       # +6 dB RX
    for r in (ref, hot, loud):
        r.tx(x)
    a, b, c = ref.rx(x.size), hot.rx(x.size), loud.rx(x.size)
    amp = 10 ** (6 / 20)
    assert hot.snr_db == pytest.approx(16.0)
    np.testing.assert_allclose(b - amp * x, a - x, atol=1e-5)       # same noise, louder signal
    np.testing.assert_allclose(c, amp * a, rtol=1e-5)               # signal and noise scaled


def test_queue_and_timeline(rng):
    r = SimRadio(ChannelConfig(model="awgn", snr_db=math.inf), seed=0, gap_samples=10)
    x1, x2 = _burst(rng, 50), _burst(rng, 30)
    r.rx(5)                                        # 5 floor samples read first
    r.tx(x1)
    r.tx(x2)
    assert [b.rx_start for b in r.bursts] == [15, 15 + 50 + 10]
    y = np.concatenate([r.rx(7), r.rx(100), r.rx(3)])    # reads split across chunks
    np.testing.assert_array_equal(y[15 - 5:65 - 5], x1)
    np.testing.assert_array_equal(y[75 - 5:105 - 5], x2)
    assert r.samples_read == 115


def test_bit_exact_replay_for_a_seed(rng):
    cfg = ChannelConfig(model="tdl-c", snr_db=12.0, doppler_hz=20.0, cfo_hz=2e3)
    x = _burst(rng, 1000)
    outs = []
    for _ in range(2):
        r = SimRadio(cfg, seed=99)
        r.tx(x)
        a = r.rx(700)
        r.tx(x)
        outs.append(np.concatenate([a, r.rx(3000)]))
    assert np.array_equal(outs[0], outs[1])
    r3 = SimRadio(cfg, seed=100)
    r3.tx(x)
    assert not np.array_equal(outs[0][:700], r3.rx(700))


def test_repr_settings_and_properties():
    r = SimRadio(ChannelConfig(model="epa", snr_db=7.0), seed=3, sample_rate=2e6)
    text = repr(r)
    for key in ("sample_rate=2000000.0", "center_freq=", "tx_gain=", "rx_gain=", "buffer_size=",
                "channel='epa'", "snr_db=7.0", "seed=3"):
        assert key in text
    r.sample_rate = 1e6
    r.rx_gain = 30
    assert r.sample_rate == 1e6 and r.rx_gain == 30.0
    r.with_channel(snr_db=3.0)
    assert r.channel_config.snr_db == 3.0
    assert r.rx().shape == (r.buffer_size,)


def test_close_is_idempotent_and_io_after_close_raises(rng):
    r = SimRadio()
    r.close()
    r.close()
    with pytest.raises(RadioError):
        r.rx(10)
    with pytest.raises(RadioError):
        r.tx(_burst(rng))


def test_bad_tx_input():
    r = SimRadio()
    with pytest.raises(ShapeError):
        r.tx(np.zeros((2, 2), np.complex64))
    with pytest.raises(ShapeError):
        r.tx(np.array([np.nan + 0j]))


def test_recording_gets_what_rx_returns():
    class Rec:
        def __init__(self):
            self.chunks, self.closed = [], False

        def write(self, iq):
            self.chunks.append(iq.copy())

        def close(self):
            self.closed = True

    rec = Rec()
    r = SimRadio(seed=4)
    r.record_to(rec)
    a, b = r.rx(100), r.rx(50)
    r.close()
    assert rec.closed
    np.testing.assert_array_equal(np.concatenate(rec.chunks), np.concatenate([a, b]))


def test_from_config():
    run = RunConfig(seed=11, channel=ChannelConfig(model="eva", snr_db=20.0))
    run = dataclasses.replace(run, frame=dataclasses.replace(run.frame, sample_rate=2e6))
    r = SimRadio.from_config(RadioConfig(tx_gain=-5.0), run)
    assert r.seed == 11 and r.sample_rate == 2e6 and r.channel_config.model == "eva" and r.tx_gain == -5.0
