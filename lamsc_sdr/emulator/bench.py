"""How fast can the real libiio client stream from the emulator without losing samples?

For each sample rate: one emulated Pluto plays a cyclic waveform to itself (so every RX block goes
through the air: channel taps, CFO, noise, AGC, ADC), and a separate client process, the real
libiio 0.24 network backend via pylibiio, refills a ``buffer_size`` RX buffer for ``seconds``.
Both processes are pinned to the same CPU core. A rate is *sustained* when the DMA lost no sample
(no overflow). The same sweep runs against a *null* device (blocks of zeros, no air), the cost of
the protocol and the client alone: the reference measured in the same run.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

from .server import PlutoEmulator

_CLIENT = r"""
import json, sys, time, iio
uri, n, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
ctx = iio.Context(uri)
dev = ctx.find_device("cf-ad9361-lpc")
for ch in dev.channels:
    ch.enabled = ch.id in ("voltage0", "voltage1")
buf = iio.Buffer(dev, n)
t0 = time.perf_counter(); got = 0
while time.perf_counter() - t0 < seconds:
    buf.refill(); got += len(buf.read())
dt = time.perf_counter() - t0
del buf
print(json.dumps({"bytes": got, "seconds": dt}))
"""


def _pin(cpu: int):
    def fn():
        try:
            os.sched_setaffinity(0, {cpu})
        except (AttributeError, OSError):
            pass
    return fn


def _one(rate: float, seconds: float, buffer_size: int, seed: int, null: bool, cpu: int) -> dict:
    with PlutoEmulator(port=0, seed=seed, snr_db=40) as emu:
        dev = emu.devices[0]
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
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", _CLIENT, emu.uri, str(buffer_size), str(seconds)],
                             capture_output=True, text=True, timeout=seconds + 60, preexec_fn=_pin(cpu))
        wall = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        time.sleep(0.05)
        stats = dev.stats()
    if out.returncode != 0:
        raise RuntimeError(f"bench client failed: {out.stderr.strip()[-500:]}")
    res = json.loads(out.stdout.strip().splitlines()[-1])
    samples = res["bytes"] / 4
    cpu_s = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    return {"rate_msps": rate / 1e6, "sustained": stats["rx_lost_samples"] == 0,
            "lost_samples": int(stats["rx_lost_samples"]), "overflows": int(stats["rx_overflows"]),
            "client_msps": samples / res["seconds"] / 1e6, "samples": int(samples),
            "server_cpu_s": cpu_s, "wall_s": wall,
            "server_cpu_per_sample_ns": cpu_s / max(samples, 1) * 1e9}


def _memcpy_gbps(nbytes: int = 64 << 20) -> float:
    a = np.ones(nbytes, np.uint8)
    b = np.empty_like(a)
    t0 = time.perf_counter()
    for _ in range(4):
        np.copyto(b, a)
    return 4 * nbytes / (time.perf_counter() - t0) / 1e9


def run_bench(rates, seconds: float = 3.0, buffer_size: int = 65536, seed: int = 0, cpu: int | None = None) -> dict:
    """Sweep ``rates`` (S/s). Returns rows for the emulator and the null device, and the highest
    sustained rates. The emulator process and the client are pinned to core ``cpu`` (default:
    the first core this process may use)."""
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
    try:
        rows = [_one(r, seconds, buffer_size, seed, False, cpu) for r in rates]
        null_rows = [_one(r, seconds, buffer_size, seed, True, cpu) for r in rates]
    finally:
        if old is not None:
            os.sched_setaffinity(0, old)

    def best(rs):
        ok = [r["rate_msps"] for r in rs if r["sustained"]]
        return max(ok) if ok else 0.0
    m, ref = best(rows), best(null_rows)
    return {"rows": rows, "null_rows": null_rows, "max_sustained_msps": m, "null_max_sustained_msps": ref,
            "ratio_to_null": (m / ref) if ref else None, "ratio_to_goal": m / 4.0, "goal_msps": 4.0,
            "reference_memcpy_gbps": _memcpy_gbps(), "cpu": cpu, "seconds": seconds, "buffer_size": buffer_size,
            "load_avg": os.getloadavg()}
