"""SKB: segmenter backends behind one interface.

``Segmenter.segment(image) -> SegmentSet``; ``make_segmenter(spec)`` picks one:

* ``sam:PATH[:TYPE]`` -- the real Segment Anything Model (``segment-anything`` package) from a
  user-supplied checkpoint (``sam_vit_b_01ec64.pth`` ...; TYPE vit_b | vit_l | vit_h, inferred from
  the weights when omitted), automatic mask generation over a point grid. No weights ship
  offline, so this backend runs only where a user has a checkpoint.
* ``classical`` (the offline default) -- scikit-image SLIC superpixels merged over the region
  adjacency graph (mean-colour threshold, then smallest-into-most-similar until at most
  ``max_segments``), each segment scored by spectral-residual saliency (Hou & Zhang, CVPR 2007)
  with a centre prior. It is a **stand-in** for SAM, and every output says so
  (``SegmentSet.stand_in``, :data:`lamsc_sdr.lam_sc.STAND_IN`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import CheckpointMismatchError, ConfigError, ShapeError
from . import STAND_IN


@dataclass
class SegmentSet:
    """Segments of one image. ``masks``: (K, H, W) bool, largest first; ``saliency``: (K,) float
    mean saliency of each segment (None when the backend has none); ``label``: what made them."""

    masks: np.ndarray
    backend: str
    stand_in: bool
    saliency: np.ndarray | None = None
    label: str = ""
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.masks.shape[0])

    def label_map(self) -> np.ndarray:
        """(H, W) int: index of the first segment covering each pixel, -1 where none."""
        out = np.full(self.masks.shape[1:], -1, np.int32)
        for k in range(len(self) - 1, -1, -1):
            out[self.masks[k]] = k
        return out


def check_image(img: np.ndarray) -> np.ndarray:
    a = np.asarray(img)
    if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8:
        raise ShapeError(f"image must be (H, W, 3) uint8, got {a.shape} {a.dtype}")
    return a


def spectral_residual_saliency(img: np.ndarray, center_prior: float = 0.35) -> np.ndarray:
    """Spectral-residual saliency (Hou & Zhang 2007) at 64x64, blurred, with a Gaussian centre
    prior of relative width ``center_prior`` (0 disables). Input (H, W, 3) uint8; output (H, W)
    float32 in [0, 1]."""
    from scipy.ndimage import gaussian_filter, uniform_filter, zoom
    a = check_image(img).astype(np.float32).mean(axis=2) / 255.0
    h, w = a.shape
    g = zoom(a, (64 / h, 64 / w), order=1)
    f = np.fft.fft2(g)
    amp = np.log(np.abs(f) + 1e-8)
    resid = amp - uniform_filter(amp, 3, mode="wrap")
    s = np.abs(np.fft.ifft2(np.exp(resid + 1j * np.angle(f)))) ** 2
    s = gaussian_filter(s, 2.5)
    if center_prior > 0:
        y, x = np.mgrid[0:64, 0:64] / 63.0 - 0.5
        s = s * np.exp(-(x ** 2 + y ** 2) / (2 * center_prior ** 2))
    s = zoom(s, (h / 64, w / 64), order=1)[:h, :w]
    s -= s.min()
    return (s / max(float(s.max()), 1e-12)).astype(np.float32)


def _merge_smallest(labels: np.ndarray, img: np.ndarray, max_segments: int) -> np.ndarray:
    """Merge the smallest region into its most similar (mean colour) neighbour until at most
    ``max_segments`` remain. labels (H, W) int -> (H, W) int in 0..K-1."""
    _, lab = np.unique(labels, return_inverse=True)
    lab = lab.reshape(labels.shape)
    n = int(lab.max()) + 1
    flat, pix = lab.ravel(), img.reshape(-1, 3)
    area = np.bincount(flat, minlength=n).astype(np.float64)
    csum = np.stack([np.bincount(flat, pix[:, c], minlength=n) for c in range(3)], axis=1)
    # adjacency from horizontal and vertical pixel pairs
    pairs = _adjacent_pairs(lab)
    adj = np.zeros((n, n), bool)
    adj[pairs[:, 0], pairs[:, 1]] = adj[pairs[:, 1], pairs[:, 0]] = True
    alive = area > 0
    parent = np.arange(n)
    while alive.sum() > max_segments:
        small = int(np.argmin(np.where(alive, area, np.inf)))
        nb = np.flatnonzero(adj[small] & alive)
        if nb.size == 0:
            nb = np.flatnonzero(alive & (np.arange(n) != small))
        mean = csum / np.maximum(area, 1)[:, None]
        best = int(nb[np.argmin(((mean[nb] - mean[small]) ** 2).sum(1))])
        area[best] += area[small]
        csum[best] += csum[small]
        adj[best] |= adj[small]
        adj[:, best] |= adj[:, small]
        adj[best, best] = False
        alive[small] = False
        parent[parent == small] = best
    _, inv = np.unique(parent[lab], return_inverse=True)
    return inv.reshape(lab.shape)


class Segmenter:
    """One interface: ``segment((H, W, 3) uint8) -> SegmentSet``."""

    name = "base"
    stand_in = False

    def segment(self, img: np.ndarray) -> SegmentSet:
        raise NotImplementedError

    def _finish(self, masks: list[np.ndarray], img: np.ndarray, label: str) -> SegmentSet:
        masks = sorted((m for m in masks if m.any()), key=lambda m: -int(m.sum()))
        sal_map = spectral_residual_saliency(img)
        arr = np.stack(masks) if masks else np.zeros((0,) + img.shape[:2], bool)
        sal = np.array([float(sal_map[m].mean()) for m in arr], np.float32)
        return SegmentSet(arr, self.name, self.stand_in, sal, label)


class ClassicalSegmenter(Segmenter):
    """The offline stand-in: SLIC (``n_superpixels``) -> RAG mean-colour cut (``threshold``, in
    0..255 colour units) -> at most ``max_segments`` regions."""

    name = "classical"
    stand_in = True

    def __init__(self, n_superpixels: int = 80, threshold: float = 28.0, max_segments: int = 12,
                 compactness: float = 10.0):
        if max_segments < 1:
            raise ConfigError(f"max_segments must be >= 1, got {max_segments}")
        self.n_superpixels, self.threshold = n_superpixels, threshold
        self.max_segments, self.compactness = max_segments, compactness

    def segment(self, img: np.ndarray) -> SegmentSet:
        from skimage.segmentation import slic
        img = check_image(img)
        sp = slic(img, n_segments=self.n_superpixels, compactness=self.compactness, start_label=0)
        lab = _cut_threshold(sp, img.astype(np.float32), self.threshold)
        lab = _merge_smallest(lab, img.astype(np.float32), self.max_segments)
        return self._finish([lab == k for k in range(lab.max() + 1)], img, STAND_IN)


def _adjacent_pairs(lab: np.ndarray) -> np.ndarray:
    """(E, 2) int: label pairs of 4-neighbouring pixels with different labels (with repeats)."""
    pairs = np.concatenate([np.stack([lab[:, :-1].ravel(), lab[:, 1:].ravel()], 1),
                            np.stack([lab[:-1].ravel(), lab[1:].ravel()], 1)])
    return pairs[pairs[:, 0] != pairs[:, 1]]


def _cut_threshold(sp: np.ndarray, img: np.ndarray, threshold: float) -> np.ndarray:
    """Region-adjacency-graph cut (skimage.graph.cut_threshold semantics, faster): join adjacent
    superpixels whose mean colours differ by less than ``threshold`` (Euclidean, 0..255 units);
    connected components become regions. sp (H, W) int -> (H, W) int."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    _, lab = np.unique(sp, return_inverse=True)
    lab = lab.reshape(sp.shape)
    n = int(lab.max()) + 1
    area = np.bincount(lab.ravel(), minlength=n)
    mean = np.stack([np.bincount(lab.ravel(), img[..., c].ravel(), minlength=n) for c in range(3)], 1)
    mean /= np.maximum(area, 1)[:, None]
    e = np.unique(_adjacent_pairs(lab), axis=0)
    e = e[np.linalg.norm(mean[e[:, 0]] - mean[e[:, 1]], axis=1) < threshold]
    g = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
    _, comp = connected_components(g, directed=False)
    return comp[lab]


_SAM_TYPES = {768: ("vit_b", 12, 12, [2, 5, 8, 11]), 1024: ("vit_l", 24, 16, [5, 11, 17, 23]),
              1280: ("vit_h", 32, 16, [7, 15, 23, 31])}


def load_sam(checkpoint: str | Path, encoder: dict | None = None):
    """A ``segment_anything`` Sam from a state-dict checkpoint (weights_only load).

    ``encoder``: {embed_dim, depth, num_heads, global_attn_indexes} for a non-standard image
    encoder; by default inferred from the weights (vit_b / vit_l / vit_h).
    Errors: ConfigError (missing file or package), CheckpointMismatchError (weights do not fit).
    """
    import torch
    from .sam_compat import import_segment_anything
    import_segment_anything()
    p = Path(checkpoint)
    if not p.is_file():
        raise ConfigError(f"SAM checkpoint not found: {p} (download one of Meta's sam_vit_*.pth files; "
                          "none ships offline)")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 -- any unpickling failure is a bad checkpoint
        raise CheckpointMismatchError(f"{p}: not a SAM state dict ({type(err).__name__}: {err})") from err
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    key = "image_encoder.patch_embed.proj.weight"
    if not isinstance(state, dict) or key not in state:
        raise CheckpointMismatchError(f"{p}: no {key} in the weights: not a SAM checkpoint")
    dim = int(state[key].shape[0])
    if encoder is None:
        if dim not in _SAM_TYPES:
            raise CheckpointMismatchError(f"{p}: image encoder width {dim} is not vit_b/l/h; pass its "
                                          "embed_dim, depth, num_heads, global_attn_indexes")
        _, depth, heads, glob = _SAM_TYPES[dim]
        encoder = {"embed_dim": dim, "depth": depth, "num_heads": heads, "global_attn_indexes": glob}
    import importlib
    build = importlib.import_module("segment_anything.build_sam")     # the name is shadowed by a function
    model = build._build_sam(encoder_embed_dim=encoder["embed_dim"], encoder_depth=encoder["depth"],
                                    encoder_num_heads=encoder["num_heads"],
                                    encoder_global_attn_indexes=list(encoder["global_attn_indexes"]),
                                    checkpoint=None)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise CheckpointMismatchError(f"{p}: weights do not fit the SAM architecture: {str(err)[:300]}") from err
    return model.eval()


class SamSegmenter(Segmenter):
    """The real SAM: automatic mask generation (``points_per_side``^2 point prompts), keeping the
    ``max_segments`` masks of highest predicted IoU."""

    name = "sam"
    stand_in = False

    def __init__(self, checkpoint: str | Path, encoder: dict | None = None, points_per_side: int = 16,
                 pred_iou_thresh: float = 0.86, stability_score_thresh: float = 0.92, max_segments: int = 12):
        from .sam_compat import import_segment_anything
        self.model = load_sam(checkpoint, encoder)
        self.checkpoint = str(checkpoint)
        self.max_segments = max_segments
        self.generator = import_segment_anything().SamAutomaticMaskGenerator(
            self.model, points_per_side=points_per_side, pred_iou_thresh=pred_iou_thresh,
            stability_score_thresh=stability_score_thresh, output_mode="binary_mask")

    def segment(self, img: np.ndarray) -> SegmentSet:
        import torch
        img = check_image(img)
        with torch.inference_mode():
            anns = self.generator.generate(img)
        anns = sorted(anns, key=lambda a: -float(a["predicted_iou"]))[: self.max_segments]
        return self._finish([np.asarray(a["segmentation"], bool) for a in anns], img,
                            f"SAM ({Path(self.checkpoint).name})")


def make_segmenter(spec: str = "classical", **kw) -> Segmenter:
    """``classical`` or ``sam:CHECKPOINT``."""
    if spec == "classical":
        return ClassicalSegmenter(**kw)
    if spec.startswith("sam:"):
        return SamSegmenter(spec[4:], **kw)
    raise ConfigError(f"--segmenter: expected classical or sam:CHECKPOINT, got {spec!r}")
