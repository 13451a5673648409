"""Physical layer: OFDM grid, pilots, preamble/sync, header, QAM/FEC, frame TX/RX.

The frame classes import the estimation package lazily (it depends on ``phy.config``), so
``from lamsc_sdr.phy import FrameReceiver`` is cheap and cycle-free.
"""
from .grid import ResourceGrid
from .pilots import PilotPattern, zadoff_chu

__all__ = ["ResourceGrid", "PilotPattern", "zadoff_chu", "FrameHeader", "FrameTransmitter",
           "FrameReceiver", "RxFrame"]


def __getattr__(name):
    if name in ("FrameTransmitter", "FrameReceiver", "RxFrame", "ReceiverStats"):
        from . import frame
        return getattr(frame, name)
    if name == "FrameHeader":
        from .header import FrameHeader
        return FrameHeader
    raise AttributeError(name)
