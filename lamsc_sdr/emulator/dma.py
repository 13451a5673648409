"""The DMA engines between the converters and the client, clocked by the wall clock.

RX (``cf-ad9361-lpc``): once a buffer is opened the ADC runs at the configured rate and the DMA
fills ``kernel_buffers`` blocks of ``samples_count`` samples, one after the other, whether the
client reads or not. A block is captured (rendered from the air) when its last sample has
passed. While the client holds a block (between two refills) that block is not available to the
DMA. When every block is full the DMA stalls: the samples that arrive until the client frees a
block are lost, the stream resumes at that moment, and bit 2 of the ADC status register
(0x80000088, write 1 to clear) is set, as the AXI ADC core does; gr-iio polls that bit.

TX (``cf-ad9361-dds-core-lpc``): a cyclic buffer repeats its one block from the push until the
buffer is closed. Non-cyclic blocks play back to back; a push waits while ``kernel_buffers``
blocks are still queued; a block pushed after the previous one ended leaves a gap (zeros) and
sets bit 0 of the DAC status register (underflow). Closing a buffer stops everything it queued.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

STATUS_REG = 0x80000088
RX_OVERFLOW = 0x4
TX_UNDERFLOW = 0x1


@dataclass
class Segment:
    """A stretch of TX waveform on the air: starts at wall time ``t0`` at rate ``fs``.
    wave: (L,) complex64, DAC full scale 1.0."""

    t0: float
    fs: float
    wave: np.ndarray
    cyclic: bool
    t_stop: float | None = None

    @property
    def t_end(self) -> float:
        """When it stops playing (inf for a running cyclic buffer)."""
        if self.cyclic:
            return math.inf if self.t_stop is None else self.t_stop
        end = self.t0 + self.wave.size / self.fs
        return end if self.t_stop is None else min(end, self.t_stop)

    def _tiled(self, n: int) -> np.ndarray:
        """The cyclic waveform repeated to cover any window of ``n`` samples (cached)."""
        L = self.wave.size
        t = getattr(self, "_tile", None)
        if t is None or t.size < n + L:
            reps = -(-(max(n, 1 << 16) + L) // L)
            t = np.tile(self.wave, reps)
            self._tile = t
        return t

    def add_to(self, out: np.ndarray, t0: float, fs: float) -> None:
        """Add this segment's samples at times ``t0 + i/fs`` into ``out`` (n,) complex64."""
        if fs != self.fs:
            return
        n = out.size
        j0 = int(round((t0 - self.t0) * fs))
        lo, hi = max(j0, 0), j0 + n
        if not self.cyclic:
            hi = min(hi, self.wave.size)
        if self.t_stop is not None:
            hi = min(hi, int(round((self.t_stop - self.t0) * fs)))
        if hi <= lo:
            return
        if self.cyclic:
            vals = self._tiled(hi - lo)[lo % self.wave.size:][:hi - lo]
        else:
            vals = self.wave[lo:hi]
        out[lo - j0:hi - j0] += vals


class RxStream:
    """RX DMA state of one opened buffer. ``capture(t0, n, fs) -> (n, k) int16`` renders a block."""

    def __init__(self, capture, n: int, nbufs: int, fs: float, now: float):
        self.capture = capture
        self.n = int(n)
        self.nbufs = max(1, int(nbufs))
        self.fs = float(fs)
        self.t_origin = now
        self.next = 0                 # sample index where the DMA writes next
        self.queue: deque = deque()   # filled blocks, oldest first
        self.held = False             # the client holds one block
        self.stalled = False
        self.lost_samples = 0
        self.overflows = 0
        self.blocks = 0

    def _index(self, now: float) -> int:
        return int(math.floor((now - self.t_origin) * self.fs))

    @property
    def capacity(self) -> int:
        return self.nbufs - (1 if self.held and self.nbufs > 1 else 0)

    def catch_up(self, now: float) -> None:
        """Capture every block that has completed by ``now`` into a free slot."""
        k = self._index(now)
        while self.next + self.n <= k:
            if len(self.queue) >= self.capacity:
                self.stalled = True
                return
            self.queue.append(self.capture(self.t_origin + self.next / self.fs, self.n, self.fs))
            self.next += self.n

    def release(self, now: float) -> bool:
        """The client gives its block back (at the next refill). Returns True if samples were lost."""
        self.catch_up(now)
        self.held = False
        if self.stalled:
            self.stalled = False
            k = self._index(now)
            if k > self.next:
                self.lost_samples += k - self.next
                self.overflows += 1
                self.next = k
                return True
        return False

    def take(self):
        """Pop the oldest filled block (the client now holds it), or None if none is ready."""
        if not self.queue:
            return None
        self.held = True
        self.blocks += 1
        return self.queue.popleft()

    def ready_at(self) -> float:
        """Wall time when the block being filled completes."""
        return self.t_origin + (self.next + self.n) / self.fs

    def retime(self, now: float, fs: float) -> None:
        """The sample rate changed: blocks already full keep their data; the DMA continues at ``fs``."""
        self.catch_up(now)
        self.fs = float(fs)
        self.t_origin = now - self.next / self.fs


class TxStream:
    """TX DMA state of one opened buffer; its segments go on the device's air history."""

    def __init__(self, n: int, nbufs: int, cyclic: bool):
        self.n = int(n)
        self.nbufs = max(1, int(nbufs))
        self.cyclic = bool(cyclic)
        self.segments: list[Segment] = []
        self.last_end: float | None = None
        self.pushes = 0
        self.underflows = 0

    def wait_time(self, now: float) -> float:
        """Seconds until a kernel buffer is free for a non-cyclic push (0: push now)."""
        if self.cyclic:
            return 0.0
        pending = sorted(s.t_end for s in self.segments if s.t_end > now)
        if len(pending) < self.nbufs:
            return 0.0
        return pending[len(pending) - self.nbufs] - now

    def push(self, wave: np.ndarray, fs: float, now: float) -> tuple[Segment, bool]:
        """Queue a block (complex64, DAC units). Returns (segment, underflowed before it)."""
        underflow = False
        if self.cyclic:
            seg = Segment(now, fs, wave, True)
        else:
            start = now
            if self.last_end is not None:
                if now > self.last_end:
                    underflow = True
                    self.underflows += 1
                else:
                    start = self.last_end
            seg = Segment(start, fs, wave, False)
            self.last_end = seg.t_end
        self.segments = [s for s in self.segments if s.t_end > now - 1.0] + [seg]
        self.pushes += 1
        return seg, underflow

    def starved(self, now: float) -> bool:
        """A non-cyclic stream whose last block has finished playing."""
        return (not self.cyclic) and self.last_end is not None and now > self.last_end

    def stop(self, now: float) -> None:
        for s in self.segments:
            if s.t_stop is None or s.t_stop > now:
                s.t_stop = now
