"""Compression against real codecs over the same PHY: JPEG, Opus, H.264 vs the semantic symbols.

Each media item is encoded by a real codec at a stated setting (:data:`CODECS`), and the bytes are
carried by the project's own digital link (QAM + convolutional FEC + CRC frames) on the same
channel. The link adapts: of the modulation/coding schemes in :data:`MCS` it uses the one with
the most delivered bits per channel use at the frame error rate *measured* on that channel, and
failed frames are resent (ARQ), so the expected number of transmissions is ``1 / (1 - FER)``.

Channel uses are complex symbols on the air: for the digital link the data resource elements of
every frame sent, for LAM-MSC the analog semantic symbols (one channel use each; they are not
bits, but if a bit count is wanted, :func:`semantic_bits` counts 2 x 32-bit floats a symbol,
as the demo's size plot does). Air time adds preamble, header, pilots and guard gaps for both.
"""
from __future__ import annotations

import dataclasses
import io
import math
from pathlib import Path

import numpy as np

#: codec settings (stated in every result)
CODECS = {"image": {"codec": "JPEG (Pillow/libjpeg)", "quality": 75},
          "audio": {"codec": "Opus (libopus via PyAV)", "bitrate_bps": 16000, "application": "voip"},
          "video": {"codec": "H.264 (libx264 via PyAV)", "crf": 28, "preset": "medium"}}
MCS = (("qpsk", "1/2"), ("16qam", "1/2"), ("64qam", "3/4"))
FER_FRAMES = 40


def jpeg_bytes(path: Path, quality: int) -> int:
    from PIL import Image
    buf = io.BytesIO()
    with Image.open(path) as im:
        im.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.tell()


def opus_bytes(path: Path, bitrate: int) -> int:
    """Encode speech to Opus at ``bitrate`` b/s (48 kHz mono as libopus wants); payload bytes only."""
    import av
    from ..mma.base import load_audio
    x = load_audio(path)                                    # (n,) float32 @ 16 kHz
    x48 = np.interp(np.arange(len(x) * 3) / 3.0, np.arange(len(x)), x).astype(np.float32)
    enc = av.CodecContext.create("libopus", "w")
    enc.sample_rate, enc.bit_rate = 48000, bitrate
    enc.layout, enc.format = "mono", "flt"
    enc.options = {"application": CODECS["audio"]["application"]}
    enc.open()
    total, step = 0, 960
    for i in range(0, len(x48), step):
        chunk = np.zeros(step, np.float32)
        seg = x48[i:i + step]
        chunk[:len(seg)] = seg
        fr = av.AudioFrame.from_ndarray(chunk[None, :], format="flt", layout="mono")
        fr.sample_rate, fr.pts = 48000, i
        total += sum(p.size for p in enc.encode(fr))
    total += sum(p.size for p in enc.encode(None))
    return total


def h264_bytes(path: Path, crf: int, preset: str) -> int:
    """Re-encode a clip's frames with libx264 at ``crf``; video elementary-stream bytes only."""
    import av
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        fps = int(round(float(vs.average_rate or 25)))
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(vs)]
    h, w = frames[0].shape[0] // 2 * 2, frames[0].shape[1] // 2 * 2
    enc = av.CodecContext.create("libx264", "w")
    enc.width, enc.height, enc.pix_fmt = w, h, "yuv420p"
    from fractions import Fraction
    enc.time_base, enc.framerate = Fraction(1, fps), Fraction(fps, 1)
    enc.options = {"crf": str(crf), "preset": preset}
    enc.open()
    total = 0
    for i, f in enumerate(frames):
        fr = av.VideoFrame.from_ndarray(np.ascontiguousarray(f[:h, :w]), format="rgb24").reformat(format="yuv420p")
        fr.pts = i
        total += sum(p.size for p in enc.encode(fr))
    total += sum(p.size for p in enc.encode(None))
    return total


def codec_bits(modality: str, path: Path) -> int:
    c = CODECS[modality]
    if modality == "image":
        return 8 * jpeg_bytes(path, c["quality"])
    if modality == "audio":
        return 8 * opus_bytes(path, c["bitrate_bps"])
    return 8 * h264_bytes(path, c["crf"], c["preset"])


def semantic_bits(channel_uses: int) -> int:
    """Bit count of analog symbols if stored as complex64 (2 x 32-bit floats): for comparison only."""
    return 64 * channel_uses


def measure_fer(cfg, snr_db: float, seed: int, n_frames: int = FER_FRAMES) -> list[dict]:
    """Frame error rate of each MCS on ``cfg``'s channel at ``snr_db``: ``n_frames`` full frames
    really sent through the simulated radio and received by the frame receiver."""
    from ..phy.frame import FrameTransmitter
    from ..radio import make_radio
    from ..stats import proportion
    from ..transport import Reassembler, Sender as FrameSender, make_receiver, receive_stream
    out = []
    for mod, rate in MCS:
        c2 = dataclasses.replace(cfg.replace(frame={"payload_modulation": mod, "payload_code_rate": rate},
                                             channel={"snr_db": float(snr_db)}), seed=seed)
        fcfg = c2.frame
        snd = FrameSender(fcfg, "digital")
        cap = FrameTransmitter(fcfg).capacity_bits
        texts = [f"{i:04d}" + "x" * (cap // 8 - 4) for i in range(n_frames)]
        plan = snd.plan(texts)
        rx = make_receiver(c2, "digital")
        reasm = Reassembler("digital")
        radio = make_radio(c2.radio, c2)
        try:
            radio.tx(plan.iq)
            receive_stream(radio, rx, chunk=65536, max_samples=plan.iq.size + 4 * 65536, on_frame=reasm.add)
        finally:
            radio.close()
        sent = len(plan.frames)
        lost = sent - min(reasm.n_delivered, sent)
        p = proportion(lost, sent)
        out.append({"modulation": mod, "code_rate": rate, "snr_db": float(snr_db), "frames": sent,
                    "frame_error_rate": p["rate"], "fer_ci_low": p["ci_low"], "fer_ci_high": p["ci_high"],
                    "capacity_bits": cap})
    return out


def _frame_cost(cfg, mod: str, rate: str) -> tuple[int, int, int]:
    """(payload bits, data channel uses, air samples incl. gap) of one full frame of an MCS."""
    from ..phy.frame import FrameTransmitter
    from ..phy.header import FrameHeader
    from ..transport import frame_length
    fcfg = dataclasses.replace(cfg.frame, payload_modulation=mod, payload_code_rate=rate)
    ftx = FrameTransmitter(fcfg)
    full = FrameHeader(message_id=1, segment_index=0, segment_count=1, modality=0, payload_kind=mod,
                       payload_len=ftx.capacity_bits, code_rate=rate)
    return ftx.capacity_bits, fcfg.max_slots * fcfg.pilot_pattern.n_data, frame_length(fcfg, full) + fcfg.gap_samples


def adapted_cost(cfg, bits: int, fer: list[dict]) -> dict:
    """Expected channel uses and air samples to deliver ``bits`` with the best MCS at measured FER."""
    best = None
    for f in fer:
        cap, uses, samples = _frame_cost(cfg, f["modulation"], f["code_rate"])
        n = math.ceil(bits / cap)
        p_ok = 1.0 - f["frame_error_rate"]
        if p_ok <= 0:
            continue
        cost = {"mcs": f"{f['modulation']} r{f['code_rate']}", "frames": n, "fer": f["frame_error_rate"],
                "expected_transmissions": n / p_ok, "channel_uses": n * uses / p_ok,
                "air_samples": n * samples / p_ok}
        if best is None or cost["channel_uses"] < best["channel_uses"]:
            best = cost
    return best or {"mcs": None, "channel_uses": math.inf, "air_samples": math.inf, "note": "every MCS lost all frames"}


def compression(sweep) -> dict:
    """Per media item and SNR: codec bits, the adapted digital link's channel uses / air time with
    retransmissions, against the semantic symbols of the same item (and its accuracy)."""
    cfg = sweep.cfg
    fs = cfg.frame.sample_rate
    snrs = sweep.size.get("compression_snrs", [cfg.channel.snr_db])
    recs = sweep.run(snrs)
    fer = {snr: measure_fer(cfg, snr, cfg.seed + int(10 * snr)) for snr in snrs}
    bits_cache: dict[str, int] = {}
    rows = []
    for r in recs:
        src = r["source"]
        if src not in bits_cache:
            bits_cache[src] = codec_bits(r["modality"], Path(src))
        cb = bits_cache[src]
        dig = adapted_cost(cfg, cb, fer[r["snr_db_set"]])
        sem_air = r["frame_samples"] + r["frames"] * cfg.frame.gap_samples
        rows.append({"modality": r["modality"], "source": Path(src).name, "snr_db": r["snr_db_set"],
                     "raw_file_bits": 8 * r["raw_bytes"], "codec": CODECS[r["modality"]], "codec_bits": cb,
                     "digital_mcs": dig["mcs"], "digital_fer": dig.get("fer"),
                     "digital_channel_uses": dig["channel_uses"], "digital_air_time_s": dig["air_samples"] / fs,
                     "semantic_channel_uses": r["channel_uses"], "semantic_air_time_s": sem_air / fs,
                     "semantic_bits_if_float32": semantic_bits(r["channel_uses"]),
                     "channel_use_ratio": dig["channel_uses"] / max(r["channel_uses"], 1),
                     "similarity_media": r["similarity_media"], "delivered": r["delivered"]})
    summary = []
    for m in sorted({r["modality"] for r in rows}):
        for snr in snrs:
            sel = [r for r in rows if r["modality"] == m and r["snr_db"] == snr]
            if not sel:
                continue
            ratio = np.array([r["channel_use_ratio"] for r in sel])
            summary.append({"modality": m, "snr_db": snr, "n": len(sel), "codec": CODECS[m],
                            "codec_bits_median": float(np.median([r["codec_bits"] for r in sel])),
                            "semantic_channel_uses_median": float(np.median([r["semantic_channel_uses"] for r in sel])),
                            "digital_channel_uses_median": float(np.median([r["digital_channel_uses"] for r in sel])),
                            "channel_use_ratio_median": float(np.median(ratio)),
                            "channel_use_ratio_min": float(ratio.min()), "channel_use_ratio_max": float(ratio.max()),
                            "paper_ratio_raw_bits_over_32768": PAPER_RATIO.get(m)})
    return {"results": summary, "items": rows, "conventional_fer": [f for v in fer.values() for f in v],
            "codecs": CODECS, "channel": cfg.channel.model, "snr_db": snrs,
            "counting": "channel uses = complex symbols on data REs (digital: every frame sent incl. expected "
                        "retransmissions 1/(1-FER); semantic: analog symbols, one use each)"}


#: the paper's own ratio: raw bits over its 32,768 semantic bits a message
PAPER_RATIO = {"image": 597_792 / 32_768, "audio": 1_472_224 / 32_768, "video": 3_114_800 / 32_768}
