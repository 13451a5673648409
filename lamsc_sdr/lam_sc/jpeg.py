"""The conventional digital baseline: JPEG + CRC-32 + convolutional FEC + QAM, at equal air time.

Given the SC system's channel uses (complex symbols on air) for an image, the JPEG quality is the
highest whose file, split into frames of ``capacity_bits`` and coded exactly as the PHY codes a
digital payload (CRC-32, K=7 convolutional code punctured to the rate, QAM), needs no more
payload symbols. At the receiver every frame's CRC must pass, else the image is lost (a JPEG
with a missing piece does not decode): the receiver shows a mid-grey frame. That is the cliff.

``send_awgn`` runs the real PHY coding chain (``phy.crc``, ``phy.fec``, ``phy.qam``) over the
symbol-level AWGN channel; ``items`` hands the frames to ``link.transmit`` for the OFDM path.
"""
from __future__ import annotations

import dataclasses
import io

import numpy as np

from ..errors import ConfigError
from ..phy import crc, fec, qam
from ..phy.frame import FrameTransmitter
from .link import Item

LOST_GREY = 128
MCS = {"bpsk-1/2": ("bpsk", "1/2"), "qpsk-1/2": ("qpsk", "1/2"), "qpsk-3/4": ("qpsk", "3/4"),
       "16qam-1/2": ("16qam", "1/2"), "16qam-3/4": ("16qam", "3/4"), "64qam-2/3": ("64qam", "2/3"),
       "64qam-3/4": ("64qam", "3/4")}


def parse_mcs(name: str) -> tuple[str, str]:
    if name not in MCS:
        raise ConfigError(f"JPEG modulation-coding {name!r}: choose one of {', '.join(MCS)}")
    return MCS[name]


def _coded_symbols(n_bits: int, mod: str, rate: str) -> int:
    n = n_bits + 32
    coded = n if rate == "1" else fec.coded_length(n, rate)
    return -(-coded // qam.bits_per_symbol(mod))


def symbols_needed(n_bits: int, frame_cfg, mod: str, rate: str) -> int:
    """Payload symbols to carry ``n_bits`` split into frames of ``capacity_bits``."""
    cap = FrameTransmitter(dataclasses.replace(frame_cfg, payload_modulation=mod, payload_code_rate=rate)).capacity_bits
    full, rest = divmod(n_bits, cap)
    return full * _coded_symbols(cap, mod, rate) + (_coded_symbols(rest, mod, rate) if rest else 0)


def encode_jpeg(img: np.ndarray, quality: int) -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=int(quality), optimize=True)
    return buf.getvalue()


def decode_jpeg(data: bytes, shape) -> np.ndarray:
    from PIL import Image
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"), np.uint8).reshape(shape)


def fit_jpeg(img: np.ndarray, max_symbols: int, frame_cfg, mcs: str = "qpsk-1/2") -> tuple[bytes | None, int]:
    """The highest-quality JPEG (1..95) that fits ``max_symbols`` payload symbols. -> (bytes or
    None if even quality 1 does not fit, quality)."""
    mod, rate = parse_mcs(mcs)
    lo, hi, best = 1, 95, (None, 0)
    while lo <= hi:
        q = (lo + hi) // 2
        data = encode_jpeg(img, q)
        if symbols_needed(8 * len(data), frame_cfg, mod, rate) <= max_symbols:
            best, lo = (data, q), q + 1
        else:
            hi = q - 1
    return best


def send_awgn(data: bytes, frame_cfg, mcs: str, snr_db: float, rng: np.random.Generator) -> tuple[bytes | None, int]:
    """JPEG bytes through CRC + FEC + QAM + symbol-level AWGN + Viterbi, frame by frame.
    -> (received bytes or None when a frame's CRC fails, payload symbols used)."""
    mod, rate = parse_mcs(mcs)
    cap = FrameTransmitter(dataclasses.replace(frame_cfg, payload_modulation=mod, payload_code_rate=rate)).capacity_bits
    bits = np.unpackbits(np.frombuffer(data, np.uint8))
    n0 = 10 ** (-snr_db / 10)
    llrs, sizes, used = [], [], 0
    m = qam.bits_per_symbol(mod)
    for off in range(0, bits.size, cap):
        b = crc.append_crc(bits[off:off + cap], "crc32")
        coded = fec.interleave(fec.puncture(fec.conv_encode(b), rate))
        n_cod = coded.size
        coded = np.concatenate([coded, np.zeros((-n_cod) % m, np.uint8)])
        x = qam.map_bits(coded, mod)
        used += x.size
        y = x + np.sqrt(n0 / 2) * (rng.standard_normal(x.size) + 1j * rng.standard_normal(x.size))
        llr = qam.demap_llr(y.astype(np.complex64), np.full(x.size, n0, np.float32), mod)[:n_cod]
        llrs.append(fec.depuncture(fec.deinterleave(llr), b.size, rate))
        sizes.append(b.size)
    out = []
    for dec in fec.viterbi_decode_many(llrs):
        if not crc.check_crc(dec, "crc32"):
            return None, used
        out.append(dec[:-32])
    return np.packbits(np.concatenate(out)).tobytes(), used


def receive_image(data: bytes | None, shape) -> tuple[np.ndarray, bool]:
    """Decoded image, or a mid-grey frame when lost or undecodable. -> (image, delivered)."""
    if data is None:
        return np.full(shape, LOST_GREY, np.uint8), False
    try:
        return decode_jpeg(data, shape), True
    except (OSError, ValueError):
        return np.full(shape, LOST_GREY, np.uint8), False


def items(data: bytes, mcs: str) -> list[Item]:
    mod, rate = parse_mcs(mcs)
    return [Item(bits=np.unpackbits(np.frombuffer(data, np.uint8)), modulation=mod, code_rate=rate)]
