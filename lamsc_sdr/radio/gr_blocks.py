"""GNU Radio blocks for lamsc frames: thin shells over :mod:`lamsc_sdr.transport` and the PHY.

- :class:`FrameSource`: a stream of lamsc frames carrying a text message (repeated with new
  message ids), bursts separated by ``frame.gap_samples`` zeros; finishes after ``n_frames``
  frames (0: never), which ends a flowgraph.
- :class:`FrameSink`: pushes its input into a :class:`~lamsc_sdr.phy.frame.FrameReceiver`,
  reassembles messages, publishes one PMT dict per detected frame on the ``frames`` message port
  and, on stop, writes the results JSON (same shape as ``lamsc link --json``) to ``json_path``.

Every constructor argument has a default (GRC and ``flowgraphs/blocks/*.block.yml`` rely on it).
``config`` is a run-config YAML path ('' = built-in defaults). No signal processing here.
"""
from __future__ import annotations

import logging

import numpy as np
from gnuradio import gr

log = logging.getLogger(__name__)


def _cfg(config: str):
    from ..config import load_config
    return load_config(config or None)


class FrameSource(gr.sync_block):
    """Output: complex64 stream of frames (unit average power times ``amplitude``)."""

    def __init__(self, message: str = "Hello from lamsc_sdr over GNU Radio", n_frames: int = 10,
                 config: str = "", amplitude: float = 1.0, codec: str = "digital"):
        gr.sync_block.__init__(self, name="lamsc_frame_source", in_sig=None, out_sig=[np.complex64])
        from ..transport import Sender, load_semantic
        cfg = _cfg(config)
        self.sender = Sender(cfg.frame, codec, load_semantic(codec, cfg))
        self.message = message
        self.n_frames = int(n_frames)
        self.amplitude = np.float32(amplitude)
        self.frames_sent = 0
        self._next_id = 1
        self._buf = np.zeros(0, np.complex64)

    def _refill(self) -> bool:
        if self.n_frames and self.frames_sent >= self.n_frames:
            return False
        plan = self.sender.plan([self.message], first_id=self._next_id)
        self._next_id = (self._next_id + 1) & 0xFFFF or 1
        n = len(plan.frames) if not self.n_frames else min(len(plan.frames), self.n_frames - self.frames_sent)
        end = plan.frames[n - 1].start + plan.frames[n - 1].length + self.sender.frame_cfg.gap_samples
        self._buf = (plan.iq[:end] * self.amplitude).astype(np.complex64)
        self.frames_sent += n
        return True

    def work(self, input_items, output_items):
        out = output_items[0]
        if self._buf.size == 0 and not self._refill():
            return -1  # WORK_DONE: all frames sent
        k = min(out.size, self._buf.size)
        out[:k] = self._buf[:k]
        self._buf = self._buf[k:]
        return k


class FrameSink(gr.sync_block):
    """Input: complex64 stream. Message port ``frames``: one dict per detected frame."""

    def __init__(self, config: str = "", json_path: str = "", expected_frames: int = 0, codec: str = "digital",
                 verbose: bool = True):
        gr.sync_block.__init__(self, name="lamsc_frame_sink", in_sig=[np.complex64], out_sig=None)
        import pmt
        from ..transport import Reassembler, load_semantic, make_receiver
        self._pmt = pmt
        self.cfg = _cfg(config)
        self.receiver = make_receiver(self.cfg, codec)
        self.reassembler = Reassembler(codec, load_semantic(codec, self.cfg))
        self.json_path = json_path
        self.expected_frames = int(expected_frames)
        self.verbose = bool(verbose)
        self.frames: list = []
        self.samples = 0
        self._finished = False
        self.message_port_register_out(pmt.intern("frames"))

    def _handle(self, frames) -> None:
        pmt = self._pmt
        for fr in frames:
            self.reassembler.add(fr)
            self.frames.append(_light(fr))
            h = fr.header
            d = {"start": int(fr.start), "crc_ok": bool(fr.crc_ok), "snr_db": float(fr.snr_db),
                 "cfo_hz": float(fr.cfo_hz), "message_id": int(h.message_id) if h else -1,
                 "segment_index": int(h.segment_index) if h else -1}
            self.message_port_pub(pmt.intern("frames"), pmt.to_pmt(d))
            if self.verbose:
                log.info("lamsc frame %s", d)

    def work(self, input_items, output_items):
        x = input_items[0]
        self._handle(self.receiver.push(np.array(x, dtype=np.complex64)))
        self.samples += x.size
        return x.size

    def finish(self) -> dict:
        """Flush the receiver and return (and write) the results."""
        from ..transport import results
        if not self._finished:
            self._finished = True
            self._handle(self.receiver.push(np.zeros(4 * self.cfg.frame.fft_size * 40, np.complex64)))
        msgs = [{"message_id": m, "text": None} for m in sorted(self.reassembler.counts)]
        res = results(msgs, self.frames, self.reassembler, self.expected_frames, self.samples, self.receiver.stats)
        if self.json_path:
            from ..provenance import write_json
            write_json(self.json_path, res, self.cfg)
        return res

    def stop(self) -> bool:
        try:
            self.finish()
        except Exception:  # never raise out of the scheduler thread
            log.exception("lamsc_frame_sink: writing results failed")
        return True


def _light(fr):
    """A frame with the large arrays dropped (keeps memory flat in long runs)."""
    import dataclasses
    return dataclasses.replace(fr, grid=None, h_hat=None, h_true=None, symbols=None, noise_var=None)
