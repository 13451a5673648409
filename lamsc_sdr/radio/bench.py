"""Radio measurements behind ``lamsc eval fer`` and ``lamsc bench soak``.

- :func:`fer_sweep`: frame error rate versus SNR through several backends in one run, with the
  same payloads; a frame is correct when it is detected, its header CRC passes and its payload
  decodes to exactly the sent bits. Each point carries a Wilson 95% interval and a two-sided
  two-proportion z-test p-value between the first two backends ("agree" = p > 0.01 everywhere,
  a Bonferroni-safe threshold for a handful of SNR points).
- :func:`soak`: many frames streamed through one loopback radio in batches, counting lost frames
  and sampling the process RSS after every batch.
"""
from __future__ import annotations

import os
import time

import numpy as np

from ..phy.frame import FrameTransmitter
from ..phy.header import FrameHeader
from ..stats import two_proportion_p, wilson  # noqa: F401  (re-exported for callers)


def _frames(ftx: FrameTransmitter, bits: np.ndarray, first_id: int) -> list[np.ndarray]:
    """(n_frames, n_bits) uint8 -> one burst per frame, message ids first_id, first_id+1, ..."""
    return [ftx.modulate_bits(b, FrameHeader(message_id=(first_id + i) & 0xFFFF)) for i, b in enumerate(bits)]


def _run_frames(radio, receiver, stream: np.ndarray, chunk: int, extra_chunks: int = 2) -> list:
    radio.tx(stream)
    out = []
    n = -(-stream.size // chunk) + extra_chunks
    for _ in range(n):
        out += receiver.push(radio.rx(chunk))
    return out


def fer_worker(cfg: dict, n_frames: int, n_bits: int):
    """Worker factory (``experiments.runner``) for one FER point: item ``{"snr_db", "si", "radio"}``."""
    from ..config import config_from_mapping
    base = config_from_mapping(cfg)

    def run(item: dict) -> dict:
        return _fer_point(base, float(item["snr_db"]), int(item["si"]), item["radio"], n_frames, n_bits)

    return run


def _fer_point(cfg, snr: float, si: int, b: str, n_frames: int, n_bits: int) -> dict:
    """FER of ``n_frames`` frames through radio backend ``b`` at ``snr``: a pure function of
    (seed, point index), so points may run anywhere and in any order."""
    from ..transport import digital_frame_config, make_receiver
    from . import make_radio
    fcfg = digital_frame_config(cfg.frame)
    ftx = FrameTransmitter(fcfg)
    rng = np.random.default_rng([cfg.seed, si])
    bits = rng.integers(0, 2, (n_frames, n_bits)).astype(np.uint8)
    stream = ftx.stream(_frames(ftx, bits, 0))
    c = cfg.replace(radio={"backend": b}, channel={"snr_db": float(snr)}, seed=cfg.seed + si)
    receiver = make_receiver(c, "digital")
    with make_radio(c.radio, c) as radio:
        frames = _run_frames(radio, receiver, stream, c.radio.rx_chunk)
    ok = set()
    for fr in frames:
        h = fr.header
        if fr.crc_ok and h is not None and fr.payload_ok and h.message_id < n_frames \
                and fr.bits is not None and np.array_equal(fr.bits, bits[h.message_id]):
            ok.add(h.message_id)
    errors = n_frames - len(ok)
    return {"frames": n_frames, "errors": errors, "fer": errors / n_frames,
            "ci95": list(wilson(errors, n_frames)), "detected": receiver.stats.detected,
            "header_crc_ok": receiver.stats.crc_ok}


def fer_sweep(cfg, radios: list[str], snrs: list[float], n_frames: int, n_bits: int, workers: int = 1,
              ray_address: str | None = None) -> dict:
    """Every (SNR, radio) point is a work item (``--workers N`` / ``--ray-address``: Ray tasks)."""
    from ..experiments.runner import run_items
    from ..transport import digital_frame_config
    fcfg = digital_frame_config(cfg.frame)
    items = [{"snr_db": float(snr), "si": si, "radio": b} for si, snr in enumerate(snrs) for b in radios]
    res = run_items("lamsc_sdr.radio.bench:fer_worker", {"cfg": cfg.to_dict(), "n_frames": n_frames,
                                                          "n_bits": n_bits}, items, workers, ray_address, "FER points")
    rows = []
    for si, snr in enumerate(snrs):
        row = {"snr_db": snr}
        for it, r in zip(items, res):
            if it["si"] == si:
                row[it["radio"]] = r
        if len(radios) >= 2:
            a, b2 = row[radios[0]], row[radios[1]]
            row["p_value"] = two_proportion_p(a["errors"], n_frames, b2["errors"], n_frames)
        else:
            row["p_value"] = 1.0
        rows.append(row)
    return {"radios": radios, "model": cfg.channel.model, "frames_per_point": n_frames, "bits_per_frame": n_bits,
            "payload": f"{fcfg.payload_modulation} rate {fcfg.payload_code_rate}", "rows": rows,
            "agree": all(r["p_value"] > 0.01 for r in rows)}


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def soak(cfg, n_frames: int, n_bits: int, batch: int = 200) -> dict:
    """Stream ``n_frames`` frames through ``cfg.radio.backend`` in batches; count lost frames."""
    from ..transport import digital_frame_config, make_receiver
    from . import make_radio
    fcfg = digital_frame_config(cfg.frame)
    ftx = FrameTransmitter(fcfg)
    rng = np.random.default_rng(cfg.seed)
    bits = rng.integers(0, 2, (batch, n_bits)).astype(np.uint8)   # payloads reused, ids unique
    receiver = make_receiver(cfg, "digital")
    chunk = cfg.radio.rx_chunk
    ok: set[int] = set()
    rss = [_rss_mb()]
    samples = 0
    t0 = time.perf_counter()
    with make_radio(cfg.radio, cfg) as radio:
        sent = 0
        pending = 0
        while sent < n_frames:
            k = min(batch, n_frames - sent)
            stream = ftx.stream(_frames(ftx, bits[:k], sent))
            radio.tx(stream)
            pending += stream.size
            while pending >= chunk:
                frames = receiver.push(radio.rx(chunk))
                pending -= chunk
                samples += chunk
                for fr in frames:
                    h = fr.header
                    if fr.crc_ok and h is not None and fr.payload_ok and \
                            np.array_equal(fr.bits, bits[h.message_id % batch]):
                        ok.add(h.message_id)
            sent += k
            rss.append(_rss_mb())
        for _ in range(3):                       # flush the tail
            for fr in receiver.push(radio.rx(chunk)):
                if fr.crc_ok and fr.header is not None and fr.payload_ok:
                    ok.add(fr.header.message_id)
            samples += chunk
    dt = time.perf_counter() - t0
    half = rss[len(rss) // 2:]
    return {"backend": cfg.radio.backend, "snr_db": cfg.channel.snr_db, "model": cfg.channel.model,
            "frames": {"sent": n_frames, "detected": receiver.stats.detected, "crc_ok": receiver.stats.crc_ok,
                       "delivered": len(ok), "lost": n_frames - len(ok)},
            "seconds": dt, "frames_per_s": n_frames / dt, "msps": samples / dt / 1e6, "samples": samples,
            "rss_mb": {"start": rss[0], "end": rss[-1], "max": max(rss),
                       "second_half_growth": half[-1] - half[0]}}
