"""The conventional baseline: lossless compression, MCS choice, and the coded QAM link against
references (exact recovery at high SNR, CRC rejection at low SNR, QPSK BER)."""
import numpy as np
import pytest

from lamsc_sdr.semantic import baseline as bl

TEXTS = ["Madam President, I should like to thank the rapporteur.", "Grüße – 3,5 % €", "", "x"]


def test_compression_round_trip_and_dictionary_helps():
    for t in TEXTS:
        assert bl.decompress(bl.compress(t)) == t
    s = "The Commission must take account of the situation in the Member States."
    if bl.zdict():   # shipped dictionary present
        assert len(bl.compress(s)) < len(bl.compress(s, dictionary=b""))


def test_build_zdict_is_deterministic_and_bounded():
    sents = ["the european union must act", "the european parliament must act"] * 10
    d1, d2 = bl.build_zdict(sents, 64), bl.build_zdict(list(sents), 64)
    assert d1 == d2 and 0 < len(d1) <= 64
    assert d1.endswith(b" must act") or b"must" in d1


def test_choose_mcs_fits_budget_and_is_most_robust():
    n = 400
    m = bl.choose_mcs(n, 10_000)
    assert (m.modulation, m.rate) == ("bpsk", "1/2")
    for budget in (150, 200, 300, 450):
        m = bl.choose_mcs(n, budget)
        assert m.channel_uses(n) <= budget
        # nothing more robust fits
        i = [(x.modulation, x.rate) for x in map(lambda t: bl.Mcs(*t), bl.MCS_TABLE)].index((m.modulation, m.rate))
        for mod, rate in bl.MCS_TABLE[:i]:
            assert bl.Mcs(mod, rate).channel_uses(n) > budget
    assert bl.choose_mcs(n, 10) is None
    # K=7 code at rate 1/2 on QPSK: 2 (n + 6) coded bits / 2 bits per symbol
    assert bl.Mcs("qpsk", "1/2").channel_uses(n) == n + 6


def test_link_exact_at_high_snr_and_lost_at_low_snr(rng):
    base = bl.DigitalBaseline()
    texts = TEXTS[:2] * 3
    syms, meta = base.encode(texts, [400] * len(texts))
    assert all(len(s) <= 400 for s in syms)
    n0 = 10 ** (-25 / 10)
    noisy = [s + (rng.standard_normal(s.size) + 1j * rng.standard_normal(s.size)) * np.sqrt(n0 / 2) for s in syms]
    assert base.decode(noisy, [n0] * len(syms), meta) == texts
    n0 = 10 ** (5 / 10)   # -5 dB: the CRC must reject, never return garbage
    noisy = [s + (rng.standard_normal(s.size) + 1j * rng.standard_normal(s.size)) * np.sqrt(n0 / 2) for s in syms]
    out = base.decode(noisy, [n0] * len(syms), meta)
    assert all(o in ("", t) for o, t in zip(out, texts)) and out.count("") >= len(texts) - 1


def test_message_that_does_not_fit_is_lost_not_truncated():
    base = bl.DigitalBaseline()
    syms, meta = base.encode(["a long sentence that cannot fit in three symbols"], [3])
    assert meta == [None] and syms[0].size == 0
    assert base.decode(syms, [0.1], meta) == [""]


def test_uncoded_qpsk_ber_matches_theory(rng):
    """Reference: uncoded QPSK BER = Q(sqrt(2 Es/N0 / 2)) = Q(sqrt(Es/N0)) per bit."""
    from scipy.stats import norm
    m = bl.Mcs("qpsk", "1")
    bits = rng.integers(0, 2, 100_000).astype(np.uint8)
    x = bl.modulate(bits, m)
    snr_db = 6.0
    n0 = 10 ** (-snr_db / 10)
    y = x + (rng.standard_normal(x.size) + 1j * rng.standard_normal(x.size)) * np.sqrt(n0 / 2)
    out = bl.demodulate_many([y], [n0], [bits.size], [m])[0]
    ber = np.mean(out != bits)
    assert ber == pytest.approx(norm.sf(np.sqrt(10 ** (snr_db / 10))), rel=0.1)
