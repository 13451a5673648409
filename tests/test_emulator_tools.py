"""Third-party tools against the emulator: libiio's own iio_info / iio_attr / iio_readdev (Debian
libiio-utils) and gr-iio's fmcomms2 source and sink in a GNU Radio flowgraph, with the emulator in
another process (gr-iio holds the GIL)."""
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from lamsc_sdr.emulator import EmulatorProcess, PlutoEmulator

needs_utils = pytest.mark.skipif(shutil.which("iio_info") is None, reason="libiio-utils not installed")


@needs_utils
def test_iio_info_attr_readdev():
    with PlutoEmulator(port=0) as emu:
        out = subprocess.run(["iio_info", "-u", emu.uri], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert "Backend version: 0.24 (git tag: emulate)" in out.stdout
        assert "cf-ad9361-lpc (buffer capable)" in out.stdout
        assert "voltage0:  (input, index: 0, format: le:S12/16>>0)" in out.stdout
        assert "hw_model: Analog Devices PlutoSDR" in out.stdout
        w = subprocess.run(["iio_attr", "-u", emu.uri, "-c", "ad9361-phy", "altvoltage0", "frequency", "868000000"],
                           capture_output=True, text=True, timeout=30)
        assert w.returncode == 0 and emu.devices[0].phy.rx_lo == 868_000_000
        bad = subprocess.run(["iio_attr", "-u", emu.uri, "-c", "ad9361-phy", "altvoltage0", "frequency", "10"],
                             capture_output=True, text=True, timeout=30)
        assert emu.devices[0].phy.rx_lo == 868_000_000 and "Invalid argument" in bad.stdout + bad.stderr
        raw = subprocess.run(["iio_readdev", "-u", emu.uri, "-s", "4096", "cf-ad9361-lpc"], capture_output=True,
                             timeout=30)
        assert raw.returncode == 0 and len(raw.stdout) == 4096 * 4
        x = np.frombuffer(raw.stdout, "<i2")
        assert x.min() >= -2048 and x.max() <= 2047                       # 12-bit words, sign-extended


_GR = textwrap.dedent("""
    import sys, numpy as np
    from gnuradio import gr, iio, blocks
    gr.logging().set_default_level(gr.log_levels.warn)
    uri, fs = sys.argv[1], 1_000_000
    sink = iio.fmcomms2_sink_fc32(uri, [True, True], 4000, True)
    sink.set_len_tag_key(""); sink.set_bandwidth(2000000); sink.set_frequency(915_100_000)
    sink.set_samplerate(fs); sink.set_attenuation(0, 10.0); sink.set_filter_params("Auto", "", 0, 0)
    src = iio.fmcomms2_source_fc32(uri, [True, True], 32768)
    src.set_len_tag_key(""); src.set_frequency(915_000_000); src.set_samplerate(fs)
    src.set_gain_mode(0, "manual"); src.set_gain(0, 40.0); src.set_filter_params("Auto", "", 0, 0)
    tb = gr.top_block()
    t = np.arange(4000)
    vs = blocks.vector_source_c((0.5 * np.exp(2j * np.pi * t * 40 / 4000)).astype(np.complex64).tolist(), False)
    head = blocks.head(gr.sizeof_gr_complex, 2_500_000)   # > 1 s: see below
    vk = blocks.vector_sink_c()
    tb.connect(vs, sink); tb.connect(src, head, vk)
    tb.run()
    y = np.array(vk.data())[-65536:]
    k = int(np.argmax(np.abs(np.fft.fft(y))))
    print((k if k < 32768 else k - 65536) * fs / 65536, 10 * np.log10(np.mean(np.abs(y) ** 2)))
""")


def test_gr_iio_source_and_sink_stream_through_the_emulator():
    """gr-iio 3.10.5.1's source waits 1 s before it polls the overflow register; a flowgraph that
    stops sooner leaves that thread waiting forever and the process hangs on exit (a gr-iio bug,
    not the emulator's), so the flowgraph runs 2.5 s. Its overflow/underflow polls go through
    ``direct_reg_access`` 0x80000088 on both data devices."""
    pytest.importorskip("gnuradio.iio")
    with EmulatorProcess(snr_db=50) as emu:
        out = subprocess.run([sys.executable, "-c", _GR, emu.uri], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    f, p = (float(v) for v in out.stdout.strip().splitlines()[-1].split()[-2:])
    assert abs(f - 110_000) < 20                      # 10 kHz tone + 100 kHz between the LOs
    assert abs(p - (20 * np.log10(0.5) - 10 - 50 + 40)) < 0.5     # gr-iio: 1.0 = 32768 at the DAC, /2048 at the ADC
