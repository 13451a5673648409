"""Frames: transmitter and receiver of the OFDM burst ``preamble | header | payload slots``.

Frame layout (offsets from the frame start, ``P`` = preamble length, ``L`` = CP + N):

- ``[0, P)``: preamble (STF + LTF, see :mod:`.sync`);
- ``H`` header OFDM symbols (BPSK, coded, see :mod:`.header`);
- ``n_slots * n_symbols`` payload OFDM symbols: slots of the :class:`ResourceGrid` with pilots
  from ``FrameConfig.pilot_pattern``; data resource elements carry either the caller's complex
  symbols (analog, JSCC) or QAM of ``bits + CRC-32 -> conv code -> puncture -> interleave``.

Unused data resource elements of the last slot carry a fixed unit-power QPSK filler.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable

import numpy as np
from scipy import fft as sfft

from ..errors import LamscError, ShapeError
from . import crc, fec, qam
from .config import FrameConfig
from .header import CODE_RATES, FrameHeader, decode_headers, header_symbols, n_header_symbols
from .sync import detect, ltf_estimate, make_preamble, synchronize, to_time, windows_at

log = logging.getLogger(__name__)
_MAX_ABS = 1e15      # samples beyond this (or NaN/Inf) are zeroed: |x|^2 must not overflow float32


def _filler(n: int) -> np.ndarray:
    g = np.random.default_rng(0xF111)
    return qam.map_bits(g.integers(0, 2, 2 * n).astype(np.uint8), "qpsk")


@dataclass
class RxFrame:
    """One detected frame.

    ``status``: ``ok`` | ``header_crc`` (CRC failed or invalid field: rejected, never decoded) |
    ``truncated`` (the buffer ended inside the frame) | ``error``.
    ``symbols``: (payload_len,) complex64 equalized payload symbols (analog) or the QAM symbols
    (digital); ``noise_var``: (len(symbols),) float32 effective noise variance of each;
    ``bits``: (payload_len,) uint8 decoded bits (digital); ``payload_ok``: payload CRC-32 result;
    ``grid``/``h_hat``/``h_true``: (n_slots, n_symbols, n_used) complex64 received slots and channels.
    """

    start: int
    header: FrameHeader | None
    crc_ok: bool
    snr_db: float
    cfo_hz: float
    timing: int
    status: str
    sync_metric: float
    symbols: np.ndarray | None = None
    noise_var: np.ndarray | None = None
    bits: np.ndarray | None = None
    payload_ok: bool | None = None
    grid: np.ndarray | None = None
    h_hat: np.ndarray | None = None
    h_true: np.ndarray | None = None


@dataclass
class ReceiverStats:
    detected: int = 0        # preambles that passed synchronization
    crc_ok: int = 0          # headers that passed their CRC
    lost: int = 0            # detected but not delivered (header CRC, truncated, error)
    truncated: int = 0
    payload_crc_failed: int = 0   # digital payloads delivered with a failed CRC-32


class _Layout:
    """Derived sizes and offsets of a frame configuration."""

    def __init__(self, cfg: FrameConfig):
        self.cfg = cfg
        self.grid = cfg.grid
        self.pilots = cfg.pilot_pattern
        self.pre = make_preamble(self.grid)
        self.n = self.grid.fft_size
        self.sym = self.grid.symbol_len
        self.n_hdr = n_header_symbols(self.grid.n_used)
        self.backoff = min(cfg.timing_backoff, self.grid.cp_len // 2)
        self.payload0 = self.pre.length + self.n_hdr * self.sym
        # Starting the FFT ``backoff`` samples early multiplies subcarrier k by exp(-2j pi k b / N);
        # undo that known ramp so estimators interpolate a channel as flat as the true one.
        self.deramp = np.exp(2j * np.pi * self.grid.used_k * self.backoff / self.n).astype(np.complex64)

    def fft_used(self, win: np.ndarray) -> np.ndarray:
        """(R, N) time windows -> (R, n_used) complex64 subcarriers, backoff ramp removed."""
        return (sfft.fft(win, axis=-1, norm="ortho")[:, self.grid.used_bins] * self.deramp).astype(np.complex64)

    def n_slots(self, h: FrameHeader) -> int:
        n_data = self.pilots.n_data
        if h.payload_kind == "analog":
            n_sym = h.payload_len
        else:
            m = qam.bits_per_symbol(h.payload_kind)
            n_sym = -(-_n_coded(h.payload_len, h.code_rate) // m)
        return -(-n_sym // n_data)

    def length(self, n_slots: int) -> int:
        return self.payload0 + n_slots * self.grid.n_symbols * self.sym

    def sym_offsets(self, first: int, count: int) -> np.ndarray:
        """FFT-window offsets from the frame start of payload-region symbols first..first+count."""
        return self.payload0 + (first + np.arange(count)) * self.sym + self.grid.cp_len - self.backoff


def _n_coded(n_info: int, rate: str) -> int:
    return n_info + 32 if rate == "1" else fec.coded_length(n_info + 32, rate)


class FrameTransmitter:
    """Builds frames. ``modulate_*`` -> (n,) complex64 IQ of one burst; ``stream`` joins bursts."""

    def __init__(self, frame_cfg: FrameConfig):
        self.cfg = frame_cfg
        self._lay = _Layout(frame_cfg)

    @property
    def capacity_symbols(self) -> int:
        return min(self.cfg.max_slots * self._lay.pilots.n_data, 0xFFFF)

    @cached_property
    def capacity_bits(self) -> int:
        mod = self.cfg.payload_modulation
        if mod == "analog":
            return 0
        cap_coded = self.cfg.max_slots * self._lay.pilots.n_data * qam.bits_per_symbol(mod)
        lo, hi = 0, 0xFFFF
        while lo < hi:                       # largest n with coded(n) <= capacity
            mid = (lo + hi + 1) // 2
            if _n_coded(mid, self.cfg.payload_code_rate) <= cap_coded:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def modulate_symbols(self, symbols: np.ndarray, header: FrameHeader) -> np.ndarray:
        """Analog payload. symbols: (n,) complex (unit average power expected), n <= capacity_symbols."""
        z = np.asarray(symbols).reshape(-1)
        if not np.iscomplexobj(z) and z.dtype.kind not in "fiu":
            raise ShapeError(f"symbols must be numeric, got dtype {z.dtype}")
        if not np.all(np.isfinite(z)):
            raise ShapeError("symbols hold NaN or Inf")
        if z.size > self.capacity_symbols:
            raise ShapeError(f"{z.size} symbols exceed the frame capacity of {self.capacity_symbols} "
                             "(frame.max_slots); segment the message")
        h = dataclasses.replace(header, payload_kind="analog", payload_len=int(z.size))
        return self._assemble(h, z.astype(np.complex64))

    def modulate_bits(self, bits: np.ndarray, header: FrameHeader) -> np.ndarray:
        """Digital payload per ``frame_cfg.payload_modulation`` / ``payload_code_rate``.
        bits: (n,) uint8 in {0, 1}, n <= capacity_bits."""
        mod, rate = self.cfg.payload_modulation, self.cfg.payload_code_rate
        if mod == "analog":
            raise ShapeError("frame.payload_modulation is 'analog': use modulate_symbols, or set a QAM kind")
        b = np.asarray(bits).reshape(-1)
        if b.size and (b.dtype.kind not in "uib" or b.min() < 0 or b.max() > 1):
            raise ShapeError("bits must be integers 0 or 1")
        if b.size > self.capacity_bits:
            raise ShapeError(f"{b.size} bits exceed the frame capacity of {self.capacity_bits} bits "
                             f"at {mod} rate {rate} (frame.max_slots); segment the message")
        h = dataclasses.replace(header, payload_kind=mod, payload_len=int(b.size), code_rate=rate)
        coded = crc.append_crc(b.astype(np.uint8), "crc32")
        if rate != "1":
            coded = fec.interleave(fec.puncture(fec.conv_encode(coded), rate))
        m = qam.bits_per_symbol(mod)
        coded = np.concatenate([coded, np.zeros((-coded.size) % m, np.uint8)])
        return self._assemble(h, qam.map_bits(coded, mod))

    def _assemble(self, h: FrameHeader, data: np.ndarray) -> np.ndarray:
        lay = self._lay
        n_slots = lay.n_slots(h)
        pp = lay.pilots
        n_re = n_slots * pp.n_data
        fill = np.concatenate([data, _filler(n_re - data.size)]) if n_re > data.size else data
        slots = np.broadcast_to(pp.values, (n_slots,) + pp.mask.shape).copy()   # (S, T, F)
        t, f = pp.data_index
        slots[:, t, f] = fill.reshape(n_slots, -1)
        grid = np.concatenate([header_symbols(h, lay.grid.n_used), slots.reshape(-1, lay.grid.n_used)])
        sym = to_time(lay.grid, grid)                                          # (n_sym, N)
        cp = lay.grid.cp_len
        body = np.concatenate([sym[:, lay.n - cp:], sym], axis=1).reshape(-1)
        return np.concatenate([lay.pre.time, body]).astype(np.complex64)

    def stream(self, bursts: list[np.ndarray]) -> np.ndarray:
        """Bursts separated by ``gap_samples`` zeros (and one gap before and after). (n,) complex64."""
        gap = np.zeros(self.cfg.gap_samples, np.complex64)
        parts = [gap]
        for b in bursts:
            parts += [np.asarray(b, np.complex64).reshape(-1), gap]
        return np.concatenate(parts)


TruthFn = Callable[[int, np.ndarray, float], np.ndarray]


class FrameReceiver:
    """Detects, synchronizes and demodulates frames; equalizes with any ChannelEstimator.

    ``process(iq, truth=None)`` handles one buffer (frames running past its end are counted
    lost); ``push(chunk)`` handles a stream in pieces, keeping an unfinished tail between calls.
    ``truth`` (perfect CSI): a callable ``truth(start, window_starts, cfo_hz) -> (n_win, n_used)``
    giving the channel a frame starting at absolute sample ``start`` sees on the FFT windows
    starting at absolute samples ``window_starts`` (n_win,), after the receiver's derotation by
    ``cfo_hz`` with zero phase at ``start``; or an array (n_slots, n_symbols, n_used) for a single
    frame. It is handed to an estimator with ``set_truth`` and stored as ``RxFrame.h_true``.
    """

    def __init__(self, frame_cfg: FrameConfig, estimator=None, equalizer: str = "mmse", dc_block: bool = False):
        from ..estimation import EstimatorConfig, equalize, make_estimator
        self.cfg = frame_cfg
        # dc_block (radios with a receive chain): ``push`` subtracts a running mean of the stream.
        # A DC or LO-leakage residual above the noise of the gaps between bursts is periodic at
        # every lag: the Schmidl-Cox metric stays above threshold there and detection starts early.
        self.dc_block = bool(dc_block)
        self._dc = None
        self._lay = _Layout(frame_cfg)
        self.estimator = estimator if estimator is not None else make_estimator(EstimatorConfig(kind="ls"), frame_cfg)
        self._equalize = equalize
        self.equalizer = equalizer
        self.stats = ReceiverStats()
        self._tail = np.zeros(0, np.complex64)
        self._tail_pos = 0            # absolute index of _tail[0]
        self._done_until = 0          # absolute index before which everything is finished

    def reset(self) -> None:
        self.stats = ReceiverStats()
        self._tail = np.zeros(0, np.complex64)
        self._tail_pos = self._done_until = 0

    # ------------------------------------------------------------------ public entry points
    def process(self, iq: np.ndarray, truth=None) -> list[RxFrame]:
        """All frames of one buffer. iq: (n,) complex. Output: list of RxFrame (every detection)."""
        x = _sanitize(iq)
        saved = self._done_until
        self._done_until = 0
        try:
            frames, _ = self._run(x, 0, True, truth)
        finally:
            self._done_until = saved
        return frames

    def push(self, chunk: np.ndarray, truth=None) -> list[RxFrame]:
        """Frames completed by this chunk of a continuous stream (absolute ``start``/``timing``)."""
        c = _sanitize(chunk)
        if self.dc_block and c.size:
            m = complex(c.mean())
            self._dc = m if self._dc is None else 0.5 * (self._dc + m)
            c = c - np.complex64(self._dc)
        x = np.concatenate([self._tail, c])
        frames, resume = self._run(x, self._tail_pos, False, truth)
        # keep what an unfinished frame (or a preamble straddling the end) still needs
        keep_from = max(resume, self._done_until - self._tail_pos, 0)
        max_keep = self._lay.length(self.cfg.max_slots) + 4 * self._lay.n
        keep_from = max(keep_from, x.size - max_keep)
        self._tail = x[keep_from:].copy()
        self._tail_pos += keep_from
        return frames

    # ------------------------------------------------------------------ the receiver proper
    def _run(self, x: np.ndarray, base: int, final: bool, truth) -> tuple[list[RxFrame], int]:
        lay, cfg = self._lay, self.cfg
        n, pre = lay.n, lay.pre
        search = n
        guard = pre.length + 2 * search
        resume = max(x.size - guard - lay.n_hdr * lay.sym, 0)
        with np.errstate(all="ignore"):
            coarse, psum = detect(x, pre, cfg.detection_threshold)
            if coarse.size == 0:
                return [], resume
            syn = synchronize(x, coarse, psum, pre, cfg.max_cfo_subcarriers, search)
            ok = syn.metric >= cfg.sync_threshold
            order = np.argsort(syn.start[ok], kind="stable")
            idx = np.flatnonzero(ok)[order]
            # one detection per preamble: merge candidates closer than a preamble, keep the best
            keep: list[int] = []
            for i in idx:
                if keep and syn.start[i] - syn.start[keep[-1]] < pre.length:
                    if syn.metric[i] > syn.metric[keep[-1]]:
                        keep[-1] = i
                    continue
                keep.append(i)
            idx = np.array(keep, np.int64)
            if idx.size == 0:
                return [], resume
            start, cfo = syn.start[idx], syn.cfo[idx]
            b = lay.backoff
            hoff = np.concatenate([[pre.ltf1 - b, pre.ltf1 + n - b],
                                   pre.length + np.arange(lay.n_hdr) * lay.sym + lay.grid.cp_len - b])
            w = len(hoff)
            win = windows_at(x, (start[:, None] + hoff).reshape(-1), np.tile(hoff, idx.size),
                             np.repeat(cfo, w), n)
            y = lay.fft_used(win).reshape(idx.size, w, -1)
            h, n0, snr = ltf_estimate(y[:, 0], y[:, 1], pre)
            # BPSK LLR 4 Re(h* y) / N0_eff; the LTF estimate adds its error N0/2
            # Smooth the LTF estimate over 3 adjacent subcarriers for the header only: the channel
            # is nearly constant across 3 subcarriers when the delay spread fits the CP, and the
            # noise of the estimate drops 3x (what decides header loss near 0 dB).
            hs = h.copy()
            hs[:, 1:-1] = (h[:, :-2] + h[:, 1:-1] + h[:, 2:]) / 3.0
            z = np.conj(hs)[:, None, :] * y[:, 2:]                           # (K, H, F)
            # Residual CFO (hundreds of Hz at 0 dB) turns the header by up to ~1 rad: remove each
            # symbol's common phase, found blindly from the BPSK-squared sum (the pi ambiguity
            # resolves to the branch nearest the LTF reference, which is the right one).
            cpe = 0.5 * np.angle((z * z).sum(-1))
            z = z * np.exp(-1j * cpe)[..., None]
            llr = 4.0 * np.real(z) / (1.2 * n0)[:, None, None]
            headers = decode_headers(llr.reshape(idx.size, -1), lay.grid.n_used)
        frames: list[RxFrame] = []
        todo: list[tuple[RxFrame, int, float, float]] = []
        fs, spacing = cfg.sample_rate, lay.grid.subcarrier_spacing
        for j in range(idx.size):
            s = int(start[j])
            if s + base < self._done_until - n:
                continue                       # already handled (seen again in a kept tail)
            hdr_end = s + lay.payload0
            if not final and hdr_end > x.size:
                resume = min(resume, max(s - search - n, 0))
                break
            hd = headers[j]
            rx = RxFrame(start=s + base, header=hd, crc_ok=hd is not None,
                         snr_db=float(10 * np.log10(snr[j])), cfo_hz=float(cfo[j] * spacing),
                         timing=s + base + int(lay.sym_offsets(0, 1)[0]), status="ok",
                         sync_metric=float(syn.metric[idx[j]]))
            if hd is None:
                rx.status = "header_crc"
                self._count(rx)
                frames.append(rx)
                self._done_until = max(self._done_until, s + base + pre.length)
                continue
            n_slots = lay.n_slots(hd)
            end = s + lay.length(n_slots)
            if n_slots > cfg.max_slots:
                rx.status, rx.crc_ok = "header_crc", False
            elif end > x.size:
                if not final:
                    resume = min(resume, max(s - search - n, 0))
                    break
                rx.status = "truncated"
            self._count(rx)
            frames.append(rx)
            self._done_until = max(self._done_until, base + (end if rx.status == "ok" else s + pre.length))
            if rx.status == "ok":
                todo.append((rx, n_slots, float(cfo[j]), float(n0[j])))
        if todo:
            try:
                with np.errstate(all="ignore"):
                    self._payloads(x, base, todo, truth)
            except LamscError as err:          # e.g. an overflowing grid: count, never raise
                log.warning("payload demodulation failed: %s", err)
                for rx, *_ in todo:
                    rx.status = "error"
                    self.stats.lost += 1
        return frames, resume

    def _count(self, rx: RxFrame) -> None:
        st = self.stats
        st.detected += 1
        st.crc_ok += int(rx.crc_ok)
        if rx.status != "ok":
            st.lost += 1
            st.truncated += int(rx.status == "truncated")

    def _payloads(self, x, base, todo, truth) -> None:
        lay = self._lay
        n, g, pp = lay.n, lay.grid, lay.pilots
        n_rows = sum(k * g.n_symbols for _, k, _, _ in todo)
        win = np.empty((n_rows, n), np.complex64)
        rel_ph = np.empty(n_rows, np.float64)
        pos_list, nvs, r0 = [], [], 0
        m = np.arange(n)
        c0 = g.cp_len - lay.backoff
        for rx, n_slots, cfo, n0 in todo:
            k = n_slots * g.n_symbols
            p0 = rx.start - base + lay.payload0
            # the payload is contiguous: a strided (k, symbol_len) view, no index arrays
            seg = x[p0: p0 + k * lay.sym].reshape(k, lay.sym)[:, c0: c0 + n]
            np.multiply(seg, np.exp(-2j * np.pi * cfo * m / n).astype(np.complex64), out=win[r0: r0 + k])
            off = lay.sym_offsets(0, k)
            rel_ph[r0: r0 + k] = cfo * off
            pos_list.append(rx.start + off)
            nvs.append(np.full(n_slots, n0))
            r0 += k
        pos_a = np.concatenate(pos_list)                                      # absolute window starts
        # per-window CFO phase (zero at the frame start) and the backoff ramp, on used bins only
        ph = np.exp(-2j * np.pi * rel_ph / n).astype(np.complex64)
        y = np.take(sfft.fft(win, axis=-1, norm="ortho", overwrite_x=True), g.used_bins, axis=1)
        y *= ph[:, None]
        y *= lay.deramp
        y = y.reshape(-1, g.n_symbols, g.n_used)                              # (S, T, F)
        nv = np.concatenate(nvs)
        h_true = self._truth(truth, todo, pos_a, y.shape)
        if h_true is not None and hasattr(self.estimator, "set_truth"):
            self.estimator.set_truth(h_true)
        h_hat, err = self.estimator(y, pp, nv)
        x_hat, nv_eff = self._equalize(y, h_hat, err, nv, kind=self.equalizer,
                                       **({"unbiased": True} if self.equalizer == "mmse" else {}))
        t, f = pp.data_index
        didx = t * g.n_used + f                                               # data REs, row-major
        xd = np.take(x_hat.reshape(len(x_hat), -1), didx, axis=1)             # (S, n_data)
        vd = np.take(nv_eff.reshape(len(nv_eff), -1), didx, axis=1)
        digital = []
        s0 = 0
        for rx, n_slots, _, _ in todo:
            sl = slice(s0, s0 + n_slots)
            s0 += n_slots
            rx.grid, rx.h_hat = y[sl], h_hat[sl]
            rx.h_true = None if h_true is None else h_true[sl]
            d = xd[sl].reshape(-1)
            v = vd[sl].reshape(-1)
            hd = rx.header
            if hd.payload_kind == "analog":
                rx.symbols, rx.noise_var = d[: hd.payload_len], v[: hd.payload_len]
                continue
            m = qam.bits_per_symbol(hd.payload_kind)
            n_cod = _n_coded(hd.payload_len, hd.code_rate)
            n_sym = -(-n_cod // m)
            rx.symbols, rx.noise_var = d[:n_sym], v[:n_sym]
            llr = qam.demap_llr(d[:n_sym], v[:n_sym], hd.payload_kind)[:n_cod]
            if hd.code_rate == "1":
                rx.bits = qam.hard_bits(llr)
                self._check_payload(rx, rx.bits)
            else:
                digital.append((rx, fec.depuncture(fec.deinterleave(llr), hd.payload_len + 32, hd.code_rate)))
        if digital:
            dec = fec.viterbi_decode_many([d for _, d in digital])
            for (rx, _), bits in zip(digital, dec):
                rx.bits = bits
                self._check_payload(rx, bits)

    def _check_payload(self, rx: RxFrame, bits_crc: np.ndarray) -> None:
        rx.payload_ok = crc.check_crc(bits_crc, "crc32")
        rx.bits = bits_crc[: rx.header.payload_len].copy()
        self.stats.payload_crc_failed += int(not rx.payload_ok)

    def _truth(self, truth, todo, abs_pos, shape):
        if truth is None:
            return None
        g = self._lay.grid
        if not callable(truth):
            h = np.asarray(truth, np.complex64)
            return np.broadcast_to(h, shape).copy()
        out, p0 = [], 0
        for rx, n_slots, cfo, _ in todo:
            k = n_slots * g.n_symbols
            h = np.asarray(truth(rx.start, abs_pos[p0: p0 + k], cfo * g.subcarrier_spacing), np.complex64)
            out.append(h.reshape(n_slots, g.n_symbols, g.n_used))
            p0 += k
        return np.concatenate(out)


def _sanitize(iq) -> np.ndarray:
    """Any array -> finite (n,) complex64; NaN/Inf and absurdly large samples become 0."""
    x = np.asarray(iq)
    if x.dtype.kind not in "fciub":
        raise ShapeError(f"IQ samples must be numeric, got dtype {x.dtype}")
    x = x.reshape(-1).astype(np.complex64)
    xf = x.view(np.float32)
    with np.errstate(all="ignore"):
        total = float(np.dot(xf, xf)) if x.size else 0.0      # one BLAS pass; inf/NaN if anything is
    if not np.isfinite(total) or total > _MAX_ABS ** 2:
        bad = ~np.isfinite(x) | (np.abs(x) > _MAX_ABS)
        x = np.where(bad, 0, x).astype(np.complex64)
    return x
