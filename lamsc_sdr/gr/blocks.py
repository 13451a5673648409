"""GNU Radio blocks for lamsc frames: thin shells over :mod:`lamsc_sdr.transport` and the PHY.

- :class:`FrameSource`: a stream of lamsc frames carrying a text message (repeated with new
  message ids), bursts separated by ``frame.gap_samples`` zeros; finishes after ``n_frames``
  frames (0: never), which ends a flowgraph. Any GNU Radio app can also send through it: a PDU
  (``pmt.cons(meta, u8vector)``, e.g. from ``socket_pdu`` or ``message_strobe``) on the ``pdus``
  input port is sent as one more message (its UTF-8 text) as soon as the current burst ends.
  With ``message=''`` (or ``idle=True``) the block never finishes and sends zeros while it has
  nothing to send; ``delay`` zeros go out before the first frame (a receiver in the same
  flowgraph settles first). ``pad_to=B`` ends a finite transmission with zeros up to a whole number of
  ``B``-sample buffers plus one more: gr-iio's non-cyclic Pluto sink only pushes whole buffers,
  so without it the tail of the last frames never reaches the radio.
- :class:`FrameSink`: pushes its input into a :class:`~lamsc_sdr.phy.frame.FrameReceiver`,
  reassembles messages, publishes one PMT dict per detected frame on the ``frames`` message port
  and one PDU per completed message on ``pdus`` (``meta`` = message id, segments, SNR; the
  payload is the message's UTF-8 text as a u8vector) and, on stop, writes the results JSON (same
  shape as ``lamsc link --json``) to ``json_path``.

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
    """Output: complex64 stream of frames (unit average power times ``amplitude``).
    Message input ``pdus``: PDUs whose payload (u8vector, UTF-8) is sent as a message."""

    def __init__(self, message: str = "Hello from lamsc_sdr over GNU Radio", n_frames: int = 10,
                 config: str = "", amplitude: float = 1.0, codec: str = "digital", pad_to: int = 0,
                 idle: bool = False, delay: int = 0):
        gr.sync_block.__init__(self, name="lamsc_frame_source", in_sig=None, out_sig=[np.complex64])
        import pmt
        from ..transport import Sender, load_semantic
        cfg = _cfg(config)
        self._pmt = pmt
        self.sender = Sender(cfg.frame, codec, load_semantic(codec, cfg))
        self.message = message
        self.n_frames = int(n_frames)
        self.amplitude = np.float32(amplitude)
        self.pad_to = int(pad_to)
        self.idle = bool(idle) or not message
        self.frames_sent = 0
        self.produced = 0
        self._next_id = 1
        self._padded = False
        self._buf = np.zeros(max(0, int(delay)), np.complex64)     # silence before the first frame
        self._pdus: list[str] = []
        self.message_port_register_in(pmt.intern("pdus"))
        self.set_msg_handler(pmt.intern("pdus"), self._on_pdu)

    def _on_pdu(self, msg) -> None:
        pmt = self._pmt
        data = pmt.cdr(msg) if pmt.is_pair(msg) else msg
        if pmt.is_u8vector(data):
            text = bytes(pmt.u8vector_elements(data)).decode("utf-8", errors="replace")
        elif pmt.is_symbol(data):
            text = pmt.symbol_to_string(data)
        else:
            log.warning("lamsc_frame_source: ignoring a message that is neither a PDU nor a symbol")
            return
        self._pdus.append(text)

    def _plan(self, text: str, limit: int = 0) -> int:
        plan = self.sender.plan([text], first_id=self._next_id)
        self._next_id = (self._next_id + 1) & 0xFFFF or 1
        n = len(plan.frames) if not limit else min(len(plan.frames), limit)
        end = plan.frames[n - 1].start + plan.frames[n - 1].length + self.sender.frame_cfg.gap_samples
        self._buf = (plan.iq[:end] * self.amplitude).astype(np.complex64)
        return n

    def _refill(self, room: int) -> bool:
        if self._pdus:
            self.frames_sent += self._plan(self._pdus.pop(0))
            return True
        if self.message and not (self.n_frames and self.frames_sent >= self.n_frames):
            self.frames_sent += self._plan(self.message, self.n_frames - self.frames_sent if self.n_frames else 0)
            return True
        if self.idle:
            self._buf = np.zeros(min(room, 4096), np.complex64)
            return True
        if self.pad_to and not self._padded:      # whole buffers for gr-iio's non-cyclic sink, plus one
            self._padded = True
            self._buf = np.zeros(-self.produced % self.pad_to + self.pad_to, np.complex64)
            return True
        return False

    def work(self, input_items, output_items):
        out = output_items[0]
        if self._buf.size == 0 and not self._refill(out.size):
            return -1  # WORK_DONE: all frames sent
        k = min(out.size, self._buf.size)
        out[:k] = self._buf[:k]
        self._buf = self._buf[k:]
        self.produced += k
        return k


class FrameSink(gr.sync_block):
    """Input: complex64 stream. Message port ``frames``: one dict per detected frame."""

    def __init__(self, config: str = "", json_path: str = "", expected_frames: int = 0, codec: str = "digital",
                 verbose: bool = True, dc_block: bool = False):
        gr.sync_block.__init__(self, name="lamsc_frame_sink", in_sig=[np.complex64], out_sig=None)
        import pmt
        from ..transport import Reassembler, load_semantic, make_receiver
        self._pmt = pmt
        self.cfg = _cfg(config)
        self.receiver = make_receiver(self.cfg, codec)
        self.receiver.dc_block = self.receiver.dc_block or bool(dc_block)   # behind a radio's receive chain
        self.reassembler = Reassembler(codec, load_semantic(codec, self.cfg))
        self.json_path = json_path
        self.expected_frames = int(expected_frames)
        self.verbose = bool(verbose)
        self.frames: list = []
        self.samples = 0
        self._finished = False
        self._published: set[int] = set()
        self.message_port_register_out(pmt.intern("frames"))
        self.message_port_register_out(pmt.intern("pdus"))

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
            mid = d["message_id"]
            if h is not None and mid not in self._published and self.reassembler.complete(mid):
                self._published.add(mid)
                self._publish(mid, fr)

    def _publish(self, mid: int, fr) -> None:
        """One PDU per completed message: (meta, u8vector of the UTF-8 text)."""
        pmt = self._pmt
        text = self.reassembler.text(mid) or ""
        meta = {"message_id": int(mid), "segments": int(self.reassembler.counts[mid]),
                "snr_db": float(fr.snr_db), "cfo_hz": float(fr.cfo_hz)}
        payload = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
        self.message_port_pub(pmt.intern("pdus"), pmt.cons(pmt.to_pmt(meta), pmt.init_u8vector(payload.size, payload.tolist())))

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
