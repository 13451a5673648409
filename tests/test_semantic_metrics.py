"""BLEU against hand-computed values; the symbol-level channel and MINE against closed forms."""
import math

import numpy as np
import pytest

from lamsc_sdr.semantic.metrics import mean_bleu, sentence_bleu, words


def test_words_split_punctuation_and_case():
    assert words("The House, closed.") == ["the", "house", ",", "closed", "."]


def test_bleu_hand_computed():
    ref = "the cat is on the mat"
    hyp = "the cat the mat"
    # unigrams: hyp {the:2, cat:1, mat:1}, ref {the:2, cat, is, on, mat} -> 4/4
    # bigrams: (the cat) ok, (cat the) no, (the mat) ok -> 2/3
    # trigrams: (the cat the), (cat the mat) -> 0/2 -> BLEU-4 = 0 (no smoothing)
    bp = math.exp(1 - 6 / 4)
    assert sentence_bleu(ref, hyp, 1) == pytest.approx(bp * 1.0)
    assert sentence_bleu(ref, hyp, 2) == pytest.approx(bp * math.sqrt(1.0 * 2 / 3))
    assert sentence_bleu(ref, hyp, 4) == 0.0


def test_bleu4_hand_computed_nonzero():
    ref = "we must act now on climate change"
    hyp = "we must act now on climate policy"
    # 7 words each: p1 = 6/7, p2 = 5/6, p3 = 4/5, p4 = 3/4, BP = 1
    want = (6 / 7 * 5 / 6 * 4 / 5 * 3 / 4) ** 0.25
    assert sentence_bleu(ref, hyp, 4) == pytest.approx(want)
    assert sentence_bleu(ref, ref, 4) == 1.0
    # clipping: repeated words count at most as often as in the reference
    assert sentence_bleu("the cat", "the the the the", 1) == pytest.approx(1 / 4)


def test_bleu_edge_cases():
    assert sentence_bleu("", "", 4) == 1.0
    assert sentence_bleu("a b c", "", 1) == 0.0
    assert mean_bleu(["a b", "c d"], ["a b", "x y"], 1) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        mean_bleu(["a"], [], 1)


def test_numpy_awgn_noise_variance(rng):
    from lamsc_sdr.semantic.channel_sim import numpy_channel
    x = np.ones(200_000, np.complex64)
    y, nv = numpy_channel(x, 6.0, "awgn", rng)
    n0 = 10 ** -0.6
    assert np.allclose(nv, n0)
    assert np.mean(np.abs(y - x) ** 2) == pytest.approx(n0, rel=0.02)
    assert np.mean((y - x).real ** 2) == pytest.approx(n0 / 2, rel=0.02)   # complex noise, half per axis


def test_rayleigh_effective_noise_is_calibrated(rng):
    """(y - x) / sqrt(nv) has unit variance when the CSI error model holds (unit-power QPSK x)."""
    from lamsc_sdr.semantic.channel_sim import numpy_channel
    n = 200_000
    x = ((rng.choice([-1, 1], n) + 1j * rng.choice([-1, 1], n)) / np.sqrt(2)).astype(np.complex64)
    for c in (0.0, 1.0):
        y, nv = numpy_channel(x, 10.0, "rayleigh", rng, csi_c=c)
        z = (y - x) / np.sqrt(nv)
        # median |z|^2 of a CN(0,1) variable is ln 2 (robust to the heavy tail of deep fades)
        assert np.median(np.abs(z) ** 2) == pytest.approx(math.log(2), rel=0.08)


def test_torch_channel_matches_numpy_statistics():
    import torch
    from lamsc_sdr.semantic.channel_sim import torch_channel
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(4, 50, 8, 2)
    x[..., 0] = 1.0
    snr = torch.tensor([0.0, 10.0, 0.0, 10.0])
    fading = torch.tensor([False, False, True, True])
    y, nv = torch_channel(x, snr, fading, torch.ones(4), g)
    assert y.shape == x.shape and nv.shape == (4, 50, 8)
    assert torch.allclose(nv[0], torch.tensor(1.0)) and torch.allclose(nv[1], torch.tensor(0.1))
    e = ((y - x) ** 2).sum(-1)
    assert float(e[0].mean()) == pytest.approx(1.0, rel=0.15)
    assert float(e[1].mean()) == pytest.approx(0.1, rel=0.15)
    z = (e[3] / nv[3]).flatten()
    assert float(z.median()) == pytest.approx(math.log(2), rel=0.2)


def test_power_normalize_masks_padding():
    import torch
    from lamsc_sdr.semantic.model import power_normalize
    x = torch.randn(2, 5, 4, 2) * 3
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    y = power_normalize(x, mask)
    p0 = float((y[0, :3] ** 2).sum()) / (3 * 4)
    p1 = float((y[1] ** 2).sum()) / (5 * 4)
    assert p0 == pytest.approx(1.0, rel=1e-5) and p1 == pytest.approx(1.0, rel=1e-5)
    assert float(y[0, 3:].abs().sum()) == 0.0


def test_mine_estimates_gaussian_awgn_mutual_information():
    """MINE-f on x ~ CN(0,1), y = x + CN(0,1): I = ln(1 + SNR) = ln 2 nats; the bound approaches it."""
    import torch
    from lamsc_sdr.semantic.model import Mine
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    mine = Mine(64)
    opt = torch.optim.Adam(mine.parameters(), lr=3e-3)
    vals = []
    for step in range(400):
        x = torch.randn(2048, 2, generator=g) * 0.5 ** 0.5
        y = x + torch.randn(2048, 2, generator=g) * 0.5 ** 0.5
        mi = mine.lower_bound(x, y, torch.randperm(2048, generator=g))
        opt.zero_grad()
        (-mi).backward()
        opt.step()
        if step >= 300:
            vals.append(float(mi.detach()))
    est = float(np.mean(vals))
    assert 0.5 < est < math.log(2) + 0.05
