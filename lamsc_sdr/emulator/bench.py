"""How fast can a real client stream from the emulator without losing samples, on one core?

For each sample rate and trial: one emulated Pluto plays a cyclic tone to itself (so every RX
block goes through the air: link taps, CFO, noise, AGC, 12-bit ADC), and a separate client
process reads for ``seconds``: ``libiio`` (pylibiio ``Buffer.refill`` + ``read``: the libiio 0.24
network backend alone), ``pyadi`` (``adi.Pluto.rx()``, which adds pyadi's conversion to complex)
or ``gr-iio`` (``fmcomms2_source_fc32`` into a null sink). The emulator process and the client
are pinned to the same CPU core. ``kernel_buffers`` (4 on a Pluto) sets the slack a client has
before the DMA overflows: on a loaded machine the scheduler's pauses, not the CPU, set the limit. A trial *sustains* the rate when the DMA lost no sample (no
overflow); a rate is sustained when most trials do. The same sweep runs against a *null* device
(blocks of zeros, no air): the cost of the protocol and the client alone, the reference measured
in the same run. ``cpu_bound_msps`` = 1 / (emulator + client CPU time per sample): the rate one
otherwise idle core could carry, which the sustained rate approaches on an idle machine.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

from .device import RX_DEV
from .server import PlutoEmulator

CLIENTS = ("libiio", "pyadi", "gr-iio")

_LIBIIO = r"""
import json, sys, time, iio
uri, rate, n, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
ctx = iio.Context(uri)
dev = ctx.find_device("cf-ad9361-lpc")
for ch in dev.channels:
    ch.enabled = ch.id in ("voltage0", "voltage1")
buf = iio.Buffer(dev, n)
t0 = time.perf_counter(); got = 0
while time.perf_counter() - t0 < seconds:
    buf.refill(); got += len(buf.read()) // 4
dt = time.perf_counter() - t0
del buf
print(json.dumps({"samples": got, "seconds": dt}))
"""

_PYADI = r"""
import json, sys, time, adi
uri, rate, n, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
sdr = adi.Pluto(uri)
sdr.rx_buffer_size = n
t0 = time.perf_counter(); got = 0
while time.perf_counter() - t0 < seconds:
    got += sdr.rx().size
dt = time.perf_counter() - t0
sdr.rx_destroy_buffer()
print(json.dumps({"samples": got, "seconds": dt}))
"""

_GRIIO = r"""
import json, sys, time
from gnuradio import gr, iio, blocks
gr.logging().set_default_level(gr.log_levels.warn)
uri, rate, n, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
src = iio.fmcomms2_source_fc32(uri, [True, True], n)
src.set_len_tag_key("")
tb = gr.top_block()
sink = blocks.null_sink(gr.sizeof_gr_complex)
counter = blocks.head(gr.sizeof_gr_complex, 1 << 62)
tb.connect(src, counter, sink)
t0 = time.perf_counter(); tb.start(); time.sleep(max(seconds, 1.5)); tb.stop(); tb.wait()
dt = time.perf_counter() - t0
print(json.dumps({"samples": int(counter.nitems_written(0)), "seconds": dt}))
"""

_SCRIPTS = {"libiio": _LIBIIO, "pyadi": _PYADI, "gr-iio": _GRIIO}


def _pin(cpu: int):
    def fn():
        try:
            os.sched_setaffinity(0, {cpu})
        except (AttributeError, OSError):
            pass
    return fn


def _trial(client: str, rate: float, seconds: float, buffer_size: int, seed: int, null: bool, cpu: int,
           kernel_buffers: int) -> dict:
    with PlutoEmulator(port=0, seed=seed, snr_db=40) as emu:
        dev = emu.devices[0]
        dev.kernel_buffers[RX_DEV] = int(kernel_buffers)
        dev.phy.rate = int(rate)
        dev.phy.tx_lo = dev.phy.rx_lo + 100_000
        dev.phy.gain_mode = "slow_attack"
        if null:
            dev.capture = lambda t0, n, fs: np.zeros((n, 2), np.int16)
        else:
            tone = (np.exp(2j * np.pi * np.arange(4096) * 37 / 4096) * 8000).astype(np.complex64)
            words = np.empty(2 * tone.size, np.int16)
            words[0::2], words[1::2] = tone.real, tone.imag
            with dev.lock:
                dev.open_tx(tone.size, [0, 1], True)
                dev.push_tx(words)
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run([sys.executable, "-c", _SCRIPTS[client], emu.uri, str(int(rate)), str(buffer_size),
                              str(seconds)], capture_output=True, text=True, timeout=seconds + 90,
                             preexec_fn=_pin(cpu))
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        time.sleep(0.05)
        stats = dev.stats()
    lines = [ln[ln.index("{"):] for ln in out.stdout.strip().splitlines() if "{" in ln]   # gr-iio prints "O"s
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"bench client {client} failed ({out.returncode}): "
                           f"{(out.stderr or out.stdout).strip()[-500:]}")
    res = json.loads(lines[-1])
    samples = max(int(res["samples"]), 1)
    cpu_s = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    ccpu_s = (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)
    return {"sustained": stats["rx_lost_samples"] == 0, "lost_samples": int(stats["rx_lost_samples"]),
            "overflows": int(stats["rx_overflows"]), "client_msps": samples / res["seconds"] / 1e6,
            "samples": samples, "emulator_cpu_ns_per_sample": cpu_s / samples * 1e9,
            "client_cpu_ns_per_sample": ccpu_s / samples * 1e9}


def _sweep(client, rates, trials, seconds, buffer_size, seed, null, cpu, progress, kernel_buffers) -> list[dict]:
    rows = []
    for r in rates:
        ts = [_trial(client, r, seconds, buffer_size, seed + k, null, cpu, kernel_buffers) for k in range(trials)]
        ok = sum(t["sustained"] for t in ts)
        rows.append({"rate_msps": r / 1e6, "trials": trials, "lossless_trials": ok, "sustained": 2 * ok > trials,
                     "lost_samples": [t["lost_samples"] for t in ts], "overflows": [t["overflows"] for t in ts],
                     "client_msps": float(np.median([t["client_msps"] for t in ts])),
                     "emulator_cpu_ns_per_sample": float(np.median([t["emulator_cpu_ns_per_sample"] for t in ts])),
                     "client_cpu_ns_per_sample": float(np.median([t["client_cpu_ns_per_sample"] for t in ts]))})
        rows[-1]["cpu_bound_msps"] = 1e3 / max(rows[-1]["emulator_cpu_ns_per_sample"]
                                               + rows[-1]["client_cpu_ns_per_sample"], 1e-9)
        if progress:
            progress(rows[-1], null)
    return rows


def run_bench(rates, seconds: float = 3.0, buffer_size: int = 65536, seed: int = 0, trials: int = 3,
              client: str = "libiio", cpu: int | None = None, progress=None, kernel_buffers: int = 4) -> dict:
    """Sweep ``rates`` (S/s) with ``client`` (one of :data:`CLIENTS`). Returns the rows for the
    emulator and for the null device and the highest sustained rate of each. Both processes run
    on core ``cpu`` (default: the first core this process may use)."""
    if client not in CLIENTS:
        raise ValueError(f"client must be one of {CLIENTS}, got {client!r}")
    if cpu is None:
        try:
            cpu = min(os.sched_getaffinity(0))
        except AttributeError:
            cpu = 0
    old = None
    try:
        old = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {cpu})
    except (AttributeError, OSError):
        pass
    load0 = os.getloadavg()
    try:
        rows = _sweep(client, rates, trials, seconds, buffer_size, seed, False, cpu, progress, kernel_buffers)
        null_rows = _sweep(client, rates, trials, seconds, buffer_size, seed, True, cpu, progress, kernel_buffers)
    finally:
        if old is not None:
            os.sched_setaffinity(0, old)

    def best(rs):
        ok = [r["rate_msps"] for r in rs if r["sustained"]]
        return max(ok) if ok else 0.0
    m, ref = best(rows), best(null_rows)
    return {"client": client, "rows": rows, "null_rows": null_rows, "max_sustained_msps": m,
            "null_max_sustained_msps": ref, "ratio_to_null": (m / ref) if ref else None,
            "ratio_to_goal": m / 4.0, "goal_msps": 4.0, "cpu": cpu, "seconds": seconds, "trials": trials,
            "buffer_size": buffer_size, "kernel_buffers": kernel_buffers, "load_avg_before": load0, "load_avg_after": os.getloadavg(),
            "cpu_count": os.cpu_count()}


def frames_through_pyadi(n_frames: int = 1000, rate: float = 2e6, n_distinct: int = 50, buffer_size: int = 1 << 16,
                         snr_db: float = 45.0, ppm=(12.0, -7.0), seed: int = 0, lo_leakage_dbc: float | None = -50.0,
                         tx_gain: float = -5.0) -> dict:
    """``n_frames`` QPSK frames of :mod:`lamsc_sdr.phy` from one emulated Pluto to another through
    unmodified pyadi-iio in real time at ``rate``: TX cyclic (``n_distinct`` numbered frames),
    RX captured continuously with ``rx()`` (decoded after the capture, so decoding speed does not
    throttle the reader), then ``FrameReceiver.push`` over the stream. The frames carry numbers
    0..n_distinct-1 in turn, so a gap in the sequence of frames decoded with a good payload CRC
    (and the right bits) counts the frames lost between the first and the last one decoded."""
    import adi

    from ..phy.config import FrameConfig
    from ..phy.frame import FrameReceiver, FrameTransmitter
    from ..phy.header import FrameHeader
    cfg = FrameConfig(payload_modulation="qpsk", max_slots=4, sample_rate=float(rate))
    ftx = FrameTransmitter(cfg)
    rng = np.random.default_rng(seed)
    payloads = [rng.integers(0, 2, 400).astype(np.uint8) for _ in range(n_distinct)]
    wave = ftx.stream([ftx.modulate_bits(b, FrameHeader(message_id=i)) for i, b in enumerate(payloads)])
    frame_len = wave.size / n_distinct
    wave = wave / np.max(np.abs(wave)) * 2 ** 14
    n_samples = int(np.ceil(n_frames * frame_len / buffer_size) + 1) * buffer_size
    with PlutoEmulator(port=0, devices=2, ppm=tuple(ppm), snr_db=snr_db, seed=seed,
                       lo_leakage_dbc=lo_leakage_dbc) as emu:
        tx, rx = adi.Pluto(emu.uris[0]), adi.Pluto(emu.uris[1])
        try:
            for s in (tx, rx):
                s.sample_rate = int(rate)
                s.rx_lo = s.tx_lo = 915_000_000
            tx.tx_hardwaregain_chan0 = tx_gain
            rx.tx_lo = 2_000_000_000
            rx.gain_control_mode_chan0 = "slow_attack"
            rx.rx_buffer_size = buffer_size
            tx.tx_cyclic_buffer = True
            tx.tx(wave)
            for _ in range(3):
                rx.rx()                        # AGC settles, stale blocks go
            t0 = time.perf_counter()
            chunks = [rx.rx() for _ in range(n_samples // buffer_size)]
            wall = time.perf_counter() - t0
            stats = emu.devices[1].stats()
        finally:
            tx.tx_destroy_buffer()
            rx.rx_destroy_buffer()
        del tx, rx
    frx = FrameReceiver(cfg)
    frames = []
    for c in chunks:
        frames += frx.push((c / 2048.0).astype(np.complex64))
    ok = [f for f in frames if f.status == "ok" and f.payload_ok
          and np.array_equal(f.bits, payloads[f.header.message_id])]
    # frames are numbered 0..n_distinct-1 cyclically: a gap in the decoded sequence is a lost frame
    ids = [f.header.message_id for f in sorted(ok, key=lambda f: f.start)]
    lost = sum((b - a) % n_distinct - 1 for a, b in zip(ids, ids[1:]))
    sent = len(ok) + lost
    from ..stats import proportion
    return {"rate_msps": rate / 1e6, "frames_sent": sent, "frames_ok": len(ok), "frames_lost": lost,
            "loss": proportion(lost, sent), "detected": len(frames),
            "statuses": {s: sum(f.status == s for f in frames) for s in {f.status for f in frames}},
            "capture_s": wall, "samples": n_samples, "overflows": stats["rx_overflows"],
            "lost_samples": stats["rx_lost_samples"], "snr_db": snr_db, "ppm": list(ppm),
            "lo_leakage_dbc": lo_leakage_dbc, "tx_gain_db": tx_gain}
