"""QAM, CRC, convolutional code and interleaver against closed forms and known vectors."""
import numpy as np
import pytest

from lamsc_sdr.errors import ConfigError, ShapeError
from lamsc_sdr.phy import crc, fec, qam
from lamsc_sdr.phy.evaluate import clopper_pearson


def test_crc_known_vectors():
    assert crc.crc16_ccitt(b"123456789") == 0x29B1
    assert crc.crc32(b"123456789") == 0xCBF43926
    bits = np.unpackbits(np.frombuffer(b"123456789", np.uint8))
    with_crc = crc.append_crc(bits, "crc16")
    assert crc.bits_to_int(with_crc[-16:]) == 0x29B1
    assert crc.check_crc(with_crc, "crc16")
    with_crc[3] ^= 1
    assert not crc.check_crc(with_crc, "crc16")
    assert crc.check_crc(crc.append_crc(bits, "crc32"), "crc32")


@pytest.mark.parametrize("mod,m,gray_pairs", [("bpsk", 1, 1), ("qpsk", 2, 4), ("16qam", 4, 16), ("64qam", 6, 64)])
def test_constellation_unit_power_and_gray(mod, m, gray_pairs):
    c = qam.constellation(mod).astype(np.complex128)
    assert c.size == 2 ** m
    assert np.mean(np.abs(c) ** 2) == pytest.approx(1.0, abs=1e-6)
    # Gray: every nearest neighbour differs in exactly one bit
    d = np.abs(c[:, None] - c[None, :])
    dmin = d[d > 1e-9].min()
    i, j = np.nonzero(np.isclose(d, dmin))
    ham = np.array([bin(a ^ b).count("1") for a, b in zip(i, j)])
    assert np.all(ham == 1)


def test_qpsk_ber_closed_form():
    assert qam.ber_awgn("qpsk", 6.0) == pytest.approx(0.5 * __import__("math").erfc(np.sqrt(10 ** 0.6 / 2)), rel=1e-9)
    assert qam.ber_awgn("bpsk", 4.0) == pytest.approx(0.5 * __import__("math").erfc(np.sqrt(10 ** 0.4)), rel=1e-9)


@pytest.mark.parametrize("mod,snr", [("bpsk", 2.0), ("qpsk", 4.0), ("16qam", 12.0), ("64qam", 18.0)])
def test_symbol_level_ber_matches_theory(mod, snr, rng):
    m = qam.bits_per_symbol(mod)
    bits = rng.integers(0, 2, 120_000 * m // m * 1).astype(np.uint8)[: (120_000 // m) * m]
    x = qam.map_bits(bits, mod)
    n0 = 10 ** (-snr / 10)
    y = x + np.sqrt(n0 / 2) * (rng.standard_normal(x.size) + 1j * rng.standard_normal(x.size))
    err = int(np.count_nonzero(qam.hard_bits(qam.demap_llr(y, n0, mod)) != bits))
    lo, hi = clopper_pearson(err, bits.size, 0.999)
    assert lo <= qam.ber_awgn(mod, snr) <= hi


def test_llr_bpsk_exact_and_per_symbol_noise():
    y = np.array([0.3 + 0.1j, -1.2 + 0j])
    nv = np.array([0.5, 2.0])
    np.testing.assert_allclose(qam.demap_llr(y, nv, "bpsk"), 4 * y.real / nv, rtol=1e-6)


def test_bad_modulation_names_field():
    with pytest.raises(ConfigError, match="payload_modulation"):
        qam.bits_per_symbol("8psk")
    with pytest.raises(ShapeError):
        qam.map_bits(np.zeros(3, np.uint8), "16qam")


def test_encoder_known_sequence():
    # impulse response of (133, 171): the generator taps interleaved
    out = fec.conv_encode(np.array([1], np.uint8))
    a = [(0o133 >> (6 - i)) & 1 for i in range(7)]
    b = [(0o171 >> (6 - i)) & 1 for i in range(7)]
    np.testing.assert_array_equal(out, np.array([a, b]).T.reshape(-1))


@pytest.mark.parametrize("rate", ["1/2", "2/3", "3/4"])
def test_viterbi_noiseless_and_corrects_errors(rate, rng):
    bits = rng.integers(0, 2, 3000).astype(np.uint8)
    tx = fec.puncture(fec.conv_encode(bits), rate)
    assert tx.size == fec.coded_length(bits.size, rate)
    assert tx.size == pytest.approx(bits.size / {"1/2": 0.5, "2/3": 2 / 3, "3/4": 0.75}[rate], rel=0.01)
    llr = (1.0 - 2.0 * tx) * 4.0
    # isolated hard errors, spaced beyond the decoding depth of each rate's free distance
    spacing = {"1/2": 20, "2/3": 30, "3/4": 40}[rate]
    flip = np.arange(int(rng.integers(0, spacing)), tx.size, spacing)
    llr[flip] *= -1
    for dec in (fec.viterbi_decode_many([fec.depuncture(llr, bits.size, rate)])[0],
                fec.viterbi_decode_batch(fec.depuncture(llr, bits.size, rate)[None])[0]):
        np.testing.assert_array_equal(dec, bits)


def test_coded_beats_uncoded_and_windowed_equals_full(rng):
    n0 = 10 ** (-1.0 / 10)                       # BPSK Es/N0 = 1 dB per coded bit
    bits = [rng.integers(0, 2, k).astype(np.uint8) for k in (500, 1700, 2300)]
    llrs, unc_err, unc_n = [], 0, 0
    for b in bits:
        c = fec.conv_encode(b)
        y = (1.0 - 2.0 * c) + np.sqrt(n0 / 2) * rng.standard_normal(c.size)
        llrs.append(4 * y / n0)
        unc_err += np.count_nonzero((y < 0) != c)
        unc_n += c.size
    many = fec.viterbi_decode_many(llrs)
    coded_err = sum(np.count_nonzero(d != b) for d, b in zip(many, bits))
    assert unc_err / unc_n > 0.03                  # ~ Q(sqrt(2.5)) = 5.7 %
    assert coded_err / sum(b.size for b in bits) < 0.2 * unc_err / unc_n
    for llr, d in zip(llrs, many):                 # windowed decoding == full trellis
        np.testing.assert_array_equal(d, fec.viterbi_decode_batch(llr[None])[0])


def test_interleaver_roundtrip(rng):
    x = rng.standard_normal(777)
    y = fec.interleave(x)
    assert not np.array_equal(x, y)
    np.testing.assert_array_equal(fec.deinterleave(y), x)
    with pytest.raises(ConfigError, match="payload_code_rate"):
        fec.coded_length(10, "5/6")
