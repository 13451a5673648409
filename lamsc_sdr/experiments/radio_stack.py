"""``lamsc bench radio-stack``: the Pluto backends through the real driver stacks, in real time.

Three measurements on one device URI (a Pluto, or the emulated one: ``lamsc emulate pluto``),
for ``pluto`` (pyadi-iio) or ``gnuradio-pluto`` (gr-iio), each over libiio's network backend:

- :func:`frames_realtime`: ``n`` distinct one-frame messages sent cyclically at ``rate``, read in
  real time for one period plus margin in ``rx_chunk`` reads (the driver stack alone), then decoded.
  Frames lost = messages never decoded (the cycle shows each once); CPU per sample of the reading
  (``driver_ns_per_sample``, and ``core_fraction`` of one core at ``rate``: above 1 the stack cannot
  keep up) and of the decoder, timed on its own (``decoder_core_fraction``: whether the PHY could
  decode live at this rate).
- :func:`max_rate`: for each rate, only read (no decoding) for ``seconds`` with this process
  pinned to one CPU; the highest rate with no overflow (``radio.overflows``, the RX DMA's flag).
- :func:`slow_reader`: a reader that stops for ``pause_s`` in the middle: overflows counted, the
  gap marked in the SigMF recording, and the frames decoded before and after the gap.

Every result carries the config and versions (``--json``).
"""
from __future__ import annotations

import os
import time
from dataclasses import replace

import numpy as np


def _open(cfg, backend: str, uri: str, rate: float, **kw):
    from ..radio import make_radio
    rcfg = replace(cfg.radio, backend=backend, uri=uri, **kw)
    run = cfg.replace(frame={"sample_rate": float(rate)}) if rate != cfg.frame.sample_rate else cfg
    return make_radio(rcfg, run), run


def _texts(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    words = ["pluto", "frame", "lamsc", "radio", "stack", "libiio", "buffer", "sample", "stream", "queue"]
    return [f"{i:04d} " + " ".join(rng.choice(words, 3)) for i in range(n)]


def frames_realtime(cfg, backend: str, uri: str, n: int = 1000, rate: float = 2e6, seed: int = 0,
                    rx_uri: str | None = None, progress: bool = True) -> dict:
    """Send ``n`` frames cyclically and decode one full period live (see module docstring)."""
    from ..transport import Reassembler, Sender, make_receiver
    radio, run = _open(cfg, backend, uri, rate, rx_uri=rx_uri)
    sender = Sender(run.frame, "digital")
    plan = sender.plan(_texts(n, seed))
    receiver = make_receiver(run.replace(radio={"backend": backend}), "digital")
    reasm = Reassembler("digital")
    chunk = int(run.radio.rx_chunk)
    total = plan.iq.size + 8 * chunk + plan.frames[0].length
    read, dec_cpu = 0, 0.0
    with radio:
        radio.tx(plan.iq)
        radio.rx(chunk)                              # first (fresh) buffer: the TX is on the air
        t0, c0 = time.monotonic(), time.process_time()
        bar = _bar(progress, total, f"{backend} {n} frames")
        chunks = []
        while read < total:                      # the stack alone, in real time
            y = radio.rx(chunk)
            read += y.size
            chunks.append(y)
            if bar is not None:
                bar.update(y.size)
        wall, cpu = time.monotonic() - t0, time.process_time() - c0
        overflows = radio.overflows
    if bar is not None:
        bar.close()
    d0 = time.process_time()                     # then the decoder, timed on its own
    for y in chunks:
        for fr in receiver.push(y):
            reasm.add(fr)
    dec_cpu = time.process_time() - d0
    got = {m for m in reasm.counts if reasm.complete(m)}
    ids = {m["message_id"] for m in plan.messages}
    return {"backend": backend, "rate": rate, "frames": n, "decoded": len(ids & got), "lost": len(ids - got),
            "samples": read, "wall_s": round(wall, 3), "realtime_factor": round(read / rate / wall, 3),
            "overflows": overflows, "driver_ns_per_sample": round(cpu / read * 1e9, 2),
            "core_fraction": round(cpu / read * rate, 3),
            "decoder_ns_per_sample": round(dec_cpu / read * 1e9, 2),
            "decoder_core_fraction": round(dec_cpu / read * rate, 3)}


def max_rate(cfg, backend: str, uri: str, rates: list[float], seconds: float = 2.0, cpu: int | None = 0,
             progress: bool = True) -> dict:
    """Highest rate read for ``seconds`` without an overflow, this process on one CPU."""
    old = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    if cpu is not None and old is not None:
        os.sched_setaffinity(0, {sorted(old)[cpu % len(old)]})
    rows = []
    try:
        for rate in rates:
            radio, run = _open(cfg, backend, uri, rate, rf_bandwidth=min(float(rate), 20e6))
            chunk = int(max(run.radio.rx_chunk, rate // 50))
            with radio:
                radio.rx(chunk)
                c0, t0, read = time.process_time(), time.monotonic(), 0
                while time.monotonic() - t0 < seconds:
                    read += radio.rx(chunk).size
                wall, used = time.monotonic() - t0, time.process_time() - c0
                rows.append({"rate": rate, "overflows": radio.overflows, "samples": read,
                             "realtime_factor": round(read / rate / wall, 3),
                             "cpu_ns_per_sample": round(used / max(read, 1) * 1e9, 2)})
            if progress:
                r = rows[-1]
                print(f"  {backend} {rate / 1e6:5.2f} Msps: overflows {r['overflows']}, "
                      f"{r['realtime_factor']:.3f} x real time, {r['cpu_ns_per_sample']:.0f} ns/sample")
    finally:
        if cpu is not None and old is not None:
            os.sched_setaffinity(0, old)
    ok = [r["rate"] for r in rows if r["overflows"] == 0]
    return {"backend": backend, "seconds": seconds, "pinned_cpu": cpu, "rows": rows,
            "max_rate_without_overflow": max(ok) if ok else None}


def slow_reader(cfg, backend: str, uri: str, out_base, rate: float = 2e6, n: int = 200, pause_s: float = 0.5,
                seed: int = 0) -> dict:
    """Read, stop for ``pause_s``, read on: overflows counted and marked, frames on both sides decode."""
    from ..captures.sigmf_io import SigMFRecorder, read_capture
    from ..radio.base import recording_fields
    from ..transport import Reassembler, Sender, make_receiver
    radio, run = _open(cfg, backend, uri, rate)
    plan = Sender(run.frame, "digital").plan(_texts(n, seed))
    receiver = make_receiver(run.replace(radio={"backend": backend}), "digital")
    reasm = Reassembler("digital")
    chunk = int(run.radio.rx_chunk)
    half = plan.iq.size // 2
    frames = []
    with radio:
        radio.tx(plan.iq)
        rate_rb, freq, hw = recording_fields(radio)
        rec = SigMFRecorder(out_base, rate_rb, freq, hardware=hw)
        radio.record_to(rec)
        read, chunks = 0, []
        while read < 2 * plan.iq.size:
            if half <= read < half + chunk:
                time.sleep(pause_s)                     # the reader falls behind, once
            y = radio.rx(chunk)
            read += y.size
            chunks.append(y)
        gaps, overflows = list(radio.gaps), radio.overflows
        rec.close()
    for y in chunks:                                    # decoded afterwards: the pause is the only delay
        frames += receiver.push(y)
    for fr in frames:
        reasm.add(fr)
    ok = [f for f in frames if reasm.delivered(f)]
    after = [g for g in gaps if g >= half - chunk]       # the gap the pause made (not start-up marks)
    cut = after[0] if after else None
    cap = read_capture(out_base)
    segs = [c for c in cap.captures[1:] if "overflow" in c.get("lamsc:gap", "")]
    return {"backend": backend, "rate": rate, "pause_s": pause_s, "overflows": overflows, "gaps": gaps,
            "gap_segments_in_recording": len(segs),
            "frames_before_gap": sum(1 for f in ok if cut is not None and f.start < cut),
            "frames_after_gap": sum(1 for f in ok if cut is not None and f.start >= cut),
            "frames_decoded": len(ok), "recording": str(cap.meta_path)}


def _bar(progress: bool, total: int, desc: str):
    if not progress:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        return None
    return tqdm(total=total, desc=desc, unit="S", unit_scale=True, leave=False)
