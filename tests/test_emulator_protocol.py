"""The emulator's iiod protocol against raw sockets and the real libiio client (pylibiio 0.25 over
Debian's libiio 0.24): context, attributes, errors as negative errno, bad input, busy devices,
clients that vanish mid-buffer, a port already in use."""
import errno
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest

from lamsc_sdr.emulator import EmulatorError, PlutoEmulator

iio = pytest.importorskip("iio")


@pytest.fixture(scope="module")
def emu():
    with PlutoEmulator(port=0, seed=3) as e:
        yield e


def _conn(emu):
    s = socket.create_connection(("127.0.0.1", emu.ports[0]), timeout=5)
    return s, s.makefile("rb")


def _cmd(s, f, line: bytes) -> bytes:
    s.sendall(line)
    return f.readline()


def test_version_print_and_xml(emu):
    s, f = _conn(emu)
    assert _cmd(s, f, b"VERSION\r\n") == b"0.24.emulate\n"
    n = int(_cmd(s, f, b"PRINT\r\n"))
    xml = f.read(n + 1)[:-1]
    root = ET.fromstring(xml.split(b"]>", 1)[1])
    names = [d.get("name") for d in root.iter("device")]
    assert names == ["adm1177", "ad9361-phy", "xadc", "cf-ad9361-dds-core-lpc", "cf-ad9361-lpc"]
    rx = [d for d in root.iter("device") if d.get("name") == "cf-ad9361-lpc"][0]
    fmts = [c.find("scan-element").get("format") for c in rx.iter("channel")]
    assert fmts == ["le:S12/16>>0", "le:S12/16>>0"]
    assert _cmd(s, f, b"ZPRINT\r\n") == b"-22\n"             # no zstd: the client falls back to PRINT
    s.close()


def test_malformed_lines_get_einval_and_the_session_goes_on(emu):
    s, f = _conn(emu)
    for bad in (b"FROB\r\n", b"READ\r\n", b" VERSION\r\n", b"OPEN cf-ad9361-lpc x 00000003\r\n",
                b"WRITE iio:device1 frequency notanumber\r\n", b"\xff\xfe\x00garbage\r\n",
                b"ReAd iio:device1 ensm_mode\r\n", b"A" * 10000 + b"\r\n"):
        assert _cmd(s, f, bad) == b"-22\n", bad
    s.sendall(b"\r\n")                                            # empty line: no reply
    assert _cmd(s, f, b"VERSION\r\n") == b"0.24.emulate\n"
    assert _cmd(s, f, b"READ nosuchdev sampling_frequency\r\n") == b"-19\n"
    assert _cmd(s, f, b"READ ad9361-phy INPUT voltage9 rssi\r\n") == b"-6\n"      # ENXIO: no channel
    assert _cmd(s, f, b"READ ad9361-phy nosuchattr\r\n") == b"-2\n"
    assert _cmd(s, f, b"READBUF cf-ad9361-lpc 4096\r\n") == b"-9\n"               # EBADF: not opened
    assert _cmd(s, f, b"CLOSE cf-ad9361-lpc\r\n") == b"-6\n"
    assert _cmd(s, f, b"GETTRIG cf-ad9361-lpc\r\n") == b"-2\n"
    n = int(_cmd(s, f, b"READ iio:device1 ensm_mode\r\n"))
    assert f.read(n + 1) == b"fdd\0\n"
    s.close()


def test_attribute_round_trip_and_einval_through_libiio(emu):
    ctx = iio.Context(emu.uri)
    assert ctx.attrs["hw_model"].startswith("Analog Devices PlutoSDR")
    assert ctx.attrs["fw_version"] == "v0.38"
    assert ctx.attrs["hw_serial"] == emu.devices[0].serial
    phy = ctx.find_device("ad9361-phy")
    lo = phy.find_channel("altvoltage0", True)
    lo.attrs["frequency"].value = "915000000"
    assert lo.attrs["frequency"].value == "915000000"
    for bad in ("100000000", "3900000000", "915000000.5", "9.15e8", "abc"):
        with pytest.raises(OSError) as ei:
            lo.attrs["frequency"].value = bad
        assert ei.value.errno == errno.EINVAL, bad
    assert lo.attrs["frequency"].value == "915000000"
    rx = phy.find_channel("voltage0", False)
    rx.attrs["rf_bandwidth"].value = "56000000"                   # an AD9363 clamps to 20 MHz
    assert rx.attrs["rf_bandwidth"].value == "20000000"
    rx.attrs["gain_control_mode"].value = "manual"
    rx.attrs["hardwaregain"].value = "30.7"
    assert rx.attrs["hardwaregain"].value == "30.000000 dB"       # whole dB, integer part
    with pytest.raises(OSError) as ei:
        rx.attrs["hardwaregain"].value = "74"       # the gain table below 1.3 GHz ends at 73 dB
    assert ei.value.errno == errno.EINVAL
    tx = phy.find_channel("voltage0", True)
    tx.attrs["hardwaregain"].value = "-10.3"
    assert tx.attrs["hardwaregain"].value == "-10.250000 dB"      # 0.25 dB steps
    with pytest.raises(OSError):
        tx.attrs["hardwaregain"].value = "1"
    with pytest.raises(OSError):
        rx.attrs["gain_control_mode"].value = "automatic"
    del ctx


def test_second_client_gets_ebusy_and_first_keeps_streaming(emu):
    a, b = iio.Context(emu.uri), iio.Context(emu.uri)
    da, db = a.find_device("cf-ad9361-lpc"), b.find_device("cf-ad9361-lpc")
    for d in (da, db):
        for ch in d.channels:
            ch.enabled = True
    buf = iio.Buffer(da, 1024)
    with pytest.raises(OSError) as ei:
        iio.Buffer(db, 1024)
    assert ei.value.errno == errno.EBUSY
    buf.refill()
    assert len(buf.read()) == 4096
    del buf
    buf2 = iio.Buffer(db, 1024)               # free again once the first client closed its buffer
    buf2.refill()
    del buf2, a, b


def _open_raw(emu, dev: str, n: int, mask: str = "00000003", cyclic: bool = False):
    s, f = _conn(emu)
    assert _cmd(s, f, f"OPEN {dev} {n} {mask}{' CYCLIC' if cyclic else ''}\r\n".encode()) == b"0\n"
    return s, f


def test_client_vanishing_mid_buffer_frees_the_device(emu):
    s, f = _open_raw(emu, "cf-ad9361-dds-core-lpc", 10000)
    assert _cmd(s, f, b"WRITEBUF cf-ad9361-dds-core-lpc 40000\r\n") == b"0\n"
    s.sendall(b"\0" * 1000)                    # 1000 of 40000 bytes, then gone
    s.close()
    s, f = _open_raw(emu, "cf-ad9361-lpc", 1 << 16)
    s.sendall(b"READBUF cf-ad9361-lpc 262144\r\n")
    time.sleep(0.02)
    s.close()                                  # gone while the server streams
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:         # the server notices and releases both devices
        if all(o is None for o in emu.devices[0].owners.values()):
            break
        time.sleep(0.05)
    s, f = _open_raw(emu, "cf-ad9361-dds-core-lpc", 100)
    assert _cmd(s, f, b"CLOSE cf-ad9361-dds-core-lpc\r\n") == b"0\n"
    assert _cmd(s, f, b"VERSION\r\n") == b"0.24.emulate\n"
    s.close()


def test_readbuf_wire_format(emu):
    s, f = _open_raw(emu, "cf-ad9361-lpc", 256, mask="00000001")     # I only: 2 bytes per sample
    assert _cmd(s, f, b"READBUF cf-ad9361-lpc 512\r\n") == b"512\n"
    assert f.readline() == b"00000001\n"
    assert len(f.read(512)) == 512
    assert _cmd(s, f, b"SET cf-ad9361-lpc BUFFERS_COUNT 8\r\n") == b"-16\n"   # busy while open
    assert _cmd(s, f, b"CLOSE cf-ad9361-lpc\r\n") == b"0\n"
    assert _cmd(s, f, b"SET cf-ad9361-lpc BUFFERS_COUNT 8\r\n") == b"0\n"
    assert _cmd(s, f, b"SET cf-ad9361-lpc BUFFERS_COUNT 4\r\n") == b"0\n"
    s.close()


def test_port_in_use_is_one_clear_error(emu):
    with pytest.raises(EmulatorError, match="already in use"):
        PlutoEmulator(port=emu.ports[0]).start()
    out = subprocess.run([sys.executable, "-m", "lamsc_sdr.cli", "emulate", "pluto", "--port", str(emu.ports[0])],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert out.stderr.strip().startswith("lamsc: error: port") and "Traceback" not in out.stderr


def test_cli_serves_until_sigterm():
    from lamsc_sdr.emulator import EmulatorProcess
    with EmulatorProcess(devices=2, ppm=[1.5, -2.0]) as p:
        assert len(p.uris) == 2 and p.uris[0].startswith("ip:127.0.0.1:")
        ctx = iio.Context(p.uris[1])
        assert ctx.find_device("ad9361-phy") is not None
        del ctx
        code = p.stop()
    assert code == 0
    assert any("stopped" in line for line in p.output)


def test_read_all_attributes_format(emu):
    import struct
    s, f = _conn(emu)
    n = int(_cmd(s, f, b"READ cf-ad9361-lpc INPUT voltage0\r\n"))
    body = f.read(n + 1)[:-1]
    vals, pos = [], 0
    while pos < len(body):
        (k,) = struct.unpack(">i", body[pos:pos + 4])
        pos += 4
        if k < 0:
            vals.append(k)
            continue
        vals.append(body[pos:pos + k].rstrip(b"\0").decode())
        pos += k + (-k % 4)
    assert vals[:3] == ["0", "0.000000", "1.000000"]        # calibbias, calibphase, calibscale
    assert vals[3] == -errno.ENODEV                          # samples_pps: no PPS on a Pluto
    s.close()


def test_emulator_imports_nothing_above_channel_and_phy():
    """DESIGN.md: the emulator is a device; it may use channel/ and phy/, never radio/ or above."""
    import ast
    import pathlib
    allowed = {"channel", "phy", "errors", "provenance", "stats", "emulator", ""}
    root = pathlib.Path(__file__).resolve().parents[1] / "lamsc_sdr" / "emulator"
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level >= 1:
                mod = (node.module or "").split(".")[0] if node.level == 2 else "emulator"
                assert mod in allowed, f"{path.name} imports ..{node.module}"
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                assert not node.module.startswith("lamsc_sdr.") or node.module.split(".")[1] in allowed


@pytest.mark.parametrize("args, msg", [
    (["--channel", "nosuch"], "unknown channel profile"),
    (["--devices", "2", "--ppm", "3"], "one crystal error per device"),
    (["--devices", "0"], "emulator.devices"),
    (["--ppm", "x"], "--ppm"),
])
def test_cli_bad_options_are_one_error_line(args, msg):
    out = subprocess.run([sys.executable, "-m", "lamsc_sdr.cli", "emulate", "pluto", "--port", "0"] + args,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.startswith("lamsc: error:") and msg in out.stderr


def test_links_apply_the_channel_models_taps():
    """A TDL profile (EPA) on the air: what RX gets is the TX waveform convolved with the link's
    taps, drawn from lamsc_sdr.channel, up to the gain and quantization."""
    import numpy as np
    with PlutoEmulator(port=0, channel="epa", snr_db=90, ppm=(0.0,)) as emu:
        dev = emu.devices[0]
        dev.phy.rate, dev.phy.gain_mode, dev.phy.rx_gain = 4_000_000, "manual", 50.0
        dev.phy.tx_lo = dev.phy.rx_lo
        rng = np.random.default_rng(0)
        w = (rng.standard_normal(4096) + 1j * rng.standard_normal(4096)) * 0.2
        words = np.empty(2 * w.size, np.int16)
        words[0::2], words[1::2] = w.real * 32767, w.imag * 32767
        with dev.lock:
            dev.open_tx(w.size, [0, 1], True)
            dev.push_tx(words)
        taps = emu.air.link(0, 0, 4e6).taps
        assert taps.size > 1                                       # EPA's 410 ns at 4 MS/s: several taps
        t0 = dev.clock() + 0.002
        y = dev.capture(t0, 8192, 4e6).astype(np.float64)
        y = (y[:, 0] + 1j * y[:, 1]) / 2048
        seg = dev.history[-1]
        x = np.zeros(8192 + taps.size - 1, np.complex64)
        seg.add_to(x, t0 - (taps.size - 1) / 4e6, 4e6)
        ref = np.convolve(x, taps, "valid")
        a = np.vdot(ref, y) / np.vdot(ref, ref)                   # gain (and the LO leakage is tiny)
        err = np.mean(np.abs(y - a * ref) ** 2) / np.mean(np.abs(y) ** 2)
        assert err < 1e-3
        assert abs(20 * np.log10(abs(a)) - (50 - 10 - 50)) < 0.1  # +50 dB RX, -10 dB TX, -50 dB path
