"""LAM-SC over a radio: payload items -> the project's OFDM frames (pilots, header, CRC) -> any
radio backend -> FrameReceiver (sync, LS | LMMSE | CGE estimate, equalization) -> items.

An image message is one ``message_id`` with modality 1 (image) and several frames:

* frame 0: the ASC mask as side information, digital (zlib-packed bits, QPSK rate 1/2, CRC-32);
* frames 1..: the channel encoder's complex symbols, analog, ``capacity_symbols`` per frame.

The JPEG baseline uses the same path with digital frames at its own modulation and code rate.
Only the transport floor is used (``transport``, ``phy``, ``radio``, ``estimation``); the
perfect-CSI oracle of a simulated radio comes from ``phy.genie``.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np

from ..errors import ShapeError
from ..phy.frame import FrameTransmitter
from ..phy.header import FrameHeader
from ..transport import MAX_SEGMENTS, Reassembler, TxFrame, TxPlan, make_receiver, receive_stream

IMAGE = 1


@dataclass
class Item:
    """One payload piece: ``bits`` (n,) uint8 sent digitally at ``modulation``/``code_rate``, or
    ``symbols`` (n,) complex64 sent analog. After the link: ``received`` (bits or symbols, None
    if lost), ``noise_var`` (analog), ``frames`` used."""

    bits: np.ndarray | None = None
    symbols: np.ndarray | None = None
    modulation: str = "qpsk"
    code_rate: str = "1/2"
    received: np.ndarray | None = None
    noise_var: np.ndarray | None = None
    frames: int = 0


def plan_items(frame_cfg, items: list[Item], message_id: int = 1, modality: int = IMAGE) -> tuple[TxPlan, list]:
    """Frames for ``items`` (each split at its frame capacity). Returns (plan, owners) where
    owners[i] = (item index, offset) of frame i."""
    pieces, owners = [], []
    for j, it in enumerate(items):
        if it.bits is not None:
            cfg = dataclasses.replace(frame_cfg, payload_modulation=it.modulation, payload_code_rate=it.code_rate)
            tx = FrameTransmitter(cfg)
            data, cap = np.asarray(it.bits, np.uint8), tx.capacity_bits
        else:
            tx = FrameTransmitter(dataclasses.replace(frame_cfg, payload_modulation="qpsk"))
            data, cap = np.asarray(it.symbols, np.complex64), tx.capacity_symbols
        for off in range(0, max(data.size, 1), cap):
            pieces.append((tx, data[off:off + cap], it.bits is not None))
            owners.append((j, off))
        it.frames = -(-max(data.size, 1) // cap)
    if len(pieces) > MAX_SEGMENTS:
        raise ShapeError(f"an image needs {len(pieces)} frames; at most {MAX_SEGMENTS} per message")
    gap = frame_cfg.gap_samples
    frames, bursts, pos = [], [], gap
    for i, (tx, chunk, digital) in enumerate(pieces):
        h = FrameHeader(message_id=message_id, segment_index=i, segment_count=len(pieces), modality=modality)
        iq = tx.modulate_bits(chunk, h) if digital else tx.modulate_symbols(chunk, h)
        frames.append(TxFrame(h, pos, iq.size, bits=chunk if digital else None, symbols=None if digital else chunk))
        bursts.append(iq)
        pos += iq.size + gap
    stream = pieces[0][0].stream(bursts)
    return TxPlan(stream, frames, [{"message_id": message_id, "text": None}], "lam-sc"), owners


def transmit(radio, run_cfg, items: list[Item], message_id: int = 1, max_samples: int | None = None) -> dict:
    """Send ``items`` over ``radio`` and receive them; fills each item's ``received``.

    Returns {"frames": {sent, detected, crc_ok, delivered}, "samples_on_air", "air_time_s",
    "snr_db" (receiver estimate, mean over delivered frames), "seconds"}."""
    t0 = time.perf_counter()
    plan, owners = plan_items(run_cfg.frame, items, message_id)
    receiver = make_receiver(run_cfg, "semantic")
    reasm = Reassembler("semantic")
    chunk = int(run_cfg.radio.rx_chunk)
    budget = max_samples or plan.iq.size * (20 if getattr(radio, "tx_cyclic", False) else 1) + 4 * chunk
    truth = None
    if getattr(radio, "bursts", None) is not None:
        from ..phy.genie import sim_radio_truth
        radio.tx(plan.iq)
        truth = sim_radio_truth(radio, plan, run_cfg.frame)
    else:
        if run_cfg.estimator.kind == "perfect":
            from ..errors import ConfigError
            raise ConfigError(f"perfect CSI needs the sim radio; got {radio.backend!r}")
        radio.tx(plan.iq)
    frames, _ = receive_stream(radio, receiver, chunk=chunk, max_samples=budget, on_frame=reasm.add,
                               until=lambda: reasm.complete(message_id), truth=truth)
    got = reasm.segments.get(message_id, {})
    parts: dict[int, list] = {}
    for i, (j, off) in enumerate(owners):
        fr = got.get(i)
        parts.setdefault(j, []).append((off, fr))
    for j, it in enumerate(items):
        frs = parts.get(j, [])
        if it.bits is not None:
            ok = all(fr is not None for _, fr in frs)
            it.received = np.concatenate([fr.bits for _, fr in frs]) if ok else None
        else:
            sym = np.zeros(it.symbols.size, np.complex64)
            nv = np.full(it.symbols.size, np.inf, np.float32)
            for off, fr in frs:
                if fr is not None:
                    sym[off:off + fr.symbols.size] = fr.symbols
                    nv[off:off + fr.symbols.size] = fr.noise_var
            it.received, it.noise_var = sym, nv
    ok = [fr for fr in got.values()]
    fs = run_cfg.frame.sample_rate
    on_air = int(sum(f.length for f in plan.frames))
    return {"frames": {"sent": len(plan.frames), "detected": int(receiver.stats.detected),
                       "crc_ok": int(receiver.stats.crc_ok), "delivered": len(got)},
            "samples_on_air": on_air, "air_time_s": on_air / fs,
            "snr_db": float(np.mean([f.snr_db for f in ok])) if ok else None,
            "seconds": time.perf_counter() - t0}
