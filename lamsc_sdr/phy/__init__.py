"""Physical layer: OFDM grid, pilots, preamble/sync, header, QAM/FEC, frame TX/RX."""
from .grid import ResourceGrid
from .pilots import PilotPattern, zadoff_chu

__all__ = ["ResourceGrid", "PilotPattern", "zadoff_chu"]
