"""An emulated ADALM-Pluto that the unmodified libiio, pyadi-iio and gr-iio talk to over the network.

It is a device, not a radio backend: ``lamsc_sdr.radio`` talks to it through the same
``ip:127.0.0.1:PORT`` URI as to hardware and does not know it is there. Layers: the iiod text
protocol (:mod:`.iiod`), the IIO tree of a Pluto (:mod:`.tree`, :mod:`.ad9361`), the DMA engines
clocked by the wall clock (:mod:`.dma`), one device's RX chain (:mod:`.device`) and the air
between devices built on :mod:`lamsc_sdr.channel` (:mod:`.air`). See docs/EMULATOR.md.
"""
from .process import EmulatorProcess
from .server import DEFAULT_PORT, EmulatorConfig, EmulatorError, PlutoEmulator

__all__ = ["PlutoEmulator", "EmulatorProcess", "EmulatorConfig", "EmulatorError", "DEFAULT_PORT"]
