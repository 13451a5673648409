"""CRCs on bit arrays: CRC-16/CCITT-FALSE for the frame header, CRC-32 (IEEE 802.3) for payloads.

The byte-level engines are the C implementations of the standard library (``binascii.crc_hqx``
is the CCITT polynomial 0x1021 non-reflected; seeded with 0xFFFF it is CCITT-FALSE;
``zlib.crc32`` is the reflected 0x04C11DB7 CRC-32 with init/xorout 0xFFFFFFFF). Bits are packed
MSB first; a bit string that is not a whole number of bytes is zero-padded at the end.
"""
from __future__ import annotations

import binascii
import zlib

import numpy as np


def bits_to_bytes(bits: np.ndarray) -> bytes:
    """(n,) uint8 bits, MSB first -> bytes (zero-padded to a whole byte)."""
    return np.packbits(np.asarray(bits, np.uint8).reshape(-1)).tobytes()


def int_to_bits(value: int, width: int) -> np.ndarray:
    """Unsigned ``value`` as ``width`` bits, MSB first. (width,) uint8."""
    return ((int(value) >> np.arange(width - 1, -1, -1)) & 1).astype(np.uint8)


def bits_to_int(bits: np.ndarray) -> int:
    """(width,) bits MSB first -> int."""
    b = np.asarray(bits).reshape(-1)
    if b.size <= 62:                                   # one dot product (fits an int64)
        return int(np.dot(b.astype(np.int64), np.left_shift(1, np.arange(b.size - 1, -1, -1, dtype=np.int64))))
    v = 0
    for x in b:
        v = (v << 1) | int(x)
    return v


def crc16_ccitt(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, xorout 0). ``b"123456789"`` -> 0x29B1."""
    return binascii.crc_hqx(data, 0xFFFF)


def crc32(data: bytes) -> int:
    """CRC-32/ISO-HDLC (zlib, Ethernet). ``b"123456789"`` -> 0xCBF43926."""
    return zlib.crc32(data) & 0xFFFFFFFF


def append_crc(bits: np.ndarray, kind: str) -> np.ndarray:
    """bits (n,) uint8 -> (n + w,) uint8 with the ``kind`` ("crc16" | "crc32") CRC appended, MSB first."""
    bits = np.asarray(bits, np.uint8).reshape(-1)
    if kind == "crc16":
        c, w = crc16_ccitt(bits_to_bytes(bits)), 16
    else:
        c, w = crc32(bits_to_bytes(bits)), 32
    return np.concatenate([bits, int_to_bits(c, w)])


def check_crc(bits_with_crc: np.ndarray, kind: str) -> bool:
    """True if the trailing CRC of ``bits_with_crc`` (n + w,) matches its first n bits."""
    b = np.asarray(bits_with_crc, np.uint8).reshape(-1)
    w = 16 if kind == "crc16" else 32
    if b.size < w:
        return False
    body, tail = b[:-w], b[-w:]
    c = crc16_ccitt(bits_to_bytes(body)) if kind == "crc16" else crc32(bits_to_bytes(body))
    return c == bits_to_int(tail)
