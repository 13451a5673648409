"""Forward error correction: the K=7, (133, 171) octal, rate-1/2 convolutional code (IEEE 802.11 /
CCSDS), 802.11 puncturing to 2/3 and 3/4, a soft-decision Viterbi decoder vectorized in NumPy,
and a bit interleaver.

Encoder state convention: the state is the last six input bits, the newest as the MSB; the
next state after input ``u`` is ``(u << 5) | (s >> 1)``. Both generators have their first and
last taps set, so the trellis splits into 32 butterflies: states ``2j`` and ``2j+1`` feed states
``j`` and ``j+32`` with branch metrics ``+lam, -lam, -lam, +lam``. The decoder works on all
butterflies and on many codewords at once, one NumPy step per trellis stage.

Long codewords are decoded in overlapping windows decided in parallel (a standard parallel
Viterbi: each window of ``W`` decided stages carries ``O`` extra stages on both sides, long
enough -- many constraint lengths -- for the survivors to merge, so the result matches a full
trellis decode except with vanishing probability). Codewords are placed back to back separated
by ``O`` stages of strong "encoder at rest" LLRs, which pins the trellis to state 0 at every
codeword boundary, exactly like the terminated code.

LLR convention: ``ln P(0)/P(1)``; punctured positions carry LLR 0.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import ConfigError, ShapeError

K = 7
G = (0o133, 0o171)
TAIL = K - 1
# Puncturing masks over the mother-code output stream A0 B0 A1 B1 ... (IEEE 802.11-2016 17.3.5.7).
PUNCTURE = {"1/2": np.array([1, 1], bool),
            "2/3": np.array([1, 1, 1, 0], bool),
            "3/4": np.array([1, 1, 1, 0, 0, 1], bool)}
_BIG = 64.0          # "certain" LLR used for the pinning stages; the decoder clips to +-_CLIP
_CLIP = 32.0


def _taps(g: int) -> np.ndarray:
    return np.array([(g >> (K - 1 - i)) & 1 for i in range(K)], np.int64)


def _parity(x: np.ndarray) -> np.ndarray:
    x = x.copy()
    p = np.zeros_like(x)
    while np.any(x):
        p ^= x & 1
        x >>= 1
    return p


# Output bits of the transition 2j -> j (u = 0, b = 0) for the 32 butterflies, as +-1 signs.
_R0 = (np.arange(32) << 1)
_S_A = (1 - 2 * _parity(_R0 & G[0])).astype(np.float32)
_S_B = (1 - 2 * _parity(_R0 & G[1])).astype(np.float32)


def check_rate(rate: str) -> str:
    if rate not in PUNCTURE:
        raise ConfigError(f"frame.payload_code_rate: {rate!r} is not one of {list(PUNCTURE)}")
    return rate


def conv_encode(bits: np.ndarray) -> np.ndarray:
    """Terminated rate-1/2 encoding. bits (n,) uint8 -> (2 (n + 6),) uint8 as A0 B0 A1 B1 ..."""
    u = np.concatenate([np.asarray(bits, np.int64).reshape(-1), np.zeros(TAIL, np.int64)])
    a = np.convolve(u, _taps(G[0]))[: u.size] & 1
    b = np.convolve(u, _taps(G[1]))[: u.size] & 1
    return np.stack([a, b], axis=1).reshape(-1).astype(np.uint8)


def coded_length(n_info: int, rate: str) -> int:
    """Number of transmitted coded bits for ``n_info`` information bits at ``rate``."""
    mask = PUNCTURE[check_rate(rate)]
    mother = 2 * (n_info + TAIL)
    reps = -(-mother // mask.size)
    return int(np.tile(mask, reps)[:mother].sum())


def puncture(coded: np.ndarray, rate: str) -> np.ndarray:
    """(2T,) mother-code bits -> (coded_length,) transmitted bits."""
    mask = PUNCTURE[check_rate(rate)]
    c = np.asarray(coded).reshape(-1)
    keep = np.tile(mask, -(-c.size // mask.size))[: c.size]
    return c[keep]


def depuncture(llr: np.ndarray, n_info: int, rate: str) -> np.ndarray:
    """(coded_length,) LLRs -> (2 (n_info + 6),) mother-code LLRs with zeros where punctured."""
    mask = PUNCTURE[check_rate(rate)]
    mother = 2 * (n_info + TAIL)
    keep = np.tile(mask, -(-mother // mask.size))[:mother]
    llr = np.asarray(llr, np.float32).reshape(-1)
    if llr.size != keep.sum():
        raise ShapeError(f"depuncture: expected {int(keep.sum())} LLRs for {n_info} bits at rate {rate}, got {llr.size}")
    out = np.zeros(mother, np.float32)
    out[keep] = llr
    return out


def _viterbi_core(l0: np.ndarray, l1: np.ndarray, known_start: bool, end_zero: bool) -> np.ndarray:
    """Viterbi over ``B`` independent trellises of ``T`` stages.

    Input: l0, l1: (T, B) float32 LLRs of the A and B output bits per stage.
    Output: (T, B) uint8 decoded input bits.
    """
    t_len, b = l0.shape
    pm = np.zeros((b, 64), np.float32)
    if known_start:
        pm[:, 1:] = -1e9
    dec = np.empty((t_len, b, 64), bool)
    new = np.empty_like(pm)
    for t in range(t_len):
        lam = l0[t][:, None] * _S_A + l1[t][:, None] * _S_B          # (B, 32)
        e = pm[:, 0::2]
        o = pm[:, 1::2]
        a = e + lam
        c = o - lam
        np.maximum(a, c, out=new[:, :32])
        np.greater(c, a, out=dec[t, :, :32])
        a = e - lam
        c = o + lam
        np.maximum(a, c, out=new[:, 32:])
        np.greater(c, a, out=dec[t, :, 32:])
        pm, new = new, pm
        if t & 63 == 63:
            pm -= pm.max(axis=1, keepdims=True)        # keep float32 metrics small
    state = np.zeros(b, np.int64) if end_zero else pm.argmax(axis=1)
    out = np.empty((t_len, b), np.uint8)
    rows = np.arange(b)
    for t in range(t_len - 1, -1, -1):
        out[t] = state >> 5
        state = ((state & 31) << 1) | dec[t, rows, state]
    return out


def viterbi_decode_batch(llr: np.ndarray) -> np.ndarray:
    """Full-trellis decode of equal-length terminated codewords.

    Input: llr (B, 2 (n + 6)) float mother-code LLRs. Output: (B, n) uint8.
    """
    llr = np.clip(np.asarray(llr, np.float32), -_CLIP, _CLIP)
    if llr.ndim != 2 or llr.shape[1] % 2 or llr.shape[1] < 2 * TAIL:
        raise ShapeError(f"viterbi_decode_batch: expected (B, 2T) LLRs with T >= {TAIL}, got {llr.shape}")
    pairs = llr.reshape(llr.shape[0], -1, 2)
    l0 = np.ascontiguousarray(pairs[:, :, 0].T)
    l1 = np.ascontiguousarray(pairs[:, :, 1].T)
    bits = _viterbi_core(l0, l1, True, True).T
    return np.ascontiguousarray(bits[:, : bits.shape[1] - TAIL])


def viterbi_decode_many(llrs: list[np.ndarray], window: int = 128, overlap: int = 64,
                        max_batch: int = 4096) -> list[np.ndarray]:
    """Decode terminated codewords of any lengths together (windowed, see the module docstring).

    Input: llrs: list of (2 (n_i + 6),) float mother-code LLRs. Output: list of (n_i,) uint8.
    ``overlap`` stages (>= 5-10 constraint lengths; 64 covers the punctured rates) on each side.
    """
    if not llrs:
        return []
    pad = np.full((overlap, 2), _BIG, np.float32)
    parts, starts, lens = [pad], [], []
    pos = overlap
    for x in llrs:
        x = np.asarray(x, np.float32).reshape(-1)
        if x.size % 2 or x.size < 2 * TAIL:
            raise ShapeError(f"viterbi_decode_many: codeword of {x.size} LLRs is not 2 (n + 6) long")
        steps = x.size // 2
        parts += [np.clip(x.reshape(steps, 2), -_CLIP, _CLIP), pad]
        starts.append(pos)
        lens.append(steps - TAIL)
        pos += steps + overlap
    stream = np.concatenate(parts)                                   # (S, 2)
    s_len = stream.shape[0]
    n_win = -(-s_len // window)
    # Window j decides stages [jW, jW+W) and sees [jW-O, jW+W+O): pad the front by O and the
    # back to a whole number of windows, with the same "at rest" LLRs.
    front = np.full((overlap, 2), _BIG, np.float32)
    back = np.full((n_win * window - s_len + overlap, 2), _BIG, np.float32)
    padded = np.concatenate([front, stream, back])
    span = window + 2 * overlap
    wins = sliding_window_view(padded, span, axis=0)[::window]       # (n_win, 2, span)
    decided = np.empty((n_win, window), np.uint8)
    for lo in range(0, n_win, max_batch):
        w = wins[lo: lo + max_batch]
        l0 = np.ascontiguousarray(w[:, 0, :].T)
        l1 = np.ascontiguousarray(w[:, 1, :].T)
        bits = _viterbi_core(l0, l1, False, False)                   # (span, nb)
        decided[lo: lo + max_batch] = bits[overlap: overlap + window].T
    flat = decided.reshape(-1)
    return [flat[s: s + n].copy() for s, n in zip(starts, lens)]


@lru_cache(maxsize=64)
def _permutation(n: int) -> np.ndarray:
    # A fixed pseudo-random permutation per length: spreads a deep fade or a burst of bad
    # subcarriers over the whole codeword (what a Viterbi decoder needs). Deterministic so TX and
    # RX agree without signalling anything but the length.
    perm = np.random.default_rng(0x1A75C + n).permutation(n)
    perm.setflags(write=False)
    return perm


def interleave(x: np.ndarray) -> np.ndarray:
    """(..., n) -> (..., n) permuted along the last axis. Works on bits and on LLRs."""
    x = np.asarray(x)
    return x[..., _permutation(x.shape[-1])]


def deinterleave(x: np.ndarray) -> np.ndarray:
    """Inverse of :func:`interleave`. (..., n) -> (..., n)."""
    x = np.asarray(x)
    out = np.empty_like(x)
    out[..., _permutation(x.shape[-1])] = x
    return out
