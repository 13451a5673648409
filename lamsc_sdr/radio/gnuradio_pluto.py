"""``gnuradio-pluto`` backend: the PlutoSDR through GNU Radio's gr-iio blocks (3.10.5.1).

RX: one long-running flowgraph ``iio.fmcomms2_source_fc32 -> _QueueSink`` started at the first
``rx`` and kept running; ``rx(n)`` takes the next ``n`` samples from the queue, so consecutive
chunks are contiguous (gr-iio creates and destroys its IIO buffer at every start/stop: a
flowgraph per ``rx`` would throw away the rest of each buffer and splice the stream). The
flowgraph is never restarted (restarting a top block holding gr-iio's source can deadlock its
scheduler): where pyadi-iio's backend destroys its buffer -- the first ``rx`` after a ``tx`` or a
retune -- the queue and the kernel's stale buffers still to come are dropped instead, and a
recording gets a ``restart`` segment.

Losses are never silent: the sink polls the RX overflow flag (status register 0x80000088, what
gr-iio's own thread prints as ``O`` once a second) at most every ``poll_s``, and a reader slower
than the device drops the oldest queued samples beyond ``max_queue_s`` seconds; both count in
``overflows`` and mark a gap (a new SigMF capture segment when recording).

TX: ``_ArraySource -> iio.fmcomms2_sink_fc32``. ``tx_cyclic=True`` (default) pushes one cyclic
buffer holding the waveform, repeated until the next ``tx``, ``stop_tx`` or ``close``;
``tx()`` returns once the buffer is pushed (the sink finishes its work after the push). A
non-cyclic sink only sends whole buffers of ``buffer_size`` samples, so the waveform is padded
with zeros to whole buffers plus one, and ``tx()`` returns once every buffer is pushed.
Samples: one TX scale with ``pluto`` (:func:`~.iio_control.scale_tx`): gr-iio maps float 1.0 to
32768, so full scale is 0.5 here and both backends emit the same DAC words.

gr-iio 3.10.5.1 quirks worked around (:class:`~.iio_control.IioControl`, our own libiio context):
``set_gain_mode`` writes the *previous* mode (called twice here); the source has no bandwidth
setter (written directly); attribute-write failures are only logged by gr-iio (every setting is
read back and a mismatch raises RadioError). Settings are properties that write through.
Stopping, closing and Ctrl-C leave the transmitter silent (maximum attenuation, TX LO down).
"""
from __future__ import annotations

import collections
import logging
import threading
import time

import numpy as np

from ..errors import RadioError, RadioNotFoundError, ShapeError
from .base import Radio
from .iio_control import GR_IIO_ONE, LIBIIO_TIMEOUT_S, TX_PEAK, IioControl, device_error, scale_tx

log = logging.getLogger(__name__)
GR_FULL_SCALE = TX_PEAK / GR_IIO_ONE        # 0.5: the float that gr-iio turns into 2^14
_FIRST_RUN_S = 1.2                          # gr-iio's overflow thread polls its start flag once a second
_KERNEL_BUFFERS = 4                         # IIO buffers queued ahead by the kernel (stale after a change)


def fix_gr_iio_source(source, ctl: IioControl, rf_bandwidth: float, gain_mode: str) -> None:
    """Work around gr-iio 3.10.5.1 on an ``fmcomms2_source``/GRC Pluto source: write ``gain_mode``
    (its ``set_gain_mode`` writes the previously stored mode, so it is called twice) and the RX
    ``rf_bandwidth`` (the source has no setter; the GRC block's bandwidth is never written), then
    read the mode back (gr-iio only logs a failed write)."""
    source.set_gain_mode(0, gain_mode)
    source.set_gain_mode(0, gain_mode)
    got = ctl.read("voltage0", False, "gain_control_mode").strip()
    if got != gain_mode:
        raise RadioError(f"PlutoSDR at {ctl.uri!r} did not take gain_control_mode={gain_mode!r} (reads {got!r})")
    ctl.write("voltage0", False, "rf_bandwidth", int(round(rf_bandwidth)))


def silence_tx(uri: str, drain_s: float = 0.0) -> None:
    """After a TX flowgraph stops: let ``drain_s`` seconds of queued buffers play, then leave the
    Pluto silent (maximum attenuation, TX LO powered down). For GRC ``main_after_stop`` snippets."""
    time.sleep(max(0.0, drain_s))
    IioControl.open(uri).tx_off()


def _blocks():
    """The two Python blocks, defined on first use (importing gnuradio costs ~0.3 s)."""
    from gnuradio import gr

    class ArraySource(gr.sync_block):
        """Output: the array's samples once, then WORK_DONE. (n,) complex64 without list conversion."""

        def __init__(self, data: np.ndarray):
            gr.sync_block.__init__(self, name="lamsc_array_source", in_sig=None, out_sig=[np.complex64])
            self.data = np.ascontiguousarray(data, dtype=np.complex64)
            self.pos = 0

        def work(self, input_items, output_items):
            out = output_items[0]
            k = min(out.size, self.data.size - self.pos)
            if k <= 0:
                return -1
            out[:k] = self.data[self.pos:self.pos + k]
            self.pos += k
            return k

    class QueueSink(gr.sync_block):
        """Input: complex64 stream, handed to ``on_samples(chunk)``; ``on_stop()`` when the flowgraph ends."""

        def __init__(self, on_samples, on_stop):
            gr.sync_block.__init__(self, name="lamsc_queue_sink", in_sig=[np.complex64], out_sig=None)
            self.on_samples, self.on_stop = on_samples, on_stop

        def work(self, input_items, output_items):
            x = input_items[0]
            self.on_samples(np.array(x, dtype=np.complex64))
            return x.size

        def stop(self):
            self.on_stop()
            return True

    return ArraySource, QueueSink


class GrPlutoRadio(Radio):
    """PlutoSDR through gr-iio (see module docstring).

    ``tx(iq)``: iq (n,) complex, unit average power. ``rx(n)``: (n,) complex64, full scale 1.
    ``source_factory()``, ``sink_factory(uri, buffer_size, cyclic)`` and ``control_factory(uri)``
    replace gr-iio's source and sink and the libiio control (unit tests).
    """

    backend = "gnuradio-pluto"

    def __init__(self, uri: str | None, *, rx_uri: str | None = None, sample_rate: float = 1e6,
                 center_freq: float = 2.4e9, rf_bandwidth: float = 1.5e6, tx_gain: float = -10.0,
                 rx_gain: float = 40.0, gain_control_mode: str = "manual", buffer_size: int = 2 ** 15,
                 tx_backoff_db: float = 12.0, tx_cyclic: bool = True, max_queue_s: float = 2.0,
                 poll_s: float = 0.1, source_factory=None, sink_factory=None, control_factory=None):
        super().__init__(sample_rate, center_freq, tx_gain, rx_gain, buffer_size)
        if not uri:
            raise RadioNotFoundError("the gnuradio-pluto backend needs an explicit URI (--uri usb:... or ip:...)")
        from gnuradio import gr
        gr.logging().set_default_level(gr.log_levels.warn)
        self.uri, self.rx_uri = uri, rx_uri or uri
        self.rf_bandwidth = float(rf_bandwidth)
        self.gain_control_mode = gain_control_mode
        self.tx_backoff_db = float(tx_backoff_db)
        self.tx_cyclic = bool(tx_cyclic)
        self.max_queue_s = float(max_queue_s)
        self.poll_s = float(poll_s)
        self.tx_clipped = 0
        self.last_tx_peak = 0.0
        self._control_factory = control_factory or IioControl.open
        self._sink_factory = sink_factory or self._make_sink
        self._tx_tb = self._tx_sink = self._tx_src = None
        self._tx_configured = False
        self._tx_live = False
        # RX queue: deque of [chunk, [(offset, lost, reason), ...]]; guarded by _cv
        self._cv = threading.Condition()
        self._queue: collections.deque = collections.deque()
        self._queued = 0
        self._want = 0                   # samples the pending rx() waits for (never dropped)
        self._discard = 0                # samples still to drop after a fresh start
        self._rx_tb = None
        self._rx_done = False
        self._fresh = True
        self._last_poll = 0.0
        self._ctl_rx = self._control_factory(self.rx_uri)
        self._ctl_tx = self._ctl_rx if self.rx_uri == self.uri else None
        self._poll_ctl = None
        ArraySource, QueueSink = _blocks()
        self._ArraySource = ArraySource
        self._qsink = QueueSink(self._push, self._ended)
        # gr-iio's source is made at the first rx()/readback() and started at once. 3.10.5.1's
        # overflow thread polls once a second for the first start on an uninitialized flag and the
        # destructor joins it: a source never started, or stopped before the thread saw it run,
        # hangs its destructor. So the first run lasts >= _FIRST_RUN_S (a transmit-only radio never
        # makes a source).
        self._source = None
        self._source_started = False
        self._source_t0 = 0.0
        self._source_factory = source_factory or self._make_source

    # --- control -----------------------------------------------------------------------------
    def _ensure_rx(self) -> None:
        """Make, configure and start the RX flowgraph if it is not running."""
        if self._source is None:
            self._source = self._source_factory()
            self._configure_rx()
        if self._rx_tb is None:
            self._start_rx()
        elif self._fresh:
            if self._delivered:
                self._mark_gap(0, reason="restart")
            self._flush()

    def _tx_control(self) -> IioControl:
        if self._ctl_tx is None:
            self._ctl_tx = self._control_factory(self.uri)
        return self._ctl_tx

    def _make_source(self):
        from gnuradio import iio
        try:
            src = iio.fmcomms2_source_fc32(self.rx_uri, [True, True], int(self.buffer_size))
            src.set_len_tag_key("")
            return src
        except RuntimeError as err:
            raise RadioNotFoundError(f"gr-iio cannot reach a PlutoSDR at {self.rx_uri!r}: {err}") from err

    @staticmethod
    def _make_sink(uri: str, size: int, cyclic: bool):
        from gnuradio import iio
        try:
            sink = iio.fmcomms2_sink_fc32(uri, [True, True], size, cyclic)
            sink.set_len_tag_key("")
            return sink
        except RuntimeError as err:
            raise RadioNotFoundError(f"gr-iio cannot reach a PlutoSDR at {uri!r}: {err}") from err

    def _gr(self, what: str, fn, *args) -> None:
        """Call a gr-iio setter; its RuntimeError becomes a RadioError naming the setting."""
        try:
            fn(*args)
        except RuntimeError as err:
            raise RadioError(f"gr-iio {what}{args!r} failed at {self.rx_uri!r}: {err}") from err

    def _check(self, ctl: IioControl, chan: str, output: bool, attr: str, want: float, tol: float, what: str):
        """gr-iio only logs a refused write: read the attribute back and raise on a mismatch."""
        got = ctl.read_float(chan, output, attr)
        if abs(got - want) > tol:
            raise RadioError(f"PlutoSDR at {ctl.uri!r} did not take {what}={want:g} (reads {got:g}); "
                             f"gr-iio 3.10.5.1 only logs attribute-write failures")

    def _configure_rx(self) -> None:
        src, ctl = self._source, self._ctl_rx
        rate, fc = int(round(self.sample_rate)), int(round(self.center_freq))
        self._gr("set_frequency", src.set_frequency, fc)
        self._gr("set_filter_params", src.set_filter_params, "Auto", "", 0.0, 0.0)
        self._gr("set_samplerate", src.set_samplerate, rate)
        self._gr("set_gain_mode", fix_gr_iio_source, src, ctl, self.rf_bandwidth, self.gain_control_mode)
        if self.gain_control_mode == "manual":
            self._gr("set_gain", src.set_gain, 0, float(self.rx_gain))
            self._check(ctl, "voltage0", False, "hardwaregain", self.rx_gain, 0.51, "RX hardwaregain")
        for name, fn, val in (("set_quadrature", src.set_quadrature, True), ("set_rfdc", src.set_rfdc, True),
                              ("set_bbdc", src.set_bbdc, True)):
            self._gr(name, fn, val)
        self._check(ctl, "altvoltage0", True, "frequency", fc, 1, "RX LO frequency")
        self._check(ctl, "voltage0", False, "sampling_frequency", rate, 1, "sampling_frequency")
        self._fresh = True

    def _configure_tx(self, sink) -> None:
        ctl = self._tx_control()
        rate, fc = int(round(self.sample_rate)), int(round(self.center_freq))
        self._gr("set_frequency", sink.set_frequency, fc)
        self._gr("set_bandwidth", sink.set_bandwidth, int(round(self.rf_bandwidth)))
        self._gr("set_filter_params", sink.set_filter_params, "Auto", "", 0.0, 0.0)
        self._gr("set_samplerate", sink.set_samplerate, rate)
        self._gr("set_attenuation", sink.set_attenuation, 0, float(-self.tx_gain))
        ctl.tx_lo_on()
        self._check(ctl, "altvoltage1", True, "frequency", fc, 1, "TX LO frequency")
        self._check(ctl, "voltage0", True, "hardwaregain", self.tx_gain, 0.26, "TX hardwaregain")
        self._tx_configured = True

    # --- settings write through ----------------------------------------------------------------
    def _reconfigure(self) -> None:
        if getattr(self, "_source", None) is not None:
            self._configure_rx()
        if getattr(self, "_tx_live", False) and self._tx_sink is not None:
            self._configure_tx(self._tx_sink)

    @Radio.sample_rate.setter
    def sample_rate(self, value):
        self._sample_rate = float(value)
        self._reconfigure()

    @Radio.center_freq.setter
    def center_freq(self, value):
        self._center_freq = float(value)
        self._reconfigure()

    @Radio.rx_gain.setter
    def rx_gain(self, value):
        self._rx_gain = float(value)
        if getattr(self, "_source", None) is not None and self.gain_control_mode == "manual":
            self._gr("set_gain", self._source.set_gain, 0, float(value))
            self._check(self._ctl_rx, "voltage0", False, "hardwaregain", float(value), 0.51, "RX hardwaregain")

    @Radio.tx_gain.setter
    def tx_gain(self, value):
        self._tx_gain = float(value)
        if getattr(self, "_tx_live", False) and self._tx_sink is not None:
            self._gr("set_attenuation", self._tx_sink.set_attenuation, 0, float(-value))
            self._check(self._tx_control(), "voltage0", True, "hardwaregain", float(value), 0.26, "TX hardwaregain")

    # --- what the device says ------------------------------------------------------------------
    def hardware(self) -> dict:
        info = self._ctl_rx.hw_info()
        info.setdefault("model", "PlutoSDR")
        info["uri"] = self.rx_uri
        info["driver"] = "gr-iio"
        return info

    def readback(self) -> dict:
        self._ensure_rx()
        return {"sample_rate": self._ctl_rx.read_float("voltage0", False, "sampling_frequency"),
                "center_freq": self._ctl_rx.read_float("altvoltage0", True, "frequency")}

    def gain_range(self) -> dict:
        return {"rx": self._ctl_rx.gain_range(False), "tx": self._tx_control().gain_range(True)}

    def tracking(self) -> dict | None:
        return self._ctl_rx.tracking()

    # --- RX ------------------------------------------------------------------------------------
    def _push(self, x: np.ndarray) -> None:
        """(GR thread) queue a chunk; poll the overflow flag; drop the oldest beyond max_queue_s."""
        gaps = []
        now = time.monotonic()
        if self._poll_ctl is not None and now - self._last_poll >= self.poll_s:
            self._last_poll = now
            try:
                if self._poll_ctl.overflowed():
                    gaps.append((0, None, "overflow"))
            except RadioError as err:
                log.warning("gnuradio-pluto: overflow poll failed: %s", err)
        limit = max(int(self.max_queue_s * self.sample_rate), 4 * self.buffer_size, self._want + x.size)
        with self._cv:
            if self._discard:                # stale samples from before a tx or retune
                k = min(self._discard, x.size)
                self._discard -= k
                x = x[k:]
                if not x.size:
                    return
            self._queue.append([x, gaps])
            self._queued += x.size
            while self._queued - self._queue[0][0].size >= limit and len(self._queue) > 1:
                dropped, marks = self._queue.popleft()
                self._queued -= dropped.size
                # one loss event however many chunks it drops: merge into the new head's mark
                lost = dropped.size + sum(n or 0 for off, n, why in marks if why == "host-overflow")
                keep = [(0, None, why) for _, _, why in marks if why != "host-overflow"]
                self._queue[0][1][:0] = keep + [(0, lost, "host-overflow")]
            self._cv.notify_all()

    def _ended(self) -> None:
        with self._cv:
            self._rx_done = True
            self._cv.notify_all()

    def _let_overflow_thread_see_a_run(self) -> None:
        if self._source_started:
            time.sleep(max(0.0, _FIRST_RUN_S - (time.monotonic() - self._source_t0)))

    def _flush(self) -> None:
        """A fresh capture without a restart (restarting a top block with gr-iio's source can
        deadlock its scheduler): drop what is queued and the kernel's stale buffers still to come."""
        with self._cv:
            self._queue.clear()
            self._queued = 0
            self._discard = _KERNEL_BUFFERS * int(self.buffer_size)
        self._fresh = False

    def _start_rx(self) -> None:
        from gnuradio import gr
        with self._cv:
            self._queue.clear()
            self._queued = 0
            self._rx_done = False
            self._discard = 0
        self._rx_tb = gr.top_block("lamsc gnuradio-pluto rx")
        self._rx_tb.connect(self._source, self._qsink)
        if self._poll_ctl is None:
            try:
                self._poll_ctl = self._control_factory(self.rx_uri)
            except RadioError as err:
                log.warning("gnuradio-pluto: no overflow polling (%s)", err)
        if self._poll_ctl is not None:
            self._poll_ctl.clear_status()
        try:
            self._rx_tb.start()
        except RuntimeError as err:
            raise device_error(self.rx_uri, "starting the gr-iio source", err) from err
        if not self._source_started:
            self._source_started, self._source_t0 = True, time.monotonic()
        self._fresh = False

    def rx(self, n: int | None = None) -> np.ndarray:
        """The next n samples (default buffer_size) of the running stream. (n,) complex64."""
        if self._closed:
            raise RadioError("gnuradio-pluto radio is closed")
        n = int(self.buffer_size if n is None else n)
        self._ensure_rx()
        deadline = time.monotonic() + n / self.sample_rate + LIBIIO_TIMEOUT_S + 2.0
        parts, have = [], 0
        with self._cv:
            self._want = n
            while self._queued < n:
                if self._rx_done:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RadioNotFoundError(f"PlutoSDR at {self.rx_uri!r} delivered {self._queued} of {n} samples "
                                             f"through gr-iio in {n / self.sample_rate + LIBIIO_TIMEOUT_S + 2:.1f} s "
                                             "(no data: device gone or not streaming)")
                self._cv.wait(min(left, 0.5))
            if self._queued < n:             # the source stopped: gr-iio failed to refill its buffer
                self._rx_failed()
            while have < n:
                chunk, gaps = self._queue[0]
                take = min(n - have, chunk.size)
                for off, lost, why in gaps:
                    if off < take:
                        self._mark_gap(have + off, lost, why)
                parts.append(chunk[:take])
                if take == chunk.size:
                    self._queue.popleft()
                else:
                    self._queue[0] = [chunk[take:], [(off - take, lost, why) for off, lost, why in gaps if off >= take]]
                have += take
            self._queued -= n
            self._want = 0
        out = parts[0] if len(parts) == 1 else np.concatenate(parts)
        return self._recorded(out)

    def _rx_failed(self) -> None:
        """The gr-iio source ended its stream: find out why from the device itself."""
        try:
            self._ctl_rx.read("voltage0", False, "sampling_frequency")
        except RadioError as err:
            raise RadioNotFoundError(f"gr-iio's source at {self.rx_uri!r} stopped streaming: {err}") from err
        raise RadioNotFoundError(f"gr-iio's source at {self.rx_uri!r} stopped streaming (Unable to refill buffer)")

    # --- TX ------------------------------------------------------------------------------------
    def tx(self, iq: np.ndarray) -> None:
        """Transmit iq (n,) complex at unit average power; returns once the device has the samples
        (cyclic: the one buffer; non-cyclic: every buffer)."""
        from gnuradio import gr
        if self._closed:
            raise RadioError("gnuradio-pluto radio is closed")
        x = np.asarray(iq)
        if x.ndim != 1 or x.size == 0 or not np.all(np.isfinite(x)):
            raise ShapeError(f"tx expects finite (n,) samples with n > 0, got shape {x.shape}")
        y, n_clip, self.last_tx_peak = scale_tx(x, self.tx_backoff_db, GR_FULL_SCALE)
        if n_clip:
            self.tx_clipped += n_clip
            log.warning("gnuradio-pluto TX: %d of %d samples clipped at full scale", n_clip, x.size)
        self._drop_tx()
        if self.tx_cyclic:
            size = y.size
        else:
            size = int(self.buffer_size)
            y = np.concatenate([y, np.zeros(-y.size % size + size, np.complex128)])   # whole buffers + one
        sink = self._sink_factory(self.uri, size, self.tx_cyclic)
        self._configure_tx(sink)
        src = self._ArraySource(y.astype(np.complex64))
        tb = gr.top_block("lamsc gnuradio-pluto tx")
        tb.connect(src, sink)
        self._tx_tb, self._tx_sink, self._tx_src = tb, sink, src
        try:
            tb.run()          # cyclic: the sink returns WORK_DONE after its push; else the source ends
        except RuntimeError as err:
            raise device_error(self.uri, "tx", err) from err
        if src.pos < y.size:
            raise RadioError(f"gnuradio-pluto TX at {self.uri!r}: only {src.pos} of {y.size} samples were taken")
        if not self.tx_cyclic:   # up to the kernel's 4 queued buffers are still to play
            self._tx_until = time.monotonic() + 4 * size / self.sample_rate
        self._tx_live = True
        self._fresh = True

    def _drop_tx(self) -> None:
        """Destroy the TX buffer (gr-iio does it in the sink's destructor) once it has played."""
        self._drain_tx()
        if self._tx_tb is not None:
            self._tx_tb.stop()
            self._tx_tb.wait()
        self._tx_tb = self._tx_sink = self._tx_src = None

    def discard_stale(self) -> None:
        """The next capture drops what is queued (as after our own tx): another radio transmitted."""
        self._fresh = True

    def stop_tx(self) -> None:
        """Stop transmitting; the transmitter is left silent (maximum attenuation, TX LO down)."""
        self._drop_tx()
        if self._tx_configured:
            self._tx_control().tx_off()
        self._tx_live = False
        self._fresh = True

    def close(self) -> None:
        if self._closed:
            return
        try:
            try:
                self.stop_tx()
            except RadioError as err:
                log.debug("gnuradio-pluto: silencing TX on close: %s", err)
            if self._source is not None and not self._source_started:
                self._start_rx()              # (rare) made but never started: its thread must see a run
            if self._rx_tb is not None:
                self._let_overflow_thread_see_a_run()
                self._rx_tb.stop()
                self._rx_tb.wait()
        finally:
            self._rx_tb = None
            self._source = None
            super().close()

    def settings(self) -> dict:
        d = {"uri": self.uri}
        if self.rx_uri != self.uri:
            d["rx_uri"] = self.rx_uri
        d.update(super().settings())
        d.update(rf_bandwidth=self.rf_bandwidth, gain_control_mode=self.gain_control_mode,
                 tx_backoff_db=self.tx_backoff_db, tx_cyclic=self.tx_cyclic)
        return d
