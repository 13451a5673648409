"""libiio's network protocol (iiod, text mode) for one emulated device, one client connection.

Written from the behaviour described by libiio v0.24's ``iiod/`` (parser, ops) and its network
client. Each command is one line; every reply starts with a decimal integer line (a length, or
``-errno`` on failure):

- ``VERSION`` -> ``0.24.emulate``; ``PRINT`` -> length, context XML; ``ZPRINT`` -> ``-22`` (no
  zstd here: the client falls back to PRINT); ``TIMEOUT ms`` -> 0; ``HELP``; ``EXIT``/``QUIT``.
- ``READ dev [DEBUG|BUFFER|INPUT ch|OUTPUT ch] attr`` -> length (value and its NUL), the value,
  ``\\n``. Without ``attr``: every attribute, each as a big-endian 32-bit length and the value
  padded to 4 bytes.
- ``WRITE dev [...] attr LEN`` + LEN bytes -> bytes written or ``-errno``.
- ``OPEN dev samples MASK [CYCLIC]`` -> 0; ``CLOSE dev`` -> 0; a device already opened by another
  client -> ``-16`` (EBUSY).
- ``READBUF dev N`` -> for each block: its length, the channel mask (first block only), the data.
- ``WRITEBUF dev N`` -> 0, then the client sends N bytes, then -> N (or ``-errno``).
- ``GETTRIG``/``SETTRIG`` (a Pluto has no trigger: ``-2``), ``SET dev BUFFERS_COUNT n``.

A line the grammar does not accept gets ``-22`` and the connection goes on.
"""
from __future__ import annotations

import errno
import logging
import socket
import struct
import time

import numpy as np

from .device import RX_DEV, TX_DEV
from .dma import RX_OVERFLOW
from .iio_model import IioDevice, IioError

log = logging.getLogger(__name__)

MAX_LINE = 4096
MAX_ATTR_WRITE = 1 << 20
MAX_SAMPLES = 1 << 24
VERSION_LINE = "0.24.emulate\n"
HELP = ("Available commands:\n\n\tHELP\n\tEXIT\n\tPRINT\n\tZPRINT\n\tVERSION\n\tTIMEOUT <timeout_ms>\n"
        "\tOPEN <device> <samples_count> <mask> [CYCLIC]\n\tCLOSE <device>\n"
        "\tREAD <device> DEBUG|BUFFER|[INPUT|OUTPUT <channel>] [<attribute>]\n"
        "\tWRITE <device> DEBUG|BUFFER|[INPUT|OUTPUT <channel>] [<attribute>] <bytes_count>\n"
        "\tREADBUF <device> <bytes_count>\n\tWRITEBUF <device> <bytes_count>\n"
        "\tGETTRIG <device>\n\tSETTRIG <device> [<trigger>]\n\tSET <device> BUFFERS_COUNT <count>\n")
_KEYWORDS = ("VERSION", "PRINT", "ZPRINT", "EXIT", "QUIT", "HELP", "TIMEOUT", "OPEN", "CLOSE", "READ",
             "READBUF", "WRITEBUF", "WRITE", "SETTRIG", "GETTRIG", "SET")


class _Syntax(Exception):
    """The line does not parse: reply -EINVAL."""


class _Closed(Exception):
    """The client went away (or the server stops)."""


class Connection:
    """Serves one client socket for ``device`` (an :class:`~.device.EmulatedPluto`)."""

    def __init__(self, sock: socket.socket, device, xml: bytes, stopping):
        self.sock = sock
        self.dev = device
        self.xml = xml
        self.stopping = stopping            # callable -> bool
        self.rfile = sock.makefile("rb", buffering=1 << 16)
        self.opened: dict[str, int] = {}    # device name -> mask
        self.by_id = {d.id: d for d in device.devices}
        self.by_id.update({d.name: d for d in device.devices})

    # --- I/O ----------------------------------------------------------------------------------
    def send(self, data) -> None:
        try:
            self.sock.sendall(data)
        except OSError as err:
            raise _Closed(str(err)) from err

    def reply(self, value: int) -> None:
        self.send(f"{int(value)}\n".encode())

    def read_exact(self, n: int) -> bytearray:
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            try:
                k = self.rfile.readinto(view[got:])
            except OSError as err:
                raise _Closed(str(err)) from err
            if not k:
                raise _Closed("client closed mid-payload")
            got += k
        return buf

    def serve(self) -> None:
        try:
            while not self.stopping():
                try:
                    line = self.rfile.readline(MAX_LINE + 1)
                except OSError:
                    break
                if not line:
                    break
                if len(line) > MAX_LINE and not line.endswith(b"\n"):
                    self._skip_line()
                    self.reply(-errno.EINVAL)
                    continue
                try:
                    if self.dispatch(line.decode("latin-1").rstrip("\n").rstrip("\r")) is False:
                        break
                except _Syntax:
                    self.reply(-errno.EINVAL)
        except _Closed as err:
            log.debug("client %s gone: %s", self.dev.index, err)
        finally:
            self.cleanup()

    def _skip_line(self) -> None:
        while True:
            chunk = self.rfile.readline(MAX_LINE)
            if not chunk or chunk.endswith(b"\n"):
                return

    def cleanup(self) -> None:
        for name in list(self.opened):
            self._close(name)
        for f in (self.rfile, self.sock):
            try:
                f.close()
            except OSError:
                pass

    # --- parsing ------------------------------------------------------------------------------
    def dispatch(self, text: str):
        log.debug("pluto%d <- %r", self.dev.index, text[:200])
        if not text.strip(" \t"):
            return None                       # an empty line is a no-op (the client sends "\r\n")
        if text[0] in " \t":
            raise _Syntax
        parts = text.split()
        cmd = parts[0]
        if cmd not in _KEYWORDS and cmd.upper() not in _KEYWORDS or (cmd != cmd.upper() and cmd != cmd.lower()):
            raise _Syntax
        cmd = cmd.upper()
        args = parts[1:]
        if cmd in ("VERSION", "PRINT", "ZPRINT", "EXIT", "QUIT", "HELP") and args:
            raise _Syntax
        if cmd == "VERSION":
            self.send(VERSION_LINE.encode())
        elif cmd == "PRINT":
            self.send(f"{len(self.xml)}\n".encode() + self.xml + b"\n")
        elif cmd == "ZPRINT":
            self.reply(-errno.EINVAL)
        elif cmd in ("EXIT", "QUIT"):
            return False
        elif cmd == "HELP":
            self.send(HELP.encode())
        elif cmd == "TIMEOUT":
            if len(args) != 1:
                raise _Syntax
            self.reply(0)
        else:
            if not args:
                raise _Syntax
            getattr(self, "cmd_" + cmd.lower())(args)
        return None

    def _device(self, name: str) -> IioDevice | None:
        return self.by_id.get(name)

    @staticmethod
    def _target(dev: IioDevice, rest: list[str]):
        """Split ``[DEBUG|BUFFER|INPUT ch|OUTPUT ch] [attr]`` -> (attr table or None, attr or None)."""
        kind = rest[0].upper() if rest and rest[0] in ("DEBUG", "debug", "BUFFER", "buffer", "INPUT", "input",
                                                      "OUTPUT", "output") else None
        if kind in ("DEBUG", "BUFFER"):
            table = dev.debug_attrs if kind == "DEBUG" else dev.buffer_attrs
            rest = rest[1:]
        elif kind in ("INPUT", "OUTPUT"):
            if len(rest) < 2:
                raise _Syntax
            ch = dev.channel(rest[1], kind == "OUTPUT")
            if ch is None:
                raise IioError(errno.ENXIO, f"no channel {rest[1]}")
            table = ch.attrs
            rest = rest[2:]
        else:
            table = dev.attrs
        if len(rest) > 1:
            raise _Syntax
        return table, (rest[0] if rest else None)

    # --- attributes ---------------------------------------------------------------------------
    def cmd_read(self, args: list[str]) -> None:
        dev = self._device(args[0])
        if dev is None:
            self.reply(-errno.ENODEV)
            return
        try:
            table, attr = self._target(dev, args[1:])
            if attr is None:
                self._read_all(table)
                return
            a = table.get(attr)
            if a is None:
                raise IioError(errno.ENOENT, f"no attribute {attr}")
            value = a.read().encode() + b"\0"
        except IioError as err:
            self.reply(-err.code)
            return
        self.send(f"{len(value)}\n".encode() + value + b"\n")

    def _read_all(self, table) -> None:
        out = bytearray()
        for a in table.values():
            try:
                v = a.read().encode() + b"\0"
                out += struct.pack(">i", len(v)) + v + b"\0" * (-len(v) % 4)
            except IioError as err:
                out += struct.pack(">i", -err.code)
        self.send(f"{len(out)}\n".encode() + bytes(out) + b"\n")

    def cmd_write(self, args: list[str]) -> None:
        try:
            length = int(args[-1])
        except ValueError:
            raise _Syntax from None
        if length < 0 or length > MAX_ATTR_WRITE or len(args) < 2:
            raise _Syntax
        payload = self.read_exact(length)
        dev = self._device(args[0])
        if dev is None:
            self.reply(-errno.ENODEV)
            return
        try:
            table, attr = self._target(dev, args[1:-1])
            if attr is None:
                raise IioError(errno.ENOSYS, "writing every attribute at once is not supported")
            a = table.get(attr)
            if a is None:
                raise IioError(errno.ENOENT, f"no attribute {attr}")
            a.write(payload.decode("utf-8", errors="replace"))
        except IioError as err:
            log.debug("WRITE %s -> %s", " ".join(args), err)
            self.reply(-err.code)
            return
        self.reply(length)

    # --- buffers ------------------------------------------------------------------------------
    def cmd_open(self, args: list[str]) -> None:
        if len(args) not in (3, 4) or (len(args) == 4 and args[3] not in ("CYCLIC", "cyclic")):
            raise _Syntax
        dev = self._device(args[0])
        if dev is None:
            self.reply(-errno.ENODEV)
            return
        try:
            n = int(args[1])
        except ValueError:
            raise _Syntax from None
        self.reply(self._open(dev, n, args[2], len(args) == 4))

    def _open(self, dev: IioDevice, n: int, mask_hex: str, cyclic: bool) -> int:
        emu = self.dev
        if dev.name not in (RX_DEV, TX_DEV):
            return -errno.EINVAL
        if len(mask_hex) != dev.mask_words * 8:
            return -errno.EINVAL
        try:
            mask = int(mask_hex, 16)
        except ValueError:
            return -errno.EINVAL
        sel = [i for i, ch in enumerate(dev.channels) if ch.scan is not None and mask >> i & 1]
        if not sel:
            return -errno.EINVAL
        if not 1 <= n <= MAX_SAMPLES:
            return -errno.ENOMEM if n > MAX_SAMPLES else -errno.EINVAL
        with emu.lock:
            if emu.owners.get(dev.name) is not None:
                return -errno.EBUSY
            if dev.name == RX_DEV:
                if cyclic:
                    return -errno.EINVAL
                emu.open_rx(n, sel)
            else:
                emu.open_tx(n, sel, cyclic)
            emu.owners[dev.name] = self
            self.opened[dev.name] = mask
        return 0

    def cmd_close(self, args: list[str]) -> None:
        if len(args) != 1:
            raise _Syntax
        dev = self._device(args[0])
        if dev is None:
            self.reply(-errno.ENODEV)
            return
        if dev.name not in self.opened:
            self.reply(-errno.ENXIO)
            return
        self._close(dev.name)
        self.reply(0)

    def _close(self, name: str) -> None:
        emu = self.dev
        self.opened.pop(name, None)
        with emu.lock:
            if emu.owners.get(name) is self:
                emu.owners[name] = None
                if name == RX_DEV:
                    emu.close_rx()
                else:
                    emu.close_tx()

    def _buffer_cmd(self, args: list[str], want: str):
        """Parse ``dev N`` of READBUF/WRITEBUF; reply the error and return None if it is not ours."""
        if len(args) != 2:
            raise _Syntax
        dev = self._device(args[0])
        try:
            nbytes = int(args[1])
        except ValueError:
            raise _Syntax from None
        if dev is None:
            self.reply(-errno.ENODEV)
        elif dev.name not in self.opened:
            self.reply(-errno.EBADF)
        elif dev.name != want:
            self.reply(-errno.EPERM)
        elif not 0 <= nbytes <= 4 * MAX_SAMPLES:
            self.reply(-errno.EINVAL)
        else:
            return dev, nbytes
        return None

    def cmd_readbuf(self, args: list[str]) -> None:
        got = self._buffer_cmd(args, RX_DEV)
        if got is None:
            return
        dev, nbytes = got
        emu = self.dev
        stream = emu.rx_stream
        sample_size = 2 * len(emu.rx_sel)
        if nbytes < sample_size:
            self.reply(0)
            return
        mask_line = f"{self.opened[dev.name]:0{dev.mask_words * 8}x}\n".encode()
        remaining = nbytes
        first = True
        while remaining >= sample_size:
            block = self._next_block(stream)
            data = memoryview(block).cast("B")
            take = min(len(data), remaining - remaining % sample_size)
            head = f"{take}\n".encode() + (mask_line if first else b"")
            self.send(head)
            self.send(data[:take])
            first = False
            remaining -= take
        if remaining:
            self.reply(0)

    def _next_block(self, stream) -> np.ndarray:
        emu = self.dev
        with emu.lock:
            if stream.release(emu.clock()):
                emu.status[RX_DEV] |= RX_OVERFLOW
        while True:
            if self.stopping() or emu.rx_stream is not stream:
                raise _Closed("buffer closed")
            with emu.lock:
                stream.catch_up(emu.clock())
                blk = stream.take()
                wake = stream.ready_at()
            if blk is not None:
                return blk
            time.sleep(min(0.05, max(0.0, wake - emu.clock()) + 2e-4))

    def cmd_writebuf(self, args: list[str]) -> None:
        got = self._buffer_cmd(args, TX_DEV)
        if got is None:
            return
        dev, nbytes = got
        emu = self.dev
        stream = emu.tx_stream
        self.reply(0)
        payload = self.read_exact(nbytes)
        sample_size = 2 * len(emu.tx_sel)
        words = np.frombuffer(payload, dtype="<i2", count=(nbytes // sample_size) * (sample_size // 2))
        if stream.cyclic and stream.pushes:
            self.reply(-errno.EBUSY)
            return
        while True:
            if self.stopping() or emu.tx_stream is not stream:
                raise _Closed("buffer closed")
            with emu.lock:
                wait = stream.wait_time(emu.clock())
                if wait <= 0:
                    emu.push_tx(words)
                    break
            time.sleep(min(0.05, wait + 1e-4))
        self.reply(nbytes)

    # --- the rest -----------------------------------------------------------------------------
    def cmd_gettrig(self, args: list[str]) -> None:
        if len(args) != 1:
            raise _Syntax
        self.reply(-errno.ENODEV if self._device(args[0]) is None else -errno.ENOENT)

    def cmd_settrig(self, args: list[str]) -> None:
        if len(args) not in (1, 2):
            raise _Syntax
        if self._device(args[0]) is None:
            self.reply(-errno.ENODEV)
        else:
            self.reply(-errno.ENOENT if len(args) == 2 else 0)

    def cmd_set(self, args: list[str]) -> None:
        if len(args) != 3 or args[1] not in ("BUFFERS_COUNT", "buffers_count"):
            raise _Syntax
        dev = self._device(args[0])
        try:
            n = int(args[2])
        except ValueError:
            raise _Syntax from None
        if dev is None:
            self.reply(-errno.ENODEV)
            return
        emu = self.dev
        if n < 1 or dev.name not in emu.kernel_buffers:
            self.reply(-errno.EINVAL)
            return
        with emu.lock:
            if emu.owners.get(dev.name) is not None:
                self.reply(-errno.EBUSY)
                return
            emu.kernel_buffers[dev.name] = n
        self.reply(0)
