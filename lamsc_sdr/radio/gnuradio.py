"""``gnuradio`` backend: a headless GNU Radio top block streaming through ``channels.channel_model``.

The flowgraph runs continuously for the life of the radio::

    file_descriptor_source (pipe) -> [selective_fading_model2 if doppler] -> channel_model
        (AWGN, CFO, multipath taps, sample-clock drift) -> [IQ imbalance] -> [+ DC] -> file_descriptor_sink (pipe)

``tx(iq)`` queues samples for the air; ``rx(n)`` advances the air by feeding queued TX samples
(zeros when nothing is queued: an idle transmitter) into the flowgraph and returns the next
``n`` output samples. How much is fed depends only on sample counts, never on timing, so a run is
reproducible bit for bit with the same seed. The channel state (noise generator, CFO phase, FIR
and resampler history) carries over between calls: the stream is continuous.

Noise: ``channel_model``'s complex Gaussian source has variance ``noise_voltage^2``; with
unit-power frames (docs/CONTRACTS.md) ``noise_voltage = sqrt(10**(-snr_db/10))``.
"""
from __future__ import annotations

import collections
import fcntl
import logging
import math
import os
import select
import threading
import time

import numpy as np

from ..channel.config import ChannelConfig
from ..errors import ConfigError, RadioError, ShapeError
from .base import Radio

log = logging.getLogger(__name__)
_F_SETPIPE_SZ = 1031


def channel_taps(ch: ChannelConfig, sample_rate: float, rng: np.random.Generator) -> np.ndarray:
    """One block-fading realization of ``ch.model`` as FIR taps at ``sample_rate`` (fractional
    delay ``ch.fractional_delay`` included). (n_taps,) complex64, E[sum |h|^2] = 1."""
    from ..channel.fading import draw_path_gains
    from ..channel.impairments import sinc_interpolator
    from ..channel.profiles import resolve_profile
    prof = resolve_profile(ch.model, sample_rate, ch.delay_spread_ns, ch.k_factor_db)
    gains = draw_path_gains(prof.powers, sample_rate, rng, 0.0, prof.k_linear).static
    s, pre = sinc_interpolator(prof.delays * sample_rate + ch.fractional_delay)
    taps = gains @ s                                # (n_taps,)
    return taps.astype(np.complex64)


class GnuRadioChannelRadio(Radio):
    """Loopback radio whose air is a running GNU Radio flowgraph (see module docstring).

    Args:
        channel: ChannelConfig (model, snr_db, cfo_hz, timing_offset, fractional_delay,
            iq_imbalance_db/iq_phase_deg, dc_offset, doppler_hz).
        sample_rate: samples per second of the stream.
        seed: seeds the noise source, the fading model and the tap draw.
        clock_ppm: sample-clock offset between TX and RX (timing drift), ``channel_model``'s epsilon.
    ``tx(iq)``: (n,) complex64, unit average power. ``rx(n)``: (n,) complex64.
    """

    backend = "gnuradio"

    def __init__(self, channel: ChannelConfig | None = None, sample_rate: float = 1e6, center_freq: float = 2.4e9,
                 tx_gain: float = 0.0, rx_gain: float = 0.0, buffer_size: int = 2 ** 14, seed: int = 0,
                 clock_ppm: float = 0.0, snr_db: float | None = None):
        super().__init__(sample_rate, center_freq, tx_gain, rx_gain, buffer_size)
        from gnuradio import blocks, channels, gr
        gr.logging().set_default_level(gr.log_levels.warn)
        ch = channel or ChannelConfig()
        self.channel = ch
        self.snr_db = float(ch.snr_db if snr_db is None else snr_db)
        self.seed = int(seed)
        self.clock_ppm = float(clock_ppm)
        rng = np.random.default_rng([self.seed, 0x6E1])
        try:
            self.taps = channel_taps(ch, sample_rate, rng)
        except ConfigError:
            raise
        nv = 0.0 if math.isinf(self.snr_db) else math.sqrt(10 ** (-self.snr_db / 10))
        self.epsilon = 1.0 + self.clock_ppm * 1e-6
        self._margin = 64 + self.taps.size

        self._r_in, self._w_in = os.pipe()
        self._r_out, self._w_out = os.pipe()
        for fd in (self._w_in, self._r_out):
            try:
                fcntl.fcntl(fd, _F_SETPIPE_SZ, 1 << 20)
            except OSError:
                pass
        tb = gr.top_block("lamsc gnuradio channel")
        # Python references to every block are kept (RESOURCES.md: unreferenced blocks crash).
        self._src = blocks.file_descriptor_source(gr.sizeof_gr_complex, self._r_in, False)
        chain = [self._src]
        if ch.doppler_hz > 0:
            from ..channel.profiles import resolve_profile
            prof = resolve_profile(ch.model, sample_rate, ch.delay_spread_ns, ch.k_factor_db)
            d = list(prof.delays * sample_rate)
            self._fading = channels.selective_fading_model2(
                8, ch.doppler_hz / sample_rate, prof.is_los, prof.k_linear if prof.is_los else 0.0,
                self.seed, d, [0.0] * len(d), [0.0] * len(d), list(np.sqrt(prof.powers)),
                int(math.ceil(max(d))) + 8)
            chain.append(self._fading)
            taps = [1.0 + 0j]
        else:
            taps = [complex(t) for t in self.taps]
        self._chan = channels.channel_model(nv, ch.cfo_hz / sample_rate, self.epsilon, taps,
                                            self.seed & 0x7FFFFFFF or 1, True)
        chain.append(self._chan)
        if ch.iq_imbalance_db or ch.iq_phase_deg:
            from ..channel.impairments import iq_coefficients
            mu, nu = iq_coefficients(ch.iq_imbalance_db, ch.iq_phase_deg)
            self._iq_mu = blocks.multiply_const_cc(mu)
            self._iq_conj = blocks.conjugate_cc()
            self._iq_nu = blocks.multiply_const_cc(nu)
            self._iq_add = blocks.add_cc()
            tb.connect(chain[-1], self._iq_mu, (self._iq_add, 0))
            tb.connect(chain[-1], self._iq_conj, self._iq_nu, (self._iq_add, 1))
            tail = self._iq_add
        else:
            tail = None
        if ch.dc_offset:
            self._dc = blocks.add_const_cc(complex(ch.dc_offset))
        self._sink = blocks.file_descriptor_sink(gr.sizeof_gr_complex, self._w_out)
        tb.connect(*chain)
        last = tail if tail is not None else chain[-1]
        if ch.dc_offset:
            tb.connect(last, self._dc)
            last = self._dc
        tb.connect(last, self._sink)
        self._tb = tb
        self._pending: collections.deque = collections.deque()
        self._pending_n = 0
        self._fed = 0
        self._consumed = 0
        self._out = bytearray()
        self._out_lock = threading.Condition()
        self._stop = False
        self._reader_error: BaseException | None = None
        self._reader = threading.Thread(target=self._read_loop, name="lamsc-gr-reader", daemon=True)
        self._reader.start()
        tb.start()
        if ch.timing_offset:
            self._pending.append(np.zeros(int(ch.timing_offset), np.complex64))
            self._pending_n += int(ch.timing_offset)

    # --- plumbing ---------------------------------------------------------------------------
    def _read_loop(self) -> None:
        try:
            while True:
                r, _, _ = select.select([self._r_out], [], [], 0.05)
                if r:
                    chunk = os.read(self._r_out, 1 << 20)
                    if not chunk:
                        break
                    with self._out_lock:
                        self._out += chunk
                        self._out_lock.notify_all()
                elif self._stop:
                    break
        except BaseException as err:  # pragma: no cover - surfaced in rx()
            self._reader_error = err
            with self._out_lock:
                self._out_lock.notify_all()

    def _feed(self, n: int) -> None:
        """Write n samples to the flowgraph: queued TX first, then idle zeros."""
        parts = []
        while n > 0 and self._pending:
            head = self._pending[0]
            if head.size <= n:
                parts.append(self._pending.popleft())
                n -= head.size
                self._pending_n -= head.size
            else:
                parts.append(head[:n])
                self._pending[0] = head[n:]
                self._pending_n -= n
                n = 0
        if n > 0:
            parts.append(np.zeros(n, np.complex64))
        data = np.concatenate(parts).astype(np.complex64, copy=False).tobytes() if parts else b""
        view = memoryview(data)
        while view:
            k = os.write(self._w_in, view[: 1 << 20])
            view = view[k:]
        self._fed += len(data) // 8

    # --- Radio interface --------------------------------------------------------------------
    def tx(self, iq: np.ndarray) -> None:
        """Queue iq (n,) complex (unit average power) for transmission."""
        if self._closed:
            raise RadioError("gnuradio radio is closed")
        x = np.asarray(iq)
        if x.ndim != 1:
            raise ShapeError(f"tx expects (n,) samples, got shape {x.shape}")
        x = x.astype(np.complex64)
        if not np.all(np.isfinite(x.view(np.float32))):
            raise ShapeError("tx samples hold NaN/Inf")
        self._pending.append(x)
        self._pending_n += x.size

    @property
    def pending(self) -> int:
        """TX samples queued but not yet on the air."""
        return self._pending_n

    def rx(self, n: int | None = None, timeout_s: float = 30.0) -> np.ndarray:
        """The next n samples from the channel. (n,) complex64."""
        if self._closed:
            raise RadioError("gnuradio radio is closed")
        n = int(self.buffer_size if n is None else n)
        want_bytes = 8 * n
        with self._out_lock:
            have = len(self._out)
        if have < want_bytes:
            need_out = self._consumed + n
            target = int(math.ceil(need_out * self.epsilon)) + self._margin
            if target > self._fed:
                self._feed(target - self._fed)
        deadline = time.monotonic() + timeout_s
        with self._out_lock:
            while len(self._out) < want_bytes:
                if self._reader_error is not None:
                    raise RadioError(f"GNU Radio channel reader failed: {self._reader_error}") \
                        from self._reader_error
                if self._out_lock.wait(0.5) or len(self._out) >= want_bytes:
                    continue
                if time.monotonic() > deadline:
                    raise RadioError(f"GNU Radio flowgraph produced {len(self._out) // 8} of {n} samples "
                                     f"in {timeout_s} s (fed {self._fed})")
                # stalled: more latency than the margin; give the flowgraph more idle samples
                self._out_lock.release()
                try:
                    self._feed(self._margin)
                finally:
                    self._out_lock.acquire()
            chunk = bytes(self._out[:want_bytes])
            del self._out[:want_bytes]
        self._consumed += n
        y = np.frombuffer(chunk, dtype=np.complex64).copy()
        return self._recorded(y)

    def close(self) -> None:
        if self._closed:
            return
        try:
            os.close(self._w_in)              # EOF: the source finishes, the flowgraph drains
            self._tb.wait()
        finally:
            self._stop = True
            self._reader.join(timeout=5)
            os.close(self._r_out)
            super().close()

    def settings(self) -> dict:
        d = super().settings()
        ch = self.channel
        d.update(backend=self.backend, model=ch.model, snr_db=self.snr_db, cfo_hz=ch.cfo_hz,
                 clock_ppm=self.clock_ppm, seed=self.seed)
        return d
