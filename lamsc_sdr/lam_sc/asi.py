"""ASI: attention-based semantic integration. Which segments are worth sending?

Each segment is one input channel: the image's luminance inside the segment, zero outside, at
64x64 (``segment_channels``): x (B, K, 64, 64) with K = ``max_segments`` (missing segments are
zero channels, ``valid`` False).

* **Channel attention** (the paper's two blocks): max pooling per channel + two 1x1 conv layers,
  and average pooling per channel + two 1x1 conv layers; summed -> per-segment logit (B, K).
* **Spatial attention**: average and max pooling across the K channels (+ two coordinate planes,
  so the single conv layer can learn where in the frame things matter), concatenated, one 7x7 conv
  -> sigmoid map (B, 1, 64, 64); a segment's spatial score is the map's mean over the segment.
* **Output head**: a linear layer on (channel logit, spatial score) -> importance logit (B, K).

Selection: importance > 0.5 (at least the top segment), or a human prompt: points (x, y) whose
segments are selected (``prompt_selection``). ``semantic_aware`` merges the selected segments into
the semantic-aware image (the rest black).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..errors import ConfigError, ShapeError

ASI_SIDE = 64


@dataclass(frozen=True)
class AsiConfig:
    max_segments: int = 12
    reduction: int = 2


def segment_channels(img: np.ndarray, masks: np.ndarray, max_segments: int) -> tuple[np.ndarray, np.ndarray]:
    """img (H, W, 3) uint8, masks (K, H, W) bool -> x (max_segments, 64, 64) float32, valid
    (max_segments,) bool. Segments beyond ``max_segments`` are dropped (masks come largest first)."""
    from scipy.ndimage import zoom
    h, w = img.shape[:2]
    lum = img.astype(np.float32).mean(axis=2) / 255.0
    x = np.zeros((max_segments, ASI_SIDE, ASI_SIDE), np.float32)
    valid = np.zeros(max_segments, bool)
    for k, m in enumerate(masks[:max_segments]):
        x[k] = zoom(lum * m, (ASI_SIDE / h, ASI_SIDE / w), order=1)[:ASI_SIDE, :ASI_SIDE]
        valid[k] = True
    return x, valid


class ASI(nn.Module):
    """x (B, K, 64, 64) float, valid (B, K) bool -> importance logits (B, K) (-inf where invalid)."""

    def __init__(self, c: AsiConfig = AsiConfig()):
        super().__init__()
        self.cfg = c
        k, r = c.max_segments, max(1, c.max_segments // c.reduction)
        self.max_branch = nn.Sequential(nn.Conv2d(k, r, 1), nn.ReLU(), nn.Conv2d(r, k, 1))
        self.avg_branch = nn.Sequential(nn.Conv2d(k, r, 1), nn.ReLU(), nn.Conv2d(r, k, 1))
        self.spatial = nn.Conv2d(4, 1, 7, padding=3)
        self.head = nn.Linear(2, 1)
        yy, xx = torch.meshgrid(torch.linspace(-1, 1, ASI_SIDE), torch.linspace(-1, 1, ASI_SIDE), indexing="ij")
        self.register_buffer("coords", torch.stack([yy, xx])[None])

    def forward(self, x, valid):
        if x.shape[1] != self.cfg.max_segments:
            raise ShapeError(f"ASI expects {self.cfg.max_segments} segment channels, got {x.shape[1]}")
        ca = (self.max_branch(F.adaptive_max_pool2d(x, 1)) + self.avg_branch(F.adaptive_avg_pool2d(x, 1)))[:, :, 0, 0]
        xa = x * torch.sigmoid(ca)[:, :, None, None]                              # channel-attended
        sp_in = torch.cat([xa.mean(1, keepdim=True), xa.amax(1, keepdim=True), self.coords.expand(len(x), -1, -1, -1)], 1)
        sa = torch.sigmoid(self.spatial(sp_in))                                   # (B, 1, 64, 64)
        support = (x > 0).to(x.dtype)
        sp_score = (sa * support).sum((2, 3)) / support.sum((2, 3)).clamp(min=1)  # (B, K)
        logit = self.head(torch.stack([ca, sp_score], -1))[..., 0]
        return logit.masked_fill(~valid, float("-inf"))


def select(logits: np.ndarray, valid: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Importance logits (K,) -> selected (K,) bool: probability > threshold, at least the top one."""
    p = 1 / (1 + np.exp(-np.where(valid, logits, -np.inf)))
    sel = (p > threshold) & valid
    if not sel.any() and valid.any():
        sel[int(np.argmax(np.where(valid, logits, -np.inf)))] = True
    return sel


def prompt_selection(masks: np.ndarray, points: list[tuple[int, int]]) -> np.ndarray:
    """A human prompt: the segments containing any of the (x, y) pixel points. masks (K, H, W)
    -> (K,) bool. ConfigError for a point outside the image or on no segment."""
    k, h, w = masks.shape
    sel = np.zeros(k, bool)
    for x, y in points:
        if not (0 <= x < w and 0 <= y < h):
            raise ConfigError(f"prompt point ({x}, {y}) is outside the {w}x{h} image")
        hit = np.flatnonzero(masks[:, y, x])
        if hit.size == 0:
            raise ConfigError(f"prompt point ({x}, {y}) is on no segment")
        sel[hit[0]] = True
    return sel


def semantic_aware(img: np.ndarray, masks: np.ndarray, selected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge the selected segments: img (H, W, 3) uint8 -> (semantic-aware image (H, W, 3) uint8
    with the rest black, region (H, W) bool)."""
    region = masks[np.asarray(selected, bool)].any(axis=0) if np.any(selected) else np.zeros(img.shape[:2], bool)
    return np.where(region[..., None], img, 0).astype(np.uint8), region


class AsiSelector:
    """A trained ASI: ``choose(img, segments) -> selected (K,) bool``."""

    def __init__(self, model: ASI):
        self.model = model.eval()

    @torch.inference_mode()
    def logits(self, img: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x, valid = segment_channels(img, masks, self.model.cfg.max_segments)
        out = self.model(torch.from_numpy(x)[None], torch.from_numpy(valid)[None])[0].numpy()
        return out, valid

    def choose(self, img: np.ndarray, masks: np.ndarray) -> np.ndarray:
        lg, valid = self.logits(img, masks)
        sel = select(lg, valid)
        out = np.zeros(len(masks), bool)
        out[: sel.size] = sel[: len(masks)]
        return out

    def state(self) -> dict:
        return {"asi_config": asdict(self.model.cfg), "asi_state_dict": self.model.state_dict()}

    @classmethod
    def from_state(cls, ck: dict) -> "AsiSelector":
        m = ASI(AsiConfig(**ck["asi_config"]))
        m.load_state_dict(ck["asi_state_dict"])
        return cls(m)
