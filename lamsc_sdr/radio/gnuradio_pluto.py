"""``gnuradio-pluto`` backend: the PlutoSDR through GNU Radio's gr-iio blocks.

TX: ``vector_source_c`` (the waveform, repeated) -> ``iio.fmcomms2_sink_fc32`` (cyclic buffer);
RX: ``iio.fmcomms2_source_fc32`` -> ``vector_sink_c`` read ``n`` samples at a time (a fresh
flowgraph run per capture, so no stale samples). Samples are floats at full scale 1 both ways;
TX is scaled by ``10**(-tx_backoff_db/20)`` and clipped at 1. Device errors (gr-iio raises
RuntimeError within ~1 ms when nothing answers) become RadioNotFoundError naming the URI.
"""
from __future__ import annotations

import logging

import numpy as np

from ..errors import RadioNotFoundError, ShapeError
from .base import Radio

log = logging.getLogger(__name__)


class GrPlutoRadio(Radio):
    backend = "gnuradio-pluto"

    def __init__(self, uri: str | None, *, rx_uri: str | None = None, sample_rate: float = 1e6,
                 center_freq: float = 2.4e9, rf_bandwidth: float = 1.5e6, tx_gain: float = -10.0,
                 rx_gain: float = 40.0, gain_control_mode: str = "manual", buffer_size: int = 2 ** 15,
                 tx_backoff_db: float = 12.0):
        super().__init__(sample_rate, center_freq, tx_gain, rx_gain, buffer_size)
        if not uri:
            raise RadioNotFoundError("the gnuradio-pluto backend needs an explicit URI (--uri usb:... or ip:...)")
        from gnuradio import gr
        gr.logging().set_default_level(gr.log_levels.warn)
        self.uri, self.rx_uri = uri, rx_uri or uri
        self.rf_bandwidth = float(rf_bandwidth)
        self.gain_control_mode = gain_control_mode
        self.tx_backoff_db = float(tx_backoff_db)
        self.tx_clipped = 0
        self._tx_tb = None
        self._source = self._make_source()        # fails fast if the device is absent

    def _make_source(self):
        from gnuradio import iio
        try:
            src = iio.fmcomms2_source_fc32(self.rx_uri, [True, True], int(self.buffer_size))
            src.set_len_tag_key("")
            src.set_frequency(int(self.center_freq))
            src.set_samplerate(int(self.sample_rate))
            src.set_gain_mode(0, self.gain_control_mode)
            src.set_gain(0, float(self.rx_gain))
            src.set_quadrature(True)
            src.set_rfdc(True)
            src.set_bbdc(True)
            src.set_filter_params("Auto", "", 0, 0)
            return src
        except RuntimeError as err:
            raise RadioNotFoundError(f"gr-iio cannot reach a PlutoSDR at {self.rx_uri!r}: {err}") from err

    def tx(self, iq: np.ndarray) -> None:
        from gnuradio import blocks, gr, iio
        x = np.asarray(iq)
        if x.ndim != 1 or not np.all(np.isfinite(x)):
            raise ShapeError("tx expects finite (n,) samples")
        y = x.astype(np.complex64) * np.float32(10 ** (-self.tx_backoff_db / 20))
        over = (np.abs(y.real) > 1) | (np.abs(y.imag) > 1)
        if over.any():
            self.tx_clipped += int(over.sum())
            log.warning("gnuradio-pluto TX: %d samples clipped at full scale", int(over.sum()))
            y = np.clip(y.real, -1, 1) + 1j * np.clip(y.imag, -1, 1)
        self.stop_tx()
        try:
            sink = iio.fmcomms2_sink_fc32(self.uri, [True, True], int(y.size), True)
            sink.set_len_tag_key("")
            sink.set_bandwidth(int(self.rf_bandwidth))
            sink.set_frequency(int(self.center_freq))
            sink.set_samplerate(int(self.sample_rate))
            sink.set_attenuation(0, float(-self.tx_gain))
            sink.set_filter_params("Auto", "", 0, 0)
        except RuntimeError as err:
            raise RadioNotFoundError(f"gr-iio cannot reach a PlutoSDR at {self.uri!r}: {err}") from err
        tb = gr.top_block("lamsc pluto tx")
        self._tx_src = blocks.vector_source_c(y.astype(np.complex64).tolist(), False)
        self._tx_sink = sink
        tb.connect(self._tx_src, sink)
        tb.start()
        self._tx_tb = tb

    def stop_tx(self) -> None:
        if self._tx_tb is not None:
            self._tx_tb.stop()
            self._tx_tb.wait()
            self._tx_tb = None
            self._tx_sink = None

    def rx(self, n: int | None = None) -> np.ndarray:
        from gnuradio import blocks, gr
        n = int(self.buffer_size if n is None else n)
        tb = gr.top_block("lamsc pluto rx")
        head = blocks.head(gr.sizeof_gr_complex, n)
        sink = blocks.vector_sink_c()
        tb.connect(self._source, head, sink)
        try:
            tb.run()
        except RuntimeError as err:
            raise RadioNotFoundError(f"PlutoSDR at {self.rx_uri!r} stopped responding during rx: {err}") from err
        y = np.asarray(sink.data(), dtype=np.complex64)
        return self._recorded(y)

    def close(self) -> None:
        if not self._closed:
            self.stop_tx()
            self._source = None
        super().close()

    def settings(self) -> dict:
        d = {"uri": self.uri}
        d.update(super().settings())
        d.update(rf_bandwidth=self.rf_bandwidth, gain_control_mode=self.gain_control_mode)
        return d
