"""The ASI's experience base: segmented training images with a 0/1 "worth sending" label per
segment, built reproducibly (seeded crops, deterministic segmenter, stated label source).

Label sources (``label_source``, recorded in the base and in every checkpoint trained on it):

* ``saliency`` (default; no human at hand): segments ranked by mean spectral-residual saliency
  with a centre prior; taken greedily while their saliency is at least ``rel`` times the top
  segment's and the selected area stays within ``max_area`` of the image (the top segment is
  always taken). A stated proxy for a person's choice, not a person's choice.
* ``prompt-file``: a JSON file ``{"<image sha256>": [[x, y], ...]}`` of human click points; the
  segments under the points are the labels (images without an entry are skipped).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..errors import ConfigError
from .asi import prompt_selection, semantic_aware
from .images import pixel_hash


def saliency_labels(masks: np.ndarray, saliency: np.ndarray, rel: float = 0.6, max_area: float = 0.5) -> np.ndarray:
    """masks (K, H, W) bool, saliency (K,) -> labels (K,) bool (see the module docstring)."""
    k = len(masks)
    out = np.zeros(k, bool)
    if k == 0:
        return out
    area = masks.reshape(k, -1).mean(axis=1)
    order = np.argsort(-saliency, kind="stable")
    top = saliency[order[0]]
    total = 0.0
    for i in order:
        if out.any() and (saliency[i] < rel * top or total + area[i] > max_area):
            continue
        out[i] = True
        total += area[i]
    return out


@dataclass
class ExperienceBase:
    """images (N, H, W, 3) uint8; segments (N, H, W) int8 label maps (-1 none); labels (N, K) bool;
    n_segments (N,) int; meta: how it was made."""

    images: np.ndarray
    segments: np.ndarray
    labels: np.ndarray
    n_segments: np.ndarray
    meta: dict

    def masks(self, i: int) -> np.ndarray:
        return np.stack([self.segments[i] == k for k in range(int(self.n_segments[i]))])

    def semantic_aware(self, i: int) -> np.ndarray:
        return semantic_aware(self.images[i], self.masks(i), self.labels[i, : self.n_segments[i]])[0]

    def save(self, path: str | Path) -> None:
        np.savez_compressed(path, images=self.images, segments=self.segments, labels=self.labels,
                            n_segments=self.n_segments, meta=json.dumps(self.meta))

    @classmethod
    def load(cls, path: str | Path) -> "ExperienceBase":
        try:
            z = np.load(path, allow_pickle=False)
            return cls(z["images"], z["segments"], z["labels"], z["n_segments"], json.loads(str(z["meta"])))
        except (OSError, KeyError, ValueError) as err:
            raise ConfigError(f"{path}: not an experience base ({err})") from err


def build(images: np.ndarray, segmenter, label_source: str = "saliency", prompt_file: str | None = None,
          max_segments: int = 12, progress: bool = True) -> ExperienceBase:
    """Segment every image and label its segments. images (N, H, W, 3) uint8."""
    prompts = None
    if label_source == "prompt-file":
        if not prompt_file:
            raise ConfigError("label source prompt-file needs --prompt-file")
        try:
            prompts = json.loads(Path(prompt_file).read_text())
        except (OSError, ValueError) as err:
            raise ConfigError(f"cannot read prompt file {prompt_file}: {err}") from err
    elif label_source != "saliency":
        raise ConfigError(f"label source must be saliency or prompt-file, got {label_source!r}")
    keep, segs, labels, ns = [], [], [], []
    for img in tqdm(images, desc="experience base", disable=not progress, leave=False):
        ss = segmenter.segment(img)
        masks = ss.masks[:max_segments]
        if prompts is not None:
            pts = prompts.get(pixel_hash(img))
            if not pts:
                continue
            lab = prompt_selection(masks, [tuple(p) for p in pts])
        else:
            lab = saliency_labels(masks, ss.saliency[:max_segments])
        lm = np.full(img.shape[:2], -1, np.int8)
        for k in range(len(masks) - 1, -1, -1):
            lm[masks[k]] = k
        row = np.zeros(max_segments, bool)
        row[: lab.size] = lab
        keep.append(img)
        segs.append(lm)
        labels.append(row)
        ns.append(len(masks))
    if not keep:
        raise ConfigError("the experience base is empty (no prompt matched any image)")
    meta = {"label_source": label_source, "prompt_file": prompt_file, "segmenter": segmenter.name,
            "segmenter_stand_in": bool(segmenter.stand_in), "max_segments": max_segments, "n": len(keep),
            "label_rule": "saliency: rel=0.6 of top segment, selected area <= 0.5" if prompts is None else
            "human click points"}
    return ExperienceBase(np.stack(keep), np.stack(segs), np.stack(labels), np.array(ns), meta)
