"""Import ``segment_anything`` where torchvision is missing.

The ``segment-anything`` package imports four torchvision functions (``resize`` and
``to_pil_image`` on PIL images, ``batched_nms`` and ``box_area`` on boxes). PyPI offers no CPU
torchvision built for this project's pinned CPU torch (the CUDA wheel fails to register its
operators), so when ``import torchvision`` fails a minimal stand-in module providing exactly those
four functions (PIL and torch, same semantics) is registered for the import and removed from
``sys.modules`` right after it (other libraries probe for torchvision and must not find a fake
one). A real torchvision, where installed, is always used instead.
"""
from __future__ import annotations

import sys
import types


def _nms(boxes, scores, iou_threshold: float):
    """Greedy NMS. boxes (N, 4) x0,y0,x1,y1 float; scores (N,). Output: kept indices (M,) int64,
    in decreasing score order (torchvision.ops.nms semantics)."""
    import torch
    order = torch.argsort(scores, descending=True)
    keep = []
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    while order.numel():
        i = order[0]
        keep.append(int(i))
        if order.numel() == 1:
            break
        rest = order[1:]
        lt = torch.maximum(boxes[i, :2], boxes[rest, :2])
        rb = torch.minimum(boxes[i, 2:], boxes[rest, 2:])
        inter = (rb - lt).clamp(min=0).prod(dim=1)
        iou = inter / (area[i] + area[rest] - inter)
        order = rest[iou <= iou_threshold]
    return torch.tensor(keep, dtype=torch.int64)


def _batched_nms(boxes, scores, idxs, iou_threshold: float):
    """NMS within each category ``idxs`` (torchvision's coordinate-offset trick)."""
    import torch
    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.int64)
    offsets = idxs.to(boxes) * (boxes.max() + 1)
    return _nms(boxes + offsets[:, None], scores, iou_threshold)


def _box_area(boxes):
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def _to_pil_image(arr):
    from PIL import Image
    import numpy as np
    return Image.fromarray(np.asarray(arr))


def _resize(img, size):
    """PIL image -> PIL image of (h, w) = size, bilinear (torchvision's default for PIL)."""
    from PIL import Image
    h, w = size
    return img.resize((w, h), Image.BILINEAR)


def _install_stand_in() -> None:
    tv = types.ModuleType("torchvision")
    tv.__lamsc_stand_in__ = True
    ops, boxes = types.ModuleType("torchvision.ops"), types.ModuleType("torchvision.ops.boxes")
    tr, fn = types.ModuleType("torchvision.transforms"), types.ModuleType("torchvision.transforms.functional")
    boxes.batched_nms, boxes.box_area, boxes.nms = _batched_nms, _box_area, _nms
    ops.boxes, ops.batched_nms, ops.box_area, ops.nms = boxes, _batched_nms, _box_area, _nms
    fn.resize, fn.to_pil_image = _resize, _to_pil_image
    tr.functional = fn
    tv.ops, tv.transforms = ops, tr
    for m in (ops, boxes, tr, fn):
        m.__lamsc_stand_in__ = True
    sys.modules.update({"torchvision": tv, "torchvision.ops": ops, "torchvision.ops.boxes": boxes,
                        "torchvision.transforms": tr, "torchvision.transforms.functional": fn})


def import_segment_anything():
    """The ``segment_anything`` module (ConfigError when the package is not installed)."""
    from ..errors import ConfigError
    stand_in = False
    try:
        import torchvision  # noqa: F401
    except ImportError:
        _install_stand_in()
        stand_in = True
    try:
        import segment_anything
    except ImportError as err:
        raise ConfigError(f"the SAM backend needs the segment-anything package ({err}); "
                          "pip install 'segment-anything==1.0'") from err
    finally:
        if stand_in:          # segment_anything holds the functions now; other libraries must not see it
            for name in [k for k in sys.modules if k == "torchvision" or k.startswith("torchvision.")]:
                if getattr(sys.modules[name], "__lamsc_stand_in__", False):
                    del sys.modules[name]
    return segment_anything
