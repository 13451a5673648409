"""``PlutoEmulator``: one or more emulated Plutos served on 127.0.0.1, as a context manager.

>>> with PlutoEmulator(devices=2, snr_db=30, seed=1) as emu:   # doctest: +SKIP
...     sdr = adi.Pluto(emu.uris[0]); peer = adi.Pluto(emu.uris[1])

Each device listens on its own TCP port (``port`` for the first, then the next ports, or free
ports when ``port=0``) and speaks iiod's protocol; all share one :class:`~.air.Air`. A ticker
thread advances every DMA engine every ``TICK_S`` so receive streams keep running (and
overflowing) when no client reads.
"""
from __future__ import annotations

import errno
import logging
import math
import socket
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from .. import __version__
from ..channel import ChannelConfig
from ..errors import ConfigError, LamscError
from .ad9361 import MODELS
from .air import Air
from .device import EmulatedPluto
from .iiod import Connection
from .iio_model import context_xml

log = logging.getLogger(__name__)

DEFAULT_PORT = 30431
TICK_S = 0.02
HOST = "127.0.0.1"


class EmulatorError(LamscError):
    """The emulator cannot start (port in use, bad option)."""


@dataclass(frozen=True)
class EmulatorConfig:
    """What to emulate. ``ppm``: one crystal error per device (None: drawn from N(0, 10 ppm),
    clipped to +-25, with ``seed``); ``channel``: a profile of :mod:`lamsc_sdr.channel` for every
    link; ``snr_db``: SNR at the RX input of a 0 dBFS TX waveform at 0 dB TX attenuation;
    ``path_loss_db``: DAC to RX input; ``lo_leakage_dbc``: TX LO leakage at 0 dB attenuation
    relative to a full-scale carrier (None: off)."""

    devices: int = 1
    port: int = DEFAULT_PORT
    ppm: tuple[float, ...] | None = None
    model: str = "ad9363a"
    channel: str = "awgn"
    snr_db: float = 60.0
    path_loss_db: float = 50.0
    delay_spread_ns: float = 100.0
    lo_leakage_dbc: float | None = -50.0
    seed: int = 0
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if not 1 <= int(self.devices) <= 16:
            raise ConfigError(f"emulator.devices: must be 1..16, got {self.devices}")
        if not 0 <= int(self.port) <= 65535 or (self.port and self.port + self.devices - 1 > 65535):
            raise ConfigError(f"emulator.port: must be 0 (any free port) or 1..65535, got {self.port}")
        if self.model not in MODELS:
            raise ConfigError(f"emulator.model: {self.model!r} is not one of {', '.join(MODELS)}")
        if self.ppm is not None:
            if len(self.ppm) != self.devices:
                raise ConfigError(f"emulator.ppm: {len(self.ppm)} values for {self.devices} devices")
            for p in self.ppm:
                if not (math.isfinite(p) and abs(p) <= 200):
                    raise ConfigError(f"emulator.ppm: {p} is not a crystal error within +-200 ppm")
        if not math.isfinite(self.snr_db) or not math.isfinite(self.path_loss_db):
            raise ConfigError("emulator.snr_db and emulator.path_loss_db must be finite")
        if self.lo_leakage_dbc is not None and not -200 <= self.lo_leakage_dbc <= 0:
            raise ConfigError(f"emulator.lo_leakage_dbc: must be in -200..0 dBc or None, got {self.lo_leakage_dbc}")
        ChannelConfig(model=self.channel, snr_db=math.inf, delay_spread_ns=self.delay_spread_ns)

    def ppms(self) -> list[float]:
        if self.ppm is not None:
            return [float(p) for p in self.ppm]
        rng = np.random.default_rng([self.seed, 0x99])
        return [float(np.clip(rng.normal(0, 10), -25, 25)) for _ in range(self.devices)]


class _Listener:
    """Accepts clients for one device on 127.0.0.1:port."""

    def __init__(self, emu: "PlutoEmulator", dev: EmulatedPluto, port: int):
        self.emu, self.dev = emu, dev
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((HOST, port))
        except OSError as err:
            self.sock.close()
            if err.errno == errno.EADDRINUSE:
                raise EmulatorError(f"port {port} on {HOST} is already in use (another emulator or iiod?); "
                                    f"choose another with --port, or --port 0 for any free port") from err
            raise EmulatorError(f"cannot listen on {HOST}:{port}: {err.strerror}") from err
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.clients: set[socket.socket] = set()
        self.thread = threading.Thread(target=self._accept, name=f"pluto{dev.index}-accept", daemon=True)

    def _accept(self) -> None:
        while not self.emu.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.clients.add(conn)
            c = Connection(conn, self.dev, self.emu.xml(self.dev), lambda: self.emu.stopping)
            threading.Thread(target=self._serve, args=(c, conn), name=f"pluto{self.dev.index}-client",
                             daemon=True).start()

    def _serve(self, c: Connection, conn: socket.socket) -> None:
        try:
            c.serve()
        except Exception:          # a bug must not take the emulator down: log it, drop that client
            log.exception("emulated pluto %d: client handler failed", self.dev.index)
            c.cleanup()
        finally:
            self.clients.discard(conn)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
        for conn in list(self.clients):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class PlutoEmulator:
    """Emulated Plutos on 127.0.0.1. Use as a context manager (or ``start()`` / ``stop()``).

    Attributes after start: ``uris`` (one ``ip:127.0.0.1:PORT`` per device), ``uri`` (the first),
    ``devices`` (:class:`~.device.EmulatedPluto`: ``ppm``, ``phy``, ``stats()``), ``air``.
    Keyword arguments are the fields of :class:`EmulatorConfig`.
    """

    def __init__(self, config: EmulatorConfig | None = None, **kw):
        if config is not None and kw:
            raise ConfigError("give either an EmulatorConfig or keyword arguments, not both")
        if "ppm" in kw and kw["ppm"] is not None and not isinstance(kw["ppm"], (list, tuple)):
            kw["ppm"] = (float(kw["ppm"]),) * int(kw.get("devices", 1))
        if "ppm" in kw and kw["ppm"] is not None:
            kw["ppm"] = tuple(float(p) for p in kw["ppm"])
        self.config = config or EmulatorConfig(**kw)
        self.stopping = False
        self.devices: list[EmulatedPluto] = []
        self._listeners: list[_Listener] = []
        self._ticker: threading.Thread | None = None
        self._xml: dict[int, bytes] = {}

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self) -> "PlutoEmulator":
        cfg = self.config
        chan = ChannelConfig(model=cfg.channel, snr_db=math.inf, delay_spread_ns=cfg.delay_spread_ns)
        self.air = Air(chan, path_loss_db=cfg.path_loss_db, snr_db=cfg.snr_db, seed=cfg.seed,
                       lo_leakage=cfg.lo_leakage_dbc)
        for i, ppm in enumerate(cfg.ppms()):
            dev = EmulatedPluto(i, self.air, model=cfg.model, ppm=ppm, seed=cfg.seed)
            self.air.attach(dev)
            self.devices.append(dev)
        try:
            for i, dev in enumerate(self.devices):
                port = cfg.port + i if cfg.port else 0
                self._listeners.append(_Listener(self, dev, port))
        except EmulatorError:
            self.stop()
            raise
        for lst in self._listeners:
            lst.thread.start()
        self._ticker = threading.Thread(target=self._tick, name="pluto-ticker", daemon=True)
        self._ticker.start()
        return self

    def stop(self) -> None:
        self.stopping = True
        for lst in self._listeners:
            lst.close()
        if self._ticker is not None:
            self._ticker.join(timeout=2)

    def __enter__(self) -> "PlutoEmulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _tick(self) -> None:
        while not self.stopping:
            for dev in self.devices:
                try:
                    dev.tick()
                except Exception:           # keep ticking the other devices
                    log.exception("emulated pluto %d: tick failed", dev.index)
            time.sleep(TICK_S)

    # --- what clients see ---------------------------------------------------------------------
    @property
    def ports(self) -> list[int]:
        return [lst.port for lst in self._listeners]

    @property
    def uris(self) -> list[str]:
        return [f"ip:{HOST}:{p}" for p in self.ports]

    @property
    def uri(self) -> str:
        return self.uris[0]

    def context_attrs(self, dev: EmulatedPluto) -> dict[str, str]:
        return {"hw_model": "Analog Devices PlutoSDR Rev.C (Z7010-AD9363A)", "hw_model_variant": "0",
                "hw_serial": dev.serial, "fw_version": "v0.38",
                "ad9361-phy,xo_correction": str(dev.phy.xo_correction), "ad9361-phy,model": dev.phy.model,
                "local,kernel": "5.15.0-lamsc-emulated", "emulator": f"lamsc_sdr {__version__} PlutoEmulator"}

    def xml(self, dev: EmulatedPluto) -> bytes:
        if dev.index not in self._xml:
            desc = f"Linux pluto 5.15.0-lamsc-emulated #1 SMP PREEMPT armv7l (lamsc_sdr emulator, device {dev.index})"
            self._xml[dev.index] = context_xml(dev.devices, self.context_attrs(dev), desc,
                                               (0, 24, "emulate")).encode()
        return self._xml[dev.index]

    def __repr__(self) -> str:
        c = self.config
        return (f"PlutoEmulator(uris={self.uris if self._listeners else '(not started)'}, model={c.model!r}, "
                f"ppm={[round(d.ppm, 3) for d in self.devices]}, channel={c.channel!r}, snr_db={c.snr_db}, "
                f"path_loss_db={c.path_loss_db})")
