"""The real-SAM backend's loading code, on a tiny randomly initialized SAM the test builds with the
``segment-anything`` package itself (no weights ship offline)."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lamsc_sdr.errors import CheckpointMismatchError, ConfigError  # noqa: E402
from lamsc_sdr.lam_sc.sam_compat import _batched_nms, _nms, import_segment_anything  # noqa: E402

TINY = {"embed_dim": 32, "depth": 2, "num_heads": 2, "global_attn_indexes": [1]}


@pytest.fixture(scope="module")
def sa():
    try:
        return import_segment_anything()
    except ConfigError as err:
        pytest.skip(str(err))


@pytest.fixture(scope="module")
def tiny_ckpt(sa, tmp_path_factory):
    torch.manual_seed(0)
    import importlib
    model = importlib.import_module("segment_anything.build_sam")._build_sam(encoder_embed_dim=TINY["embed_dim"], encoder_depth=TINY["depth"],
                                    encoder_num_heads=TINY["num_heads"],
                                    encoder_global_attn_indexes=TINY["global_attn_indexes"], checkpoint=None)
    path = tmp_path_factory.mktemp("sam") / "tiny_sam.pth"
    torch.save(model.state_dict(), path)
    return path, model.state_dict()


def test_tiny_sam_loads_bit_exact(tiny_ckpt):
    from lamsc_sdr.lam_sc.segment import load_sam
    path, state = tiny_ckpt
    model = load_sam(path, TINY)
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k


def test_tiny_sam_segments_through_our_interface(tiny_ckpt):
    from lamsc_sdr.lam_sc.segment import SamSegmenter
    path, _ = tiny_ckpt
    seg = SamSegmenter(path, TINY, points_per_side=2, pred_iou_thresh=-10.0, stability_score_thresh=-10.0,
                       max_segments=3)
    img = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    out = seg.segment(img)
    assert out.backend == "sam" and not out.stand_in
    assert out.masks.dtype == bool and out.masks.shape[1:] == (48, 64) and len(out) <= 3
    assert out.saliency.shape == (len(out),)


def test_sam_checkpoint_errors(tiny_ckpt, tmp_path):
    from lamsc_sdr.lam_sc.segment import load_sam, make_segmenter
    path, state = tiny_ckpt
    with pytest.raises(ConfigError, match="not found"):
        make_segmenter(f"sam:{tmp_path / 'missing.pth'}")
    with pytest.raises(CheckpointMismatchError, match="vit_b/l/h"):
        load_sam(path)                                   # width 32 is no standard SAM: must be told
    wrong = dict(TINY, depth=3)
    with pytest.raises(CheckpointMismatchError, match="do not fit"):
        load_sam(path, wrong)
    bad = tmp_path / "other.pth"
    torch.save({"weight": torch.zeros(2)}, bad)
    with pytest.raises(CheckpointMismatchError, match="not a SAM checkpoint"):
        load_sam(bad)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointMismatchError):
        load_sam(junk)


def test_nms_stand_in_matches_brute_force():
    """Our torchvision stand-in against a direct O(n^2) greedy NMS."""
    g = torch.Generator().manual_seed(1)
    xy = torch.rand(40, 2, generator=g) * 50
    boxes = torch.cat([xy, xy + 5 + torch.rand(40, 2, generator=g) * 20], 1)
    scores = torch.rand(40, generator=g)

    def iou(a, b):
        lt, rb = torch.maximum(a[:2], b[:2]), torch.minimum(a[2:], b[2:])
        inter = (rb - lt).clamp(min=0).prod()
        area = lambda z: (z[2] - z[0]) * (z[3] - z[1])  # noqa: E731
        return inter / (area(a) + area(b) - inter)

    ref, order = [], torch.argsort(scores, descending=True).tolist()
    for i in order:
        if all(iou(boxes[i], boxes[j]) <= 0.3 for j in ref):
            ref.append(i)
    assert _nms(boxes, scores, 0.3).tolist() == ref
    cats = torch.zeros(40, dtype=torch.long)
    assert _batched_nms(boxes, scores, cats, 0.3).tolist() == ref


def test_stand_in_does_not_leak_to_other_libraries(sa):
    """After importing SAM, other libraries probing for torchvision see the truth."""
    import importlib.util
    import sys
    try:
        import torchvision  # noqa: F401
        pytest.skip("a real torchvision is installed")
    except ImportError:
        pass
    assert "torchvision" not in sys.modules
    assert importlib.util.find_spec("torchvision") is None
