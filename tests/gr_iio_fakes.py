"""Look-alikes of gr-iio 3.10.5.1's ``fmcomms2_source_fc32`` / ``fmcomms2_sink_fc32`` for unit tests
without a device, written from the 3.10.5.1 sources (gr-iio/lib/fmcomms2_*_impl.cc, device_*_impl.cc):

- the source's ``set_gain_mode`` writes the mode stored by the previous call (initially "manual")
  and ``set_gain`` writes only when the stored mode is "manual"; a refused attribute write is only
  logged; ``start()`` creates a fresh buffer: the device kept running while nobody read, so the
  stream jumps to "now" (a ramp here: sample value = its index on the device's clock).
- the sink only consumes whole buffers (``set_output_multiple(buffer_size)``); a cyclic sink
  pushes one buffer and returns WORK_DONE; pushes are recorded with their time.
"""
import logging
import time

import numpy as np
from gnuradio import gr

log = logging.getLogger(__name__)


class FakeSource(gr.sync_block):
    """Output: complex64 ramp at ``rate`` samples/s of wall clock (value = device sample index)."""

    def __init__(self, ctl, rate: float = 1e6, chunk: int = 4096):
        gr.sync_block.__init__(self, name="fake_fmcomms2_source", in_sig=None, out_sig=[np.complex64])
        self.ctl, self.rate, self.chunk = ctl, float(rate), int(chunk)
        self.d_gain_mode = "manual"
        self.t0 = time.monotonic()
        self.pos = 0
        self.starts = 0

    def _write(self, chan, output, attr, value):
        try:
            self.ctl.write(chan, output, attr, value)
        except Exception as err:          # gr-iio: logger.warn("set_params: Unable to write attribute")
            log.warning("set_params: Unable to write attribute %s: %s", attr, err)

    def set_len_tag_key(self, key):
        pass

    def set_frequency(self, f):
        self._write("altvoltage0", True, "frequency", int(f))

    def set_samplerate(self, r):
        self._write("voltage0", False, "sampling_frequency", int(r))

    def set_filter_params(self, *a):
        pass

    def set_gain_mode(self, chan, mode):
        self._write("voltage0", False, "gain_control_mode", self.d_gain_mode)   # the 3.10.5.1 bug
        self.d_gain_mode = mode

    def set_gain(self, chan, g):
        if self.d_gain_mode == "manual":
            self._write("voltage0", False, "hardwaregain", g)

    def set_quadrature(self, v):
        pass

    set_rfdc = set_bbdc = set_quadrature

    def start(self):
        self.starts += 1
        self.pos = int((time.monotonic() - self.t0) * self.rate)   # a new buffer starts "now"
        return True

    def work(self, input_items, output_items):
        out = output_items[0]
        k = min(out.size, self.chunk)
        ready = int((time.monotonic() - self.t0) * self.rate) - self.pos
        if ready < k:
            time.sleep((k - ready) / self.rate)
        out[:k] = np.arange(self.pos, self.pos + k, dtype=np.float32)
        self.pos += k
        return k


class FakeSink(gr.sync_block):
    """Input: complex64. Records every pushed buffer as (monotonic time, samples); settings go to ``ctl``."""

    def __init__(self, ctl, buffer_size: int, cyclic: bool, push_delay_s: float = 0.0):
        gr.sync_block.__init__(self, name="fake_fmcomms2_sink", in_sig=[np.complex64], out_sig=None)
        self.ctl = ctl
        self.buffer_size, self.cyclic, self.push_delay_s = int(buffer_size), bool(cyclic), push_delay_s
        self.set_output_multiple(self.buffer_size)
        self.pushes = []

    def _write(self, chan, output, attr, value):
        try:
            self.ctl.write(chan, output, attr, value)
        except Exception as err:
            log.warning("set_params: Unable to write attribute %s: %s", attr, err)

    def set_len_tag_key(self, key):
        pass

    def set_frequency(self, f):
        self._write("altvoltage1", True, "frequency", int(f))

    def set_bandwidth(self, bw):
        self._write("voltage0", True, "rf_bandwidth", int(bw))

    def set_samplerate(self, r):
        self._write("voltage0", True, "sampling_frequency", int(r))

    def set_attenuation(self, chan, att):
        self._write("voltage0", True, "hardwaregain", -att)

    def set_filter_params(self, *a):
        pass

    def work(self, input_items, output_items):
        x = input_items[0]
        n = x.size - x.size % self.buffer_size
        for i in range(0, n, self.buffer_size):
            time.sleep(self.push_delay_s)
            self.pushes.append((time.monotonic(), np.array(x[i:i + self.buffer_size])))
            if self.cyclic:
                return -1
        return n
