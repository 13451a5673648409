"""Bad input never escapes the receiver as an exception and is never accepted with a wrong header."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lamsc_sdr.phy.config import FrameConfig
from lamsc_sdr.phy.evaluate import _channel_fns, make_stream
from lamsc_sdr.phy.frame import FrameReceiver, FrameTransmitter
from lamsc_sdr.phy.header import FrameHeader

awgn, apply_cfo = _channel_fns()
CFG = FrameConfig(max_slots=2)


def _one_frame(rng):
    tx = FrameTransmitter(CFG)
    b = tx.modulate_symbols(np.ones(100, np.complex64), FrameHeader(message_id=42))
    x, starts = make_stream(tx, [b], rng)
    return x, starts[0]


@pytest.mark.parametrize("kind", ["zeros", "noise", "uniform", "huge", "nan", "inf", "tone", "empty", "short"])
def test_garbage_streams(kind, rng):
    n = 40_000
    x = {"zeros": np.zeros(n, np.complex64), "empty": np.zeros(0, np.complex64), "short": np.ones(5, np.complex64),
         "noise": awgn(np.zeros(n, np.complex64), 0.0, rng),
         "uniform": (rng.uniform(-1, 1, n) + 1j * rng.uniform(-1, 1, n)),
         "huge": np.full(n, 1e30 + 1e30j), "nan": np.full(n, np.nan + 0j), "inf": np.full(n, np.inf),
         "tone": np.exp(2j * np.pi * 0.01 * np.arange(n))}[kind]
    rx = FrameReceiver(CFG)
    frames = rx.process(x)
    assert all(not f.crc_ok for f in frames)
    assert rx.stats.crc_ok == 0 and rx.stats.lost == rx.stats.detected


def test_nan_burst_inside_frame_and_truncation(rng):
    clean, start = _one_frame(rng)
    y = awgn(clean, 20.0, rng)
    bad = y.copy()
    bad[start + 10: start + 200] = np.nan                     # most of the STF: still found, or lost
    for f in FrameReceiver(CFG).process(bad):
        assert not f.crc_ok or f.header.message_id == 42
    bad = y.copy()
    bad[start + 416: start + 416 + 320] = np.nan              # the whole header: must be lost
    rx = FrameReceiver(CFG)
    assert all(not f.crc_ok for f in rx.process(bad)) and rx.stats.crc_ok == 0
    cut = y[: start + 1000]                                   # header complete, payload cut
    rx = FrameReceiver(CFG)
    fr = rx.process(cut)
    assert len(fr) == 1 and fr[0].status == "truncated" and fr[0].symbols is None
    assert rx.stats.lost == 1 and rx.stats.truncated == 1


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 6000), scale=st.floats(1e-6, 1e6),
       kind=st.sampled_from(["gauss", "frame-cut", "frame-corrupt", "impulses"]))
def test_property_random_streams(seed, n, scale, kind):
    rng = np.random.default_rng(seed)
    if kind == "gauss":
        x = scale * (rng.standard_normal(n) + 1j * rng.standard_normal(n))
    elif kind == "impulses":
        x = np.zeros(n, np.complex128)
        x[rng.integers(0, max(n, 1), size=min(n, 20))] = scale * np.exp(1j * rng.uniform(0, 6, min(n, 20)))
        x[rng.integers(0, max(n, 1), size=min(n, 3))] = np.nan
    else:
        f = awgn(_one_frame(rng)[0], 15.0, rng)
        x = f[rng.integers(0, f.size // 2): rng.integers(0, f.size) + 1] * scale
        if kind == "frame-corrupt" and x.size:
            idx = rng.integers(0, x.size, size=max(x.size // 20, 1))
            x = x.copy()
            x[idx] = scale * 100 * (rng.standard_normal(idx.size) + 1j)
    rx = FrameReceiver(CFG)
    for fr in rx.process(x) + rx.push(x):
        # anything accepted must carry exactly the header that was sent
        if fr.crc_ok:
            assert fr.header.message_id == 42 and fr.header.payload_len == 100
    assert rx.stats.lost <= rx.stats.detected
