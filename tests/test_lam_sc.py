"""LAM-SC: images, segmenter, ASI, model shapes, ASC side information, JPEG cliff, intervals."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skimage")

from lamsc_sdr.errors import CheckpointMismatchError, ConfigError, ShapeError  # noqa: E402
from lamsc_sdr.lam_sc import images  # noqa: E402
from lamsc_sdr.lam_sc.asi import ASI, AsiConfig, prompt_selection, segment_channels, select, semantic_aware  # noqa: E402
from lamsc_sdr.lam_sc.model import (SEND_ALL, LamScCodec, LamScModel, ModelConfig, bits_to_mask, feature_side,  # noqa: E402
                                    fill_masked, mask_to_bits)
from lamsc_sdr.lam_sc.segment import ClassicalSegmenter, _cut_threshold, spectral_residual_saliency  # noqa: E402


def blocks_image() -> tuple[np.ndarray, np.ndarray]:
    """A 128x128 image of three flat colour regions and its true label map."""
    lab = np.zeros((128, 128), int)
    lab[20:70, 30:100] = 1
    lab[80:120, 10:60] = 2
    colours = np.array([[20, 30, 200], [230, 40, 40], [40, 220, 60]], np.uint8)
    return colours[lab], lab


# --- images ---------------------------------------------------------------------------------
def test_training_and_evaluation_photographs_are_disjoint():
    tr, ev = images.load_sources("train"), images.load_sources("eval")
    assert {s.sha256 for s in tr}.isdisjoint({s.sha256 for s in ev})
    crops, man = images.training_crops(12, seed=3)
    ev_imgs, names, man_ev = images.evaluation_set(3)
    assert crops.shape == (12, 128, 128, 3) and crops.dtype == np.uint8
    assert ev_imgs.shape == (9, 128, 128, 3) and len(names) == 9
    assert set(man["image_sha256"]).isdisjoint(man_ev["image_sha256"])
    again, _, _ = images.evaluation_set(3)
    assert np.array_equal(again, ev_imgs)                        # reproducible


def test_shipped_checkpoint_never_saw_the_evaluation_images():
    from lamsc_sdr.lam_sc.model import DEFAULT_CHECKPOINT
    if not DEFAULT_CHECKPOINT.is_file():
        pytest.skip("no shipped checkpoint")
    codec = LamScCodec.load()
    ev_imgs, _, man_ev = images.evaluation_set(16)
    assert set(codec.meta["training_image_sha256"]).isdisjoint(man_ev["image_sha256"])
    ev_sources = {s["sha256"] for s in man_ev["sources"]}
    assert ev_sources.isdisjoint({s["sha256"] for s in codec.meta["training_images"]["sources"]})


def test_bad_image_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="no such folder"):
        images.load_image_dir(tmp_path / "nope")
    with pytest.raises(ConfigError, match="no image files"):
        images.load_image_dir(tmp_path)
    (tmp_path / "x.png").write_bytes(b"not a png")
    with pytest.raises(ConfigError, match="cannot read image"):
        images.load_image_dir(tmp_path)


# --- segmenter ------------------------------------------------------------------------------
def test_classical_segmenter_recovers_flat_regions():
    img, truth = blocks_image()
    seg = ClassicalSegmenter().segment(img)
    assert seg.stand_in and "stand-in" in seg.label
    assert len(seg) == 3
    for k in range(3):                           # every true region is one segment, exactly
        assert any(np.array_equal(m, truth == k) for m in seg.masks)


def test_cut_threshold_matches_scikit_image_rag():
    """Our fast RAG cut against scikit-image's own rag_mean_color + cut_threshold."""
    from skimage import graph
    from skimage.segmentation import slic
    img = images.evaluation_set(1)[0][0]
    sp = slic(img, n_segments=80, compactness=10, start_label=0)
    ref = graph.cut_threshold(sp, graph.rag_mean_color(img, sp), 28.0)
    ours = _cut_threshold(sp, img.astype(np.float32), 28.0)
    # same partition up to label names
    pairs = set(zip(ref.ravel().tolist(), ours.ravel().tolist()))
    assert len(pairs) == len(np.unique(ref)) == len(np.unique(ours))


def test_saliency_finds_the_odd_patch():
    # a textured grey field (a perfectly flat one has exact spectral zeros no photo has)
    rng = np.random.default_rng(0)
    img = np.clip(120 + rng.normal(0, 8, (128, 128, 3)), 0, 255).astype(np.uint8)
    img[20:36, 80:96] = 250
    s = spectral_residual_saliency(img, center_prior=0)
    assert s.shape == (128, 128) and 0 <= s.min() and s.max() <= 1
    assert s[20:36, 80:96].mean() > 5 * s.mean()


# --- ASI ------------------------------------------------------------------------------------
def test_asi_shapes_selection_and_prompt():
    img, truth = blocks_image()
    masks = np.stack([truth == k for k in range(3)])
    x, valid = segment_channels(img, masks, 12)
    assert x.shape == (12, 64, 64) and valid.sum() == 3
    model = ASI(AsiConfig(max_segments=12))
    lg = model(torch.from_numpy(x)[None], torch.from_numpy(valid)[None])
    assert lg.shape == (1, 12) and torch.isinf(lg[0, 3:]).all()
    sel = select(np.array([-5.0, -4.0, -3.0]), np.ones(3, bool))
    assert sel.tolist() == [False, False, True]                 # at least the top one
    sel = prompt_selection(masks, [(40, 30)])                    # (x, y) inside region 1
    assert sel.tolist() == [False, True, False]
    with pytest.raises(ConfigError, match="outside"):
        prompt_selection(masks, [(500, 3)])
    sa, region = semantic_aware(img, masks, sel)
    assert np.array_equal(region, truth == 1)
    assert (sa[~region] == 0).all() and np.array_equal(sa[region], img[region])


# --- model ----------------------------------------------------------------------------------
def test_feature_shapes_and_symbol_count():
    assert feature_side(128) == 29 and feature_side(64) == 13
    with pytest.raises(ShapeError):
        feature_side(130)
    torch.manual_seed(0)
    m = LamScModel(ModelConfig())
    x = torch.rand(2, 3, 128, 128)
    assert m.enc(x).shape == (2, 32, 29, 29)
    assert m.dec(m.enc(x)).shape == (2, 3, 128, 128)
    codec = LamScCodec(m)
    img = (np.random.default_rng(0).random((128, 128, 3)) * 255).astype(np.uint8)
    s, mask = codec.encode(img, use_mask=False)
    assert mask.shape == (29, 29) and mask.all() and s.size == 29 * 29 * 16 and s.dtype == np.complex64
    assert abs(np.mean(np.abs(s) ** 2) - 1) < 1e-4                 # unit average power
    assert codec.decode(s, mask).shape == (128, 128, 3)
    with pytest.raises(ShapeError, match="symbols for"):
        codec.decode(s[:-1], mask)
    with pytest.raises(ShapeError, match="uint8"):
        codec.encode(img.astype(np.float32))


def test_masked_positions_are_not_sent():
    torch.manual_seed(0)
    m = LamScModel(ModelConfig(threshold=0.5))
    with torch.no_grad():
        m.masknet.conv2.bias.fill_(-5.0)                          # net says "drop"
        m.masknet.conv2.weight.zero_()
        m.masknet.conv2.weight[0, 0, 1, 1] = 0.0
    codec = LamScCodec(m)
    img = np.zeros((128, 128, 3), np.uint8)
    s, mask = codec.encode(img, use_mask=True)
    assert not mask.any() and s.size == 0
    rec = codec.decode(s, mask)
    assert rec.shape == (128, 128, 3)


def test_fill_keeps_known_positions_and_averages_neighbours():
    f = torch.arange(2 * 5 * 5, dtype=torch.float32).reshape(1, 2, 5, 5)
    mask = torch.ones(1, 1, 5, 5)
    assert torch.equal(fill_masked(f, mask, torch.zeros(2)), f)
    mask[0, 0, 2, 2] = 0
    out = fill_masked(f, mask, torch.zeros(2), iters=1)
    nb = torch.cat([f[0, :, 1:4, 1:4].reshape(2, -1)[:, :4], f[0, :, 1:4, 1:4].reshape(2, -1)[:, 5:]], 1)
    assert torch.allclose(out[0, :, 2, 2], nb.mean(1))
    empty = fill_masked(f, torch.zeros(1, 1, 5, 5), torch.tensor([7.0, -1.0]))
    assert torch.allclose(empty[0, 0], torch.full((5, 5), 7.0))


def test_mask_side_information_round_trip():
    rng = np.random.default_rng(0)
    mask = rng.random((29, 29)) < 0.3
    bits = mask_to_bits(mask)
    assert np.array_equal(bits_to_mask(bits, 29), mask)
    with pytest.raises(ShapeError):
        bits_to_mask(np.ones(64, np.uint8), 29)


def test_checkpoint_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        LamScCodec.load(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"junk")
    with pytest.raises(CheckpointMismatchError):
        LamScCodec.load(bad)
    other = tmp_path / "other.pt"
    torch.save({"format": "something-else"}, other)
    with pytest.raises(CheckpointMismatchError, match="not a LAM-SC"):
        LamScCodec.load(other)


# --- JPEG baseline: the digital cliff -------------------------------------------------------
def test_jpeg_fits_budget_and_falls_off_the_cliff():
    from lamsc_sdr.lam_sc import jpeg as jp
    from lamsc_sdr.phy import crc, fec
    from lamsc_sdr.phy.config import FrameConfig
    from lamsc_sdr.phy.frame import FrameTransmitter
    from lamsc_sdr.phy.header import FrameHeader
    fc = FrameConfig()
    img = images.evaluation_set(1)[0][0]
    import dataclasses
    tx = FrameTransmitter(dataclasses.replace(fc, payload_modulation="qpsk", payload_code_rate="1/2"))
    one_frame = jp._coded_symbols(tx.capacity_bits, "qpsk", "1/2")
    data, q = jp.fit_jpeg(img, one_frame, fc, "qpsk-1/2")
    assert data is not None and 1 <= q <= 95
    need = jp.symbols_needed(8 * len(data), fc, "qpsk", "1/2")
    assert need <= one_frame
    assert jp.fit_jpeg(img, 2000, fc, "qpsk-1/2")[0] is None         # even quality 1 needs more
    # our symbol count equals the data symbols the real frame transmitter sends
    bits = np.unpackbits(np.frombuffer(data, np.uint8))
    coded = fec.interleave(fec.puncture(fec.conv_encode(crc.append_crc(bits, "crc32")), "1/2"))
    assert need == -(-coded.size // 2)
    assert tx.modulate_bits(bits, FrameHeader()).size > 0
    rng = np.random.default_rng(0)
    got, used = jp.send_awgn(data, fc, "qpsk-1/2", 12.0, rng)
    assert got == data and used == need
    lost, _ = jp.send_awgn(data, fc, "qpsk-1/2", -4.0, rng)
    assert lost is None
    out, ok = jp.receive_image(None, img.shape)
    assert not ok and (out == jp.LOST_GREY).all()


# --- statistics -----------------------------------------------------------------------------
def test_mean_interval_against_scipy():
    from scipy import stats

    from lamsc_sdr.lam_sc.metrics import mean_ci, psnr, ssim
    x = np.array([0.5, 0.7, 0.6, 0.9, 0.8])
    r = mean_ci(x)
    lo, hi = stats.t.interval(0.95, 4, loc=x.mean(), scale=stats.sem(x))
    assert r["n"] == 5 and abs(r["ci_low"] - lo) < 1e-12 and abs(r["ci_high"] - hi) < 1e-12
    img = images.evaluation_set(1)[0][0]
    assert ssim(img, img) == pytest.approx(1.0) and psnr(img, img) == 100.0
    noisy = np.clip(img + np.random.default_rng(0).normal(0, 10, img.shape), 0, 255).astype(np.uint8)
    assert psnr(img, noisy) == pytest.approx(10 * np.log10(255 ** 2 / np.mean((img - noisy.astype(float)) ** 2)))


def test_symbol_awgn_has_the_stated_noise_power():
    from lamsc_sdr.lam_sc.evaluate import awgn_symbols
    s = np.ones(200_000, np.complex64)
    y = awgn_symbols(s, 10.0, np.random.default_rng(0))
    assert np.var(y - s) == pytest.approx(0.1, rel=0.02)


def test_training_ssim_matches_scikit_image():
    """The differentiable SSIM the mask net trains on is scikit-image's measure."""
    from lamsc_sdr.lam_sc.metrics import ssim
    from lamsc_sdr.lam_sc.train import ssim_torch
    a = images.evaluation_set(1)[0][0]
    b = np.clip(a + np.random.default_rng(0).normal(0, 20, a.shape), 0, 255).astype(np.uint8)
    t = lambda x: torch.from_numpy(x).permute(2, 0, 1)[None].float() / 255  # noqa: E731
    assert float(ssim_torch(t(a), t(b))) == pytest.approx(ssim(a, b), abs=1e-4)


def test_receptive_support_and_black_fill():
    """A pixel at (64, 64) lies in the 16x16 (stride 4) receptive fields of positions 13..16."""
    from lamsc_sdr.lam_sc.model import receptive_support
    region = np.zeros((128, 128), bool)
    region[64, 64] = True
    sup = receptive_support(region).numpy().astype(bool)
    want = np.zeros((29, 29), bool)
    want[13:17, 13:17] = True
    assert np.array_equal(sup, want)
    torch.manual_seed(0)
    m = LamScModel(ModelConfig(threshold=SEND_ALL))
    m.set_black()
    codec = LamScCodec(m)
    black = np.zeros((128, 128, 3), np.uint8)
    s, mask = codec.encode(black, use_mask=True, support=region)
    assert np.array_equal(mask, want) and s.size == 16 * 16
    # nothing sent, black fill: the decoder's output for an all-black feature map
    none = np.zeros((29, 29), bool)
    with torch.no_grad():
        ref = m.dec(m.black.view(1, -1, 1, 1).expand(1, 32, 29, 29))[0].permute(1, 2, 0).numpy()
    out = codec.decode(np.zeros(0, np.complex64), none, fill="black")
    assert np.array_equal(out, np.clip(np.rint(ref * 255), 0, 255).astype(np.uint8))
