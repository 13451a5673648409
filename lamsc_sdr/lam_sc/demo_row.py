"""One image through the whole LAM-SC chain over a radio, with its pictures: what ``lamsc link
IMAGE --codec lam-sc`` prints and what the demo report's LAM-SC row shows (original, segments,
semantic-aware image, recovered image, mask ratio, air time)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .asi import prompt_selection, semantic_aware
from .images import center_square, read_rgb


def segments_picture(img: np.ndarray, masks: np.ndarray, selected: np.ndarray) -> np.ndarray:
    """Segment boundaries drawn on the image; unselected segments dimmed. -> (H, W, 3) uint8."""
    from skimage.segmentation import find_boundaries
    lab = np.full(img.shape[:2], -1, np.int32)
    for k in range(len(masks) - 1, -1, -1):
        lab[masks[k]] = k
    sel_px = np.isin(lab, np.flatnonzero(selected))
    out = np.where(sel_px[..., None], img, (img * 0.35).astype(np.uint8)).astype(np.uint8)
    out[find_boundaries(lab, mode="inner")] = (255, 220, 0)
    return out


def square_point(x: int, y: int, shape: tuple[int, int], size: int) -> tuple[int, int]:
    """A point (x, y) of the original (H, W) image -> its pixel in the centred square resized to
    ``size`` (what ``images.center_square`` makes). ConfigError outside that square."""
    from ..errors import ConfigError
    h, w = shape
    s = min(h, w)
    x0, y0 = (w - s) // 2, (h - s) // 2
    if not (0 <= x < w and 0 <= y < h):
        raise ConfigError(f"prompt point ({x}, {y}) is outside the {w}x{h} image")
    if not (x0 <= x < x0 + s and y0 <= y < y0 + s):
        raise ConfigError(f"prompt point ({x}, {y}) is outside the centred {s}x{s} square that is sent "
                          f"(x in [{x0}, {x0 + s}), y in [{y0}, {y0 + s}))")
    return int((x - x0) * size // s), int((y - y0) * size // s)


def send_image(path, radio, run_cfg, *, codec=None, segmenter=None, out_dir="out/link", prompt=None,
               message_id: int = 1) -> dict:
    """Segment (offline stand-in unless ``segmenter``), select (ASI, or ``prompt`` (x, y) points),
    merge, encode with ASC, send the mask (digital) and symbols (analog) in OFDM frames over
    ``radio``, decode. Writes four PNGs into ``out_dir``; returns the row's fields."""
    from PIL import Image

    from ..errors import ConfigError
    from .evaluate import SIDE_MCS, side_uses
    from .jpeg import parse_mcs
    from .link import Item, transmit
    from .metrics import psnr, ssim
    from .model import LamScCodec, support_map
    from .segment import ClassicalSegmenter
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"no such image file: {p}")
    codec = codec or LamScCodec.load()
    segmenter = segmenter or ClassicalSegmenter()
    raw = read_rgb(p)
    img = center_square(raw)
    seg = segmenter.segment(img)
    pts = [square_point(x, y, raw.shape[:2], img.shape[0]) for x, y in prompt] if prompt else None
    sel = prompt_selection(seg.masks, pts) if pts else codec.selector().choose(img, seg.masks)
    sa, region = semantic_aware(img, seg.masks, sel)
    sym, mask, scale = codec.encode(sa, use_mask=True, support=region, with_scale=True)
    sup = support_map(region, codec.cfg.depth)
    side_bits, side = side_uses(mask, run_cfg.frame, sup, scale)
    mod, rate = parse_mcs(SIDE_MCS)
    items = ([Item(bits=side_bits, modulation=mod, code_rate=rate)] if side_bits is not None else []) + [Item(symbols=sym)]
    link = transmit(radio, run_cfg, items, message_id=message_id)
    mask_ok = side_bits is None or items[0].received is not None
    rec = codec.decode(items[-1].received, mask, support=sup, scale=scale) if mask_ok else np.zeros_like(sa)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, arr in (("original", img), ("segments", segments_picture(img, seg.masks, sel)),
                      ("semantic_aware", sa), ("recovered", rec)):
        files[name] = str(out / f"{p.stem}_lamsc_{name}.png")
        Image.fromarray(arr).save(files[name])
    sc_uses = int(mask.size) * codec.cfg.symbols_per_position
    return {"source": str(p), "segmenter": seg.label, "stand_in": seg.stand_in, "segments": len(seg),
            "selected": int(np.sum(sel)), "selection": "human prompt" if prompt else "ASI",
            "prompt": [list(q) for q in prompt] if prompt else None, "prompt_in_square": pts,
            "region_fraction": float(region.mean()), "mask_ratio": float(mask.mean()),
            "channel_uses": int(sym.size + side), "sc_channel_uses": sc_uses,
            "bits": int(mask.sum()) * codec.cfg.features, "raw_values": int(img.size),
            "frames": link["frames"], "air_time_s": link["air_time_s"], "rx_snr_db": link["snr_db"],
            "mask_delivered": mask_ok, "ssim_sa": ssim(sa, rec), "psnr_sa_db": psnr(sa, rec),
            "recovered": files["recovered"], "files": files}
