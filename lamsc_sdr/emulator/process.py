"""The emulator in a child process: ``with EmulatorProcess(devices=2) as emu: emu.uris``.

Needed whenever the client holds Python's GIL while it waits for the device: gr-iio's blocks are
pybind11 bindings that keep the GIL during construction and ``start()``, so an emulator thread
in the same interpreter could not answer and libiio would time out (after 5 s, as with an
unreachable Pluto). pyadi-iio and pylibiio release the GIL (ctypes), so they can also use the
in-process :class:`~.server.PlutoEmulator`.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

from .server import EmulatorError

_READY = re.compile(r"ready ((?:ip:127\.0\.0\.1:\d+ ?)+)")


class EmulatorProcess:
    """Runs ``lamsc emulate pluto`` with these options in a child process (``port=0``: free ports).

    Keywords: ``devices``, ``port``, ``ppm`` (list), ``model``, ``channel``, ``snr_db``,
    ``path_loss_db``, ``seed``, ``lo_leakage_dbc`` (None: off). After ``start()``: ``uris``, ``uri``, ``pid``; ``stop()`` sends
    SIGTERM and returns the child's exit code; ``output`` holds what it printed.
    """

    def __init__(self, devices: int = 1, port: int = 0, ppm=None, model: str = "ad9363a", channel: str = "awgn",
                 snr_db: float = 60.0, path_loss_db: float = 50.0, seed: int = 0, timeout: float = 30.0,
                 lo_leakage_dbc: float | None = -50.0):
        self.args = [sys.executable, "-m", "lamsc_sdr.cli", "emulate", "pluto", "--port", str(port),
                     "--devices", str(devices), "--model", model, "--channel", channel, "--snr", str(snr_db),
                     "--path-loss", str(path_loss_db), "--seed", str(seed),
                     "--lo-leakage=" + ("off" if lo_leakage_dbc is None else str(float(lo_leakage_dbc)))]
        if ppm is not None:
            self.args += ["--ppm", ",".join(str(float(p)) for p in ppm)]
        self.timeout = float(timeout)
        self.proc: subprocess.Popen | None = None
        self.uris: list[str] = []
        self.output: list[str] = []

    @property
    def uri(self) -> str:
        return self.uris[0]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def start(self) -> "EmulatorProcess":
        env = dict(os.environ)
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        ready = threading.Event()

        def pump():
            for line in self.proc.stdout:
                self.output.append(line.rstrip("\n"))
                m = _READY.search(line)
                if m and not ready.is_set():
                    self.uris = m.group(1).split()
                    ready.set()
            ready.set()
        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + self.timeout
        while not ready.wait(0.05):
            if time.monotonic() > deadline:
                self.stop()
                raise EmulatorError(f"emulator did not start within {self.timeout} s")
        if not self.uris:
            code = self.proc.wait()
            raise EmulatorError(f"emulator exited with {code}: {' | '.join(self.output[-3:])}")
        return self

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def __enter__(self) -> "EmulatorProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
