"""Messages <-> frames <-> radio: segmentation, reassembly, and the send/receive loops.

A message is text. The ``digital`` codec carries its UTF-8 bytes as bits (``modulate_bits``: QAM +
FEC + CRC-32 per frame, ``frame.payload_modulation``, QPSK when the config says ``analog``); the
``semantic`` codec carries ``SemanticCodec.encode_message`` symbols (``modulate_symbols``, one
segment per frame). Each frame's header names ``message_id``, ``segment_index``/``segment_count``;
the receiver reassembles a message once every segment arrived with a good header (and, digital,
a good payload CRC). Nothing is truncated: a message too long for 255 segments is an error.

``run_link`` is what ``lamsc link`` runs: plan -> ``radio.tx(stream)`` -> ``radio.rx`` chunks ->
``FrameReceiver.push`` -> reassembly, optionally recording the received stream to SigMF with one
annotation per detected frame and the transmitted reference alongside (``BASE.tx.sigmf-*``,
``BASE.frames.npz``). ``receive_stream`` is the receive half on its own (``lamsc receive``,
``lamsc replay``). Results are the JSON documented in ``docs/CONTRACTS.md``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import ConfigError, ShapeError
from .phy.config import FrameConfig
from .phy.frame import FrameReceiver, FrameTransmitter, RxFrame
from .phy.header import FrameHeader

log = logging.getLogger(__name__)
TEXT = 0
MAX_SEGMENTS = 255


def digital_frame_config(frame: FrameConfig) -> FrameConfig:
    """The frame config the digital link uses: QPSK if the config's payload is ``analog``."""
    return frame if frame.payload_modulation != "analog" else dataclasses.replace(frame, payload_modulation="qpsk")


def text_to_bits(text: str) -> np.ndarray:
    """UTF-8 bytes, MSB first. Output: (8 * n_bytes,) uint8."""
    return np.unpackbits(np.frombuffer(text.encode("utf-8"), dtype=np.uint8))


def bits_to_text(bits: np.ndarray) -> str:
    """Inverse of :func:`text_to_bits` (invalid UTF-8 becomes U+FFFD)."""
    b = np.asarray(bits, dtype=np.uint8)
    return np.packbits(b[: b.size - b.size % 8]).tobytes().decode("utf-8", errors="replace")


def frame_length(frame_cfg: FrameConfig, header: FrameHeader) -> int:
    """Samples of a frame with this header (preamble + header + payload slots)."""
    lay = FrameTransmitter(frame_cfg)._lay
    return int(lay.length(lay.n_slots(header)))


@dataclass
class TxFrame:
    """One transmitted frame: its header and where it sits in the planned stream."""

    header: FrameHeader
    start: int
    length: int
    bits: np.ndarray | None = None          # digital payload bits (uint8)
    symbols: np.ndarray | None = None       # semantic payload symbols (complex64)


@dataclass
class TxPlan:
    """What a send transmits: ``iq`` (n,) complex64 = frames separated by ``gap_samples`` zeros."""

    iq: np.ndarray
    frames: list[TxFrame]
    messages: list[dict]                    # [{"message_id", "text"}]
    codec: str = "digital"

    def reference_meta(self) -> dict:
        return {"lamsc:messages": self.messages, "lamsc:frames_sent": len(self.frames), "lamsc:codec": self.codec}


class Sender:
    """Texts -> frames -> one waveform. ``codec``: ``digital`` or ``semantic``."""

    def __init__(self, frame_cfg: FrameConfig, codec: str = "digital", semantic=None):
        if codec not in ("digital", "semantic"):
            raise ConfigError(f"--codec: must be digital or semantic, got {codec!r}")
        self.codec = codec
        self.frame_cfg = digital_frame_config(frame_cfg) if codec == "digital" else frame_cfg
        self.ftx = FrameTransmitter(self.frame_cfg)
        self.semantic = semantic

    def segments(self, text: str) -> list:
        if self.codec == "digital":
            bits = text_to_bits(text)
            cap = self.ftx.capacity_bits
            segs = [bits[i:i + cap] for i in range(0, max(bits.size, 1), cap)]
        else:
            segs = self.semantic.encode_message(text)
            cap = self.ftx.capacity_symbols
            if any(s.size > cap for s in segs):
                raise ShapeError(f"a semantic segment of {max(s.size for s in segs)} symbols exceeds the frame "
                                 f"capacity of {cap} (raise frame.max_slots)")
        if len(segs) > MAX_SEGMENTS:
            raise ShapeError(f"message needs {len(segs)} frames; at most {MAX_SEGMENTS} per message")
        return segs

    def plan(self, texts: list[str], first_id: int = 1, modalities: list[int] | None = None,
             message_ids: list[int] | None = None, addresses: list[int] | None = None) -> TxPlan:
        """Frames for ``texts`` (message ids from ``first_id``, or ``message_ids``); ``modalities``:
        header modality per message (0 text, 1 image, 2 audio, 3 video; default all text);
        ``addresses``: header address per message (``phy.header.user_address``/``group_address``;
        default 0, unaddressed)."""
        for name, v in (("modalities", modalities), ("message_ids", message_ids), ("addresses", addresses)):
            if v is not None and len(v) != len(texts):
                raise ShapeError(f"{len(v)} {name} for {len(texts)} messages")
        gap = self.frame_cfg.gap_samples
        frames, bursts, msgs = [], [], []
        pos = gap
        for k, text in enumerate(texts):
            mid = (first_id + k) & 0xFFFF if message_ids is None else int(message_ids[k])
            addr = 0 if addresses is None else int(addresses[k])
            segs = self.segments(text)
            msgs.append({"message_id": mid, "text": text} | ({"address": addr} if addr else {}))
            for i, s in enumerate(segs):
                h = FrameHeader(message_id=mid, segment_index=i, segment_count=len(segs),
                                modality=TEXT if modalities is None else int(modalities[k]), address=addr)
                if self.codec == "digital":
                    iq = self.ftx.modulate_bits(s, h)
                    tf = TxFrame(h, pos, iq.size, bits=np.asarray(s, np.uint8))
                else:
                    iq = self.ftx.modulate_symbols(s, h)
                    tf = TxFrame(h, pos, iq.size, symbols=np.asarray(s, np.complex64))
                frames.append(tf)
                bursts.append(iq)
                pos += iq.size + gap
        return TxPlan(self.ftx.stream(bursts), frames, msgs, self.codec)


class Reassembler:
    """Collects delivered segments by message id; duplicates (cyclic TX) are ignored.

    ``accept``: ``accept(header) -> bool``; frames it refuses (addressed to another receiver) are
    dropped and counted in ``foreign``. Default: keep every frame."""

    def __init__(self, codec: str = "digital", semantic=None, accept: Callable[[FrameHeader], bool] | None = None):
        self.codec = codec
        self.semantic = semantic
        self.accept = accept
        self.foreign = 0
        self.segments: dict[int, dict[int, RxFrame]] = {}
        self.counts: dict[int, int] = {}

    @staticmethod
    def delivered(fr: RxFrame) -> bool:
        return fr.crc_ok and fr.header is not None and fr.payload_ok is not False and fr.status == "ok"

    def add(self, fr: RxFrame) -> None:
        if not self.delivered(fr):
            return
        h = fr.header
        if self.accept is not None and not self.accept(h):
            self.foreign += 1
            return
        self.counts[h.message_id] = h.segment_count
        self.segments.setdefault(h.message_id, {}).setdefault(h.segment_index, fr)

    def complete(self, message_id: int) -> bool:
        n = self.counts.get(message_id)
        return n is not None and len(self.segments.get(message_id, {})) >= n

    def text(self, message_id: int) -> str | None:
        """The message (None unless complete)."""
        if not self.complete(message_id):
            return None
        segs = [self.segments[message_id][i] for i in range(self.counts[message_id])]
        if self.codec == "digital":
            return bits_to_text(np.concatenate([s.bits for s in segs]))
        return self.semantic.decode_message([s.symbols for s in segs], [s.noise_var for s in segs])

    @property
    def n_delivered(self) -> int:
        return sum(len(v) for v in self.segments.values())


def load_semantic(codec: str, run_cfg):
    if codec != "semantic":
        return None
    try:
        from .semantic.codec import SemanticCodec
    except ImportError as err:
        raise ConfigError(f"--codec semantic: the semantic codec is not available here ({err})") from err
    return SemanticCodec.load(getattr(run_cfg.semantic, "checkpoint", None), expected=None)


def make_receiver(run_cfg, codec: str = "digital") -> FrameReceiver:
    """The FrameReceiver of a run config (estimator from ``run_cfg.estimator``)."""
    from .estimation import make_estimator
    fcfg = digital_frame_config(run_cfg.frame) if codec == "digital" else run_cfg.frame
    est = make_estimator(run_cfg.estimator, fcfg, run_cfg.channel.model)
    hw = run_cfg.radio.backend in ("pluto", "gnuradio-pluto")     # a real receive chain: DC/LO residual
    return FrameReceiver(fcfg, est, run_cfg.estimator.equalizer, dc_block=hw)


def annotate(recorder, fr: RxFrame, frame_cfg: FrameConfig) -> None:
    """One SigMF annotation for a detected frame."""
    h = fr.header
    count = frame_length(frame_cfg, h) if h is not None else 0
    fields = {"header_crc_ok": bool(fr.crc_ok), "status": fr.status, "snr_db": round(float(fr.snr_db), 3),
              "cfo_hz": round(float(fr.cfo_hz), 3)}
    if h is not None:
        fields.update(message_id=h.message_id, segment_index=h.segment_index, segment_count=h.segment_count,
                      payload_kind=h.payload_kind, payload_len=h.payload_len)
    if fr.payload_ok is not None:
        fields["payload_crc_ok"] = bool(fr.payload_ok)
    recorder.annotate(fr.start, count, **fields)


def receive_stream(radio, receiver: FrameReceiver, *, chunk: int, max_samples: int,
                   until: Callable[[], bool] | None = None, recorder=None,
                   on_frame: Callable[[RxFrame], None] | None = None, exhausted: Callable[[], bool] | None = None,
                   truth=None, progress: bool = False) -> tuple[list[RxFrame], int]:
    """Read ``chunk`` samples at a time into ``receiver`` until ``until()``, ``exhausted()`` or
    ``max_samples``. Returns (frames, samples read). Each frame is annotated on ``recorder``.
    ``truth``: perfect-CSI oracle handed to ``FrameReceiver.push`` (simulated radios only).
    ``progress``: a tqdm bar of samples read and frames decoded (on a terminal only)."""
    from tqdm import tqdm
    frames: list[RxFrame] = []
    read = 0
    bar = tqdm(total=int(max_samples), unit="sa", unit_scale=True, desc="receive", leave=False,
               disable=None if progress else True)
    try:
        while read < max_samples:
            y = radio.rx(chunk)
            read += y.size
            for fr in receiver.push(y, truth=truth):
                frames.append(fr)
                if recorder is not None:
                    annotate(recorder, fr, receiver.cfg)
                if on_frame is not None:
                    on_frame(fr)
            bar.update(min(y.size, max(0, int(max_samples) - bar.n)))
            bar.set_postfix(frames=len(frames), refresh=False)
            if (until is not None and until()) or (exhausted is not None and exhausted()):
                break
    finally:
        bar.close()
    return frames, read


def digest(frames: list[RxFrame]) -> str:
    """sha256 over every frame's start, decoded bits and equalized symbols: equal digests = bit-exact."""
    h = hashlib.sha256()
    for fr in frames:
        h.update(int(fr.start).to_bytes(8, "little", signed=True))
        for a in (fr.bits, fr.symbols):
            if a is not None:
                h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def results(messages: list[dict], frames: list[RxFrame], reasm: Reassembler, n_sent: int,
            samples: int, stats=None) -> dict:
    """The link/replay JSON: frames {sent, detected, crc_ok, lost, ...} and per-message texts."""
    unique_ok = reasm.n_delivered
    out_msgs = []
    for m in messages:
        mid = m["message_id"]
        got = reasm.text(mid)
        n_seg = reasm.counts.get(mid)
        out_msgs.append({"message_id": mid, "text_sent": m.get("text"), "text_received": got,
                         "complete": got is not None, "exact": got == m.get("text"),
                         "segments": n_seg, "segments_received": len(reasm.segments.get(mid, {}))})
    det = stats.detected if stats is not None else len(frames)
    crc = stats.crc_ok if stats is not None else sum(f.crc_ok for f in frames)
    return {"frames": {"sent": n_sent, "detected": int(det), "crc_ok": int(crc),
                       "payload_ok": int(sum(1 for f in frames if Reassembler.delivered(f))),
                       "lost": max(0, n_sent - unique_ok) if n_sent else int(det - crc)},
            "messages": out_msgs, "samples": int(samples), "digest": digest(frames)}


def save_reference(base: Path, plan: TxPlan, sample_rate: float, center_freq: float | None, extra: dict) -> str:
    """The transmitted stream as ``BASE.tx.sigmf-*`` with one annotation per frame. Returns its base name."""
    from .captures.sigmf_io import SigMFRecorder
    ref = base.with_name(base.name + ".tx")
    with SigMFRecorder(ref, sample_rate, center_freq, hardware="lamsc transmitter (reference waveform)",
                       description="the waveform lamsc transmitted: reference for the received recording",
                       extra_global={**extra, **plan.reference_meta(), "lamsc:direction": "tx"}) as rec:
        rec.write(plan.iq)
        for tf in plan.frames:
            h = tf.header
            rec.annotate(tf.start, tf.length, message_id=h.message_id, segment_index=h.segment_index,
                         segment_count=h.segment_count)
    return ref.name


def save_frames_npz(path: Path, frames: list[RxFrame], plan: TxPlan | None) -> None:
    """Per detected frame: rx grid, h_hat, h_true (if known), header fields, and the sent payload."""
    import io
    sent = {(f.header.message_id, f.header.segment_index): f for f in (plan.frames if plan else [])}
    arrays: dict[str, np.ndarray] = {}
    rows = []
    for i, fr in enumerate(frames):
        h = fr.header
        rows.append((fr.start, h.message_id if h else -1, h.segment_index if h else -1, fr.crc_ok,
                     bool(fr.payload_ok), fr.snr_db, fr.cfo_hz))
        for name in ("grid", "h_hat", "h_true", "symbols", "bits"):
            a = getattr(fr, name)
            if a is not None:
                arrays[f"{name}_{i}"] = np.asarray(a)
        tf = sent.get((h.message_id, h.segment_index)) if h else None
        if tf is not None:
            arrays[f"tx_{'bits' if tf.bits is not None else 'symbols'}_{i}"] = \
                tf.bits if tf.bits is not None else tf.symbols
    table = np.array(rows, dtype=[("start", "i8"), ("message_id", "i4"), ("segment_index", "i4"),
                                  ("header_crc_ok", "?"), ("payload_ok", "?"), ("snr_db", "f4"), ("cfo_hz", "f4")])
    buf = io.BytesIO()
    np.savez_compressed(buf, frames=table, **arrays)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(path)


def run_link(radio, run_cfg, texts: list[str], *, record: str | Path | None = None, codec: str = "digital",
             max_samples: int | None = None, chunk: int | None = None, calibration: dict | None = None,
             semantic=None, modalities: list[int] | None = None, first_id: int = 1, truth=None,
             keep: dict | None = None, progress: bool = False) -> dict:
    """Send ``texts`` and receive them on ``radio`` in one process; returns the results dict.

    ``record``: SigMF base path for the received stream (+ reference + frames npz alongside).
    ``max_samples``: receive budget (default: the planned stream plus 4 chunks; 20x for cyclic TX).
    ``semantic``: an already loaded SemanticCodec (default: load the config's); ``modalities``:
    header modality per message; ``truth``: ``truth(radio, plan) -> callable or None``, the
    perfect-CSI oracle once the burst is on the air; ``keep``: a dict that receives ``plan``,
    ``frames``, ``receiver`` and ``reassembler`` for callers that need more than the JSON.
    """
    from .captures.sigmf_io import SigMFRecorder, base_path
    from .radio.base import recording_fields
    semantic = semantic if semantic is not None else load_semantic(codec, run_cfg)
    sender = Sender(run_cfg.frame, codec, semantic)
    plan = sender.plan(texts, first_id=first_id, modalities=modalities)
    receiver = make_receiver(run_cfg, codec)
    reasm = Reassembler(codec, semantic)
    chunk = int(chunk or run_cfg.radio.rx_chunk)
    budget = max_samples or plan.iq.size * (20 if getattr(radio, "tx_cyclic", False) else 1) + 4 * chunk
    recorder = None
    extra = {"lamsc:config": run_cfg.to_dict(), "lamsc:backend": radio.backend,
             "lamsc:simulated": radio.backend in ("sim", "gnuradio", "sigmf-file"),
             "lamsc:calibration": calibration, "lamsc:rx_chunk": chunk, "lamsc:radio": radio.settings()}
    if record:
        base = base_path(record)
        ref_name = save_reference(base, plan, radio.sample_rate, radio.center_freq, extra)
        rate, freq, hw = recording_fields(radio, extra["lamsc:simulated"])
        recorder = SigMFRecorder(base, rate, freq, hardware=hw,
                                 extra_global={**extra, **plan.reference_meta(), "lamsc:reference": ref_name})
        radio.record_to(recorder)
    ids = [m["message_id"] for m in plan.messages]
    try:
        radio.tx(plan.iq)
        frames, read = receive_stream(radio, receiver, chunk=chunk, max_samples=budget, recorder=recorder,
                                      on_frame=reasm.add, until=lambda: all(reasm.complete(i) for i in ids),
                                      truth=truth(radio, plan) if truth is not None else None, progress=progress)
    finally:
        if recorder is not None:
            recorder.close()
    if keep is not None:
        keep.update(plan=plan, frames=frames, receiver=receiver, reassembler=reasm)
    res = results(plan.messages, frames, reasm, len(plan.frames), read, receiver.stats)
    if record:
        save_frames_npz(base.with_name(base.name + ".frames.npz"), frames, plan)
        res["recording"] = str(base) + ".sigmf-meta"
    return res



def replay_capture(path, run_cfg=None, codec: str | None = None, chunk: int | None = None, *,
                   config_path=None, overrides: dict | None = None) -> tuple[dict, object]:
    """Decode a SigMF recording as a live receiver would (``lamsc replay``).

    The run config, receive chunk, codec and calibration come from the recording's metadata
    unless given; ``config_path``/``overrides`` apply on top of the recording's config (a frame
    layout change is a ConfigError); ``run_cfg`` replaces it outright. Recordings at another
    sample rate are resampled to ``frame.sample_rate``. Returns (results dict, RunConfig used).
    """
    from .captures.replay_config import check_lamsc_meta, replay_config
    from .captures.sigmf_io import read_capture
    from .radio.replay import ReplayRadio
    cap = read_capture(path)
    check_lamsc_meta(cap.global_info, str(cap.meta_path))
    if run_cfg is None:
        run_cfg = replay_config(cap.config, str(cap.meta_path), config_path, overrides)
    if not cap.complete:
        log.warning("%s: the recording was cut off (lamsc:complete=false): frames after the cut are missing",
                    cap.meta_path)
    codec = codec or cap.global_info.get("lamsc:codec", "digital")
    chunk = int(chunk or cap.global_info.get("lamsc:rx_chunk") or run_cfg.radio.rx_chunk)
    radio = ReplayRadio(cap, run_cfg.frame.sample_rate, buffer_size=chunk)
    rx_radio = radio
    if cap.calibration:
        from .calibration import CalibratedRadio, Calibration
        from .config_base import from_mapping
        rx_radio = CalibratedRadio(radio, from_mapping(Calibration, cap.calibration))
    semantic = load_semantic(codec, run_cfg)
    receiver = make_receiver(run_cfg, codec)
    reasm = Reassembler(codec, semantic)
    with rx_radio:
        frames, read = receive_stream(rx_radio, receiver, chunk=chunk, max_samples=radio.n_samples + chunk,
                                      on_frame=reasm.add, exhausted=lambda: radio.exhausted)
    messages = cap.messages or [{"message_id": m, "text": None} for m in sorted(reasm.counts)]
    res = results(messages, frames, reasm, int(cap.global_info.get("lamsc:frames_sent", 0)), read, receiver.stats)
    res.update(recording=str(cap.meta_path), recorded_sample_rate=cap.sample_rate,
               simulated=cap.simulated, truncated_bytes=cap.truncated_bytes, recording_complete=cap.complete)
    return res, run_cfg
