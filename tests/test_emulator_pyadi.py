"""The unmodified pyadi-iio ``adi.Pluto`` against the emulator: settings as the driver takes
them, the air checked against closed-form link budgets (power, SNR, CFO between two crystals),
the AGC, real-time overflow and underflow, stale buffers after a retune, and a frame of the
project's PHY through tx() -> air -> rx() -> decode."""
import errno
import gc
import math
import time

import numpy as np
import pytest

from lamsc_sdr.emulator import PlutoEmulator

adi = pytest.importorskip("adi")
FS = 1_000_000


def _tone(n=1000, cycles=50, amp=2 ** 14):
    return amp * np.exp(2j * np.pi * cycles * np.arange(n) / n)


def _freq(x: np.ndarray, fs: float) -> float:
    """Frequency of the strongest tone: 8x zero-padded FFT peak, parabolic interpolation."""
    n = 8 * x.size
    s = np.abs(np.fft.fft(x * np.hanning(x.size), n))
    k = int(np.argmax(s))
    a, b, c = np.log(s[k - 1] + 1e-30), np.log(s[k] + 1e-30), np.log(s[(k + 1) % n] + 1e-30)
    d = 0.5 * (a - c) / (a - 2 * b + c)
    f = (k + d) * fs / n
    return float(f - fs if f > fs / 2 else f)


@pytest.fixture
def lab():
    """Emulators and radios of one test. Teardown destroys every IIO buffer while the contexts
    are alive (pylibiio frees objects in any order in the cyclic GC, and a buffer destroyed
    after its context crashes libiio), then stops the emulators."""
    class Lab:
        def __init__(self):
            self.emus, self.sdrs = [], []

        def emulator(self, **kw):
            e = PlutoEmulator(port=0, **kw).start()
            self.emus.append(e)
            return e

        def pluto(self, uri, **kw):
            s = _pluto(uri, **kw)
            self.sdrs.append(s)
            return s
    lab = Lab()
    yield lab
    for s in lab.sdrs:
        for m in ("tx_destroy_buffer", "rx_destroy_buffer"):
            try:
                getattr(s, m)()
            except Exception:
                pass
    lab.sdrs.clear()
    gc.collect()
    for e in lab.emus:
        e.stop()


def _pluto(uri, **kw):
    sdr = adi.Pluto(uri)
    sdr.sample_rate = kw.get("fs", FS)
    sdr.rx_lo = kw.get("rx_lo", 915_000_000)
    sdr.tx_lo = kw.get("tx_lo", 915_000_000)
    if kw.get("gain") is not None:
        sdr.gain_control_mode_chan0 = "manual"
        sdr.rx_hardwaregain_chan0 = kw["gain"]
    sdr.tx_hardwaregain_chan0 = kw.get("tx_gain", -10)
    sdr.rx_buffer_size = kw.get("n", 8192)
    return sdr


def test_settings_as_the_driver_takes_them(lab):
    emu = lab.emulator()
    sdr = adi.Pluto(emu.uri)
    lab.sdrs.append(sdr)
    sdr.sample_rate = 1_000_000
    assert sdr.sample_rate == 1_000_000 and sdr.filter[1] == 4.0     # pyadi loaded the x4 FIR
    sdr.sample_rate = 30_720_000
    assert sdr.sample_rate == 30_720_000
    with pytest.raises(ValueError):
        sdr.sample_rate = 500_000                                     # pyadi's own check
    sdr.rx_lo = 2_400_000_000
    assert sdr.rx_lo == 2_400_000_000
    with pytest.raises(Exception):
        sdr.rx_lo = 2.4e9                                             # pyadi: LOs must be int
    with pytest.raises(OSError) as ei:
        sdr.tx_lo = 5_800_000_000                                     # beyond an AD9363
    assert ei.value.errno == errno.EINVAL
    sdr.rx_rf_bandwidth = 56_000_000
    assert sdr.rx_rf_bandwidth == 20_000_000
    sdr.tx_hardwaregain_chan0 = -89.75
    assert sdr.tx_hardwaregain_chan0 == -89.75
    for mode in ("fast_attack", "hybrid", "slow_attack", "manual"):
        sdr.gain_control_mode_chan0 = mode
        assert sdr.gain_control_mode_chan0 == mode
    sdr.rx_hardwaregain_chan0 = 12
    assert sdr.rx_hardwaregain_chan0 == 12
    sdr.loopback = 1
    assert sdr.loopback == 1
    emu = lab.emulator(model="ad9364")                   # a Pluto in AD9364 mode
    sdr = adi.Pluto(emu.uri)
    lab.sdrs.append(sdr)
    sdr.tx_lo = 5_800_000_000
    sdr.rx_lo = 70_000_000
    assert (sdr.tx_lo, sdr.rx_lo) == (5_800_000_000, 70_000_000)
    sdr.rx_rf_bandwidth = 56_000_000
    assert sdr.rx_rf_bandwidth == 56_000_000


def test_cyclic_tx_to_rx_matches_the_link_budget(lab):
    snr_db, loss = 45.0, 50.0
    emu = lab.emulator(snr_db=snr_db, path_loss_db=loss)
    sdr = lab.pluto(emu.uri, tx_lo=915_100_000, gain=40, tx_gain=-10, n=1 << 15)
    sdr.tx_cyclic_buffer = True
    sdr.tx(_tone())
    sdr.rx()                                      # first buffer: may predate the push
    x = sdr.rx() / 2048.0
    sdr.tx_destroy_buffer()
    # closed form: tone amplitude 2^14 / 2^15 = -6.02 dBFS at the DAC, -10 dB TX, -50 dB path, +40 dB RX
    p_expect = 20 * math.log10(0.5) - 10 - loss + 40
    f = _freq(x, FS)
    assert abs(f - (50_000 + 100_000)) < 5                # tone + (tx_lo - rx_lo): one crystal
    n = np.arange(x.size)
    r = x.copy()
    amps = {}
    for fk in (f, 100_000.0):                             # the tone, and the TX LO leakage at 100 kHz
        e = np.exp(2j * np.pi * fk * n / FS)
        a = np.vdot(e, r) / x.size                        # least-squares amplitude
        r -= a * e
        amps[fk] = 20 * math.log10(abs(a))
    assert abs(amps[f] - p_expect) < 0.3
    leak = -50 + 18 * 10 / 40                             # data sheet: -50 dBc at 0 dB, -32 dBc at 40 dB attenuation
    assert abs(amps[100_000.0] - (leak - 10 - loss + 40)) < 1.0
    r -= r.mean()                                         # the receiver's residual DC
    n_expect = -(loss + snr_db) + 40                      # N0 at the RX input times the RX gain
    assert abs(10 * math.log10(np.mean(np.abs(r) ** 2)) - n_expect) < 0.3


def test_two_devices_have_the_cfo_of_their_crystals(lab):
    ppm = (10.0, -5.0)
    emu = lab.emulator(devices=2, ppm=ppm, snr_db=50)
    tx = lab.pluto(emu.uris[0], rx_lo=2_400_000_000, tx_lo=2_400_000_000, tx_gain=0)
    rx = lab.pluto(emu.uris[1], rx_lo=2_400_000_000, tx_lo=2_450_000_000, gain=50, n=1 << 15)
    tx.tx_cyclic_buffer = True
    tx.tx(_tone())
    rx.rx()
    x = rx.rx()
    tx.tx_destroy_buffer()
    cfo = 2_400_000_000 * (ppm[0] - ppm[1]) * 1e-6                    # 36 kHz
    assert abs(_freq(x, FS) - (50_000 + cfo)) < 10


def test_agc_settles_into_its_window(lab):
    emu = lab.emulator(snr_db=60)
    sdr = lab.pluto(emu.uri, tx_gain=0, gain=71, n=4096)                 # 4 ms buffers, 4 AGC updates each
    sdr.tx_cyclic_buffer = True
    sdr.tx(_tone())
    sdr.rx()
    sdr.gain_control_mode_chan0 = "slow_attack"
    p_adc, gains = [], []
    for _ in range(15):
        x = sdr.rx() / 2048.0
        p_adc.append(10 * math.log10(np.mean(np.abs(x) ** 2)))
        gains.append(sdr.rx_hardwaregain_chan0)
    p_in = 20 * math.log10(0.5) - 0 - 50                                 # -56 dBFS at the RX input
    assert max(p_adc[:3]) > -3                                           # 71 dB: the ADC saturates first
    assert -17 <= p_adc[-1] <= -9, (p_adc, gains)                       # then the AGC window
    assert abs(gains[-1] - (p_adc[-1] - p_in)) < 0.5                     # the gain it reports is the gain it applies
    assert gains[-1] == gains[-2] == gains[-3] < 50                      # and it stays


def test_slow_reader_overflows_and_the_register_shows_it(lab):
    emu = lab.emulator()
    sdr = lab.pluto(emu.uri, tx_lo=915_010_000, gain=30, n=1 << 16)       # 65.5 ms per buffer
    sdr.tx_cyclic_buffer = True
    sdr.tx(_tone(1000, 0, 2 ** 14))                                       # a carrier 10 kHz off
    rxadc = sdr._rxadc
    rxadc.set_kernel_buffers_count(12)                                    # SET BUFFERS_COUNT: 0.7 s of slack
    sdr.rx()
    rxadc.reg_write(0x80000088, 0x6)                                      # clear, as gr-iio does
    blocks = [sdr.rx() for _ in range(3)]                                 # keeping up (even on a loaded host)
    assert rxadc.reg_read(0x80000088) & 4 == 0
    ph = np.unwrap(np.angle(np.concatenate(blocks)))
    k = np.arange(ph.size)
    resid = ph - np.polyval(np.polyfit(k, ph, 1), k)
    assert np.max(np.abs(resid)) < 0.1                                    # one carrier, no gap between buffers
    time.sleep(1.5)                                                       # 23 buffers' worth: 12 fit
    for _ in range(13):
        sdr.rx()
    assert rxadc.reg_read(0x80000088) & 4 == 4
    rxadc.reg_write(0x80000088, 4)
    assert rxadc.reg_read(0x80000088) & 4 == 0
    st = emu.devices[0].stats()
    assert st["rx_overflows"] >= 1 and st["rx_lost_samples"] > 0.2 * FS


def test_non_cyclic_tx_not_refilled_underflows(lab):
    emu = lab.emulator()
    sdr = lab.pluto(emu.uri)
    sdr.tx_cyclic_buffer = False
    sdr.tx(_tone(2000))                                               # 2 ms of samples
    sdr._txdac.reg_write(0x80000088, 0x6)
    time.sleep(0.1)
    sdr.tx(_tone(2000))                                               # too late
    assert sdr._txdac.reg_read(0x80000088) & 1 == 1
    assert emu.devices[0].stats()["tx_underflows"] >= 1
    sdr.tx_destroy_buffer()


def test_first_buffers_after_a_retune_are_stale(lab):
    emu = lab.emulator(snr_db=60)
    sdr = lab.pluto(emu.uri, tx_lo=915_100_000, gain=40, n=2048)
    sdr.tx_cyclic_buffer = True
    sdr.tx(_tone(1000, 0))                                            # a carrier at 915.1 MHz
    sdr.rx()
    time.sleep(0.05)                                                  # the kernel queue fills
    sdr.rx_lo = 915_050_000
    old = [_freq(sdr.rx(), FS) for _ in range(3)]
    assert all(abs(f - 100_000) < 50 for f in old)                   # captured before the retune
    sdr.rx_destroy_buffer()
    assert abs(_freq(sdr.rx(), FS) - 50_000) < 50
    sdr.tx_destroy_buffer()


def test_a_frame_passes_through_pyadi_and_decodes(lab):
    from lamsc_sdr.phy.config import FrameConfig
    from lamsc_sdr.phy.frame import FrameReceiver, FrameTransmitter
    from lamsc_sdr.phy.header import FrameHeader
    cfg = FrameConfig(payload_modulation="qpsk", max_slots=4)
    ftx = FrameTransmitter(cfg)
    bits = np.random.default_rng(5).integers(0, 2, 400).astype(np.uint8)
    burst = ftx.stream([ftx.modulate_bits(bits, FrameHeader(message_id=7))])
    wave = burst / np.max(np.abs(burst)) * 2 ** 14
    emu = lab.emulator(devices=2, ppm=(12.0, -7.0), snr_db=45)
    tx = lab.pluto(emu.uris[0], tx_gain=-5)
    rx = lab.pluto(emu.uris[1], tx_lo=2_000_000_000, n=3 * wave.size)
    rx.gain_control_mode_chan0 = "slow_attack"
    tx.tx_cyclic_buffer = True
    tx.tx(wave)
    for _ in range(4):                                                # let the AGC settle
        rx.rx()
    frames = FrameReceiver(cfg).process(rx.rx() / 2048.0)
    tx.tx_destroy_buffer()
    ok = [f for f in frames if f.status == "ok" and f.payload_ok]
    assert ok, [f.status for f in frames]
    assert ok[0].header.message_id == 7
    assert np.array_equal(ok[0].bits, bits)
    assert abs(ok[0].cfo_hz - 915e6 * 19e-6) < 300                       # 17.4 kHz between the crystals


def test_dds_tone_rssi_saturation_and_lo_powerdown(lab):
    emu = lab.emulator(snr_db=60)
    sdr = lab.pluto(emu.uri, tx_lo=915_000_000, gain=30, tx_gain=0, n=1 << 14)
    sdr.dds_single_tone(200_000, 0.5)                                   # pyadi's DDS API: no DMA buffer
    x = sdr.rx() / 2048.0
    assert abs(abs(_freq(x, FS)) - 200_000) < 5
    p_in = 10 * math.log10(0.5 ** 2) - 50                                # tone power at the RX input
    rssi = float(sdr._get_iio_attr_str("voltage0", "rssi", False).split()[0])
    assert abs(rssi - (-p_in)) < 0.5                                     # RSSI: dB below full scale at 0 dB gain
    sdr.rx_hardwaregain_chan0 = 71                                       # -56 + 71 = +15 dBFS: the ADC clips
    sdr.rx_destroy_buffer()
    y = sdr.rx()
    assert np.max(np.abs(y.real)) == 2048 and np.max(y.real) == 2047      # 12-bit rails
    sdr.rx_hardwaregain_chan0 = 30
    sdr._set_iio_dev_attr_str("ensm_mode", "alert")                      # ENSM alert: TX and RX paths off
    sdr.rx_destroy_buffer()
    assert 10 * math.log10(np.mean(np.abs(sdr.rx() / 2048.0) ** 2)) < -60
    sdr._set_iio_dev_attr_str("ensm_mode", "fdd")
    sdr._set_iio_attr("altvoltage1", "powerdown", True, 1)               # TX LO off: silence
    sdr.rx_destroy_buffer()
    z = sdr.rx() / 2048.0
    assert 10 * math.log10(np.mean(np.abs(z) ** 2)) < -60                # was -26 dBFS; now noise, DC, LSBs
