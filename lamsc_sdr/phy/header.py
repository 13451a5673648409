"""The frame header: fields, bit layout, CRC-16, and its robust BPSK encoding.

Layout (MSB first, 72 bits = 9 bytes, then CRC-16/CCITT-FALSE over those 9 bytes):

=============  ====  =====================================================
message_id      16   which message this frame belongs to
segment_index    8   0-based segment number
segment_count    8   segments in the message (>= 1)
modality         4   0 text, 1 image, 2 audio, 3 video (4..15 reserved)
payload_kind     4   index into PAYLOAD_KINDS
code_rate        2   index into CODE_RATES (digital payloads)
payload_len     16   complex symbols (analog) or information bits (digital)
codec_version    8   semantic codec / checkpoint version
address          6   0 = unaddressed (every receiver); 1..31 a user id; 32..63 a group id (0..31)
crc16           16
=============  ====  =====================================================

``address`` took the six bits that were ``reserved`` (always zero): frames made before it existed
decode unchanged as unaddressed. Multi-user systems (M4SC) send a public part to a group and a
private part to each user; a receiver drops frames addressed to neither its user id nor its groups
(:func:`accepts`).

The 88 bits + 6 tail bits are convolutionally coded at rate 1/2 (188 bits), interleaved and
sent as BPSK on the used subcarriers of ``ceil(188 / n_used)`` OFDM symbols; spare positions
repeat the coded bits cyclically (the receiver adds their LLRs).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..errors import ConfigError
from . import crc, fec

PAYLOAD_KINDS = ("analog", "bpsk", "qpsk", "16qam", "64qam")
CODE_RATES = ("1/2", "2/3", "3/4", "1")
_FIELDS = (("message_id", 16), ("segment_index", 8), ("segment_count", 8), ("modality", 4),
           ("payload_kind", 4), ("code_rate", 2), ("payload_len", 16), ("codec_version", 8),
           ("address", 6))
MAX_USER_ID = 31          # user ids 1..31
GROUP_BASE = 32           # group g (0..31) is address 32 + g
N_BITS = sum(w for _, w in _FIELDS) + 16               # 88 with the CRC
N_CODED = 2 * (N_BITS + fec.TAIL)                      # 188


@dataclass(frozen=True)
class FrameHeader:
    """One frame's header. ``payload_len``, ``payload_kind`` and ``code_rate`` are filled in by
    the transmitter from what it actually sends."""

    message_id: int = 0
    segment_index: int = 0
    segment_count: int = 1
    modality: int = 0
    payload_kind: str = "analog"
    payload_len: int = 0
    codec_version: int = 0
    code_rate: str = "1/2"
    address: int = 0

    def __post_init__(self):
        for name, width in _FIELDS:
            if name in ("payload_kind", "code_rate"):
                continue
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= v < (1 << width):
                raise ConfigError(f"header.{name}: must be an integer in [0, {(1 << width) - 1}], got {v!r}")
        if self.payload_kind not in PAYLOAD_KINDS:
            raise ConfigError(f"header.payload_kind: {self.payload_kind!r} is not one of {list(PAYLOAD_KINDS)}")
        if self.code_rate not in CODE_RATES:
            raise ConfigError(f"header.code_rate: {self.code_rate!r} is not one of {list(CODE_RATES)}")
        if self.segment_count < 1 or self.segment_index >= self.segment_count:
            raise ConfigError(f"header.segment_index: {self.segment_index} must be < segment_count "
                              f"({self.segment_count})")

    def to_bits(self) -> np.ndarray:
        """(88,) uint8: the fields and their CRC-16."""
        vals = {**{f: getattr(self, f) for f, _ in _FIELDS if f not in ("payload_kind", "code_rate")},
                "payload_kind": PAYLOAD_KINDS.index(self.payload_kind),
                "code_rate": CODE_RATES.index(self.code_rate)}
        body = np.concatenate([crc.int_to_bits(vals[f], w) for f, w in _FIELDS])
        return crc.append_crc(body, "crc16")

    @classmethod
    def from_bits(cls, bits: np.ndarray) -> "FrameHeader | None":
        """(88,) bits -> header, or None if the CRC fails or a field is invalid (never raises)."""
        bits = np.asarray(bits, np.uint8).reshape(-1)
        if bits.size != N_BITS or not crc.check_crc(bits, "crc16"):
            return None
        vals, pos = {}, 0
        for f, w in _FIELDS:
            vals[f] = crc.bits_to_int(bits[pos: pos + w])
            pos += w
        if vals["payload_kind"] >= len(PAYLOAD_KINDS):
            return None
        vals["payload_kind"] = PAYLOAD_KINDS[vals["payload_kind"]]
        vals["code_rate"] = CODE_RATES[vals["code_rate"]]
        try:
            return cls(**vals)
        except ConfigError:
            return None


def user_address(user_id: int) -> int:
    """Header ``address`` of user ``user_id`` (1..31)."""
    if isinstance(user_id, bool) or not isinstance(user_id, (int, np.integer)) or not 1 <= user_id <= MAX_USER_ID:
        raise ConfigError(f"user id must be an integer in [1, {MAX_USER_ID}], got {user_id!r}")
    return int(user_id)


def group_address(group_id: int) -> int:
    """Header ``address`` of group ``group_id`` (0..31)."""
    if isinstance(group_id, bool) or not isinstance(group_id, (int, np.integer)) or not 0 <= group_id < 32:
        raise ConfigError(f"group id must be an integer in [0, 31], got {group_id!r}")
    return GROUP_BASE + int(group_id)


def accepts(address: int, user_id: int | None, groups=()) -> bool:
    """Whether a receiver (``user_id``, member of ``groups``) keeps a frame addressed to ``address``.
    Unaddressed frames (0) are for everyone; a receiver without a user id keeps everything."""
    if address == 0 or user_id is None:
        return True
    if address < GROUP_BASE:
        return address == user_id
    return (address - GROUP_BASE) in set(groups)


def n_header_symbols(n_used: int) -> int:
    return -(-N_CODED // n_used)


@lru_cache(maxsize=8)
def _repeat_index(n_used: int) -> np.ndarray:
    """Coded-bit index sent on each header resource element. (n_sym * n_used,) int64."""
    return np.arange(n_header_symbols(n_used) * n_used) % N_CODED


def header_symbols(header: FrameHeader, n_used: int) -> np.ndarray:
    """BPSK header grid. Output: (n_header_symbols, n_used) complex64."""
    coded = fec.interleave(fec.conv_encode(header.to_bits()))
    b = coded[_repeat_index(n_used)]
    return (1.0 - 2.0 * b).astype(np.complex64).reshape(-1, n_used)


@lru_cache(maxsize=8)
def _combine_matrix(n_used: int) -> np.ndarray:
    """(n_header_symbols * n_used, N_CODED) float32 0/1: sums the repeated copies of each coded bit."""
    rep = _repeat_index(n_used)
    m = np.zeros((rep.size, N_CODED), np.float32)
    m[np.arange(rep.size), rep] = 1.0
    return m


def decode_headers(llr: np.ndarray, n_used: int) -> list[FrameHeader | None]:
    """Input: llr (K, n_header_symbols * n_used) float LLRs of the header resource elements.
    Output: K headers (None where the CRC fails or a field is invalid)."""
    k = llr.shape[0]
    if k == 0:
        return []
    comb = np.nan_to_num(llr.astype(np.float32)) @ _combine_matrix(n_used)      # (K, 188)
    bits = fec.viterbi_decode_batch(fec.deinterleave(comb))
    return [FrameHeader.from_bits(b) for b in bits]
