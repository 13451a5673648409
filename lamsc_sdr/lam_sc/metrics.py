"""Image quality and intervals: SSIM and PSNR (scikit-image's reference implementations), and the
95 % interval of a mean (Student t; a percentile bootstrap for comparison)."""
from __future__ import annotations

import math

import numpy as np


def ssim(ref: np.ndarray, img: np.ndarray) -> float:
    """SSIM of two (H, W, 3) uint8 images (Wang et al. 2004, 7x7 window, over colour channels)."""
    from skimage.metrics import structural_similarity
    return float(structural_similarity(ref, img, channel_axis=2, data_range=255))


def ssim_region(ref: np.ndarray, img: np.ndarray, region: np.ndarray) -> float:
    """Mean of the SSIM map over ``region`` (H, W) bool: quality inside the selected segments only,
    not flattered by a matching black background."""
    from skimage.metrics import structural_similarity
    _, smap = structural_similarity(ref, img, channel_axis=2, data_range=255, full=True)
    return float(smap.mean(axis=2)[region].mean()) if region.any() else float("nan")


def psnr(ref: np.ndarray, img: np.ndarray) -> float:
    """PSNR in dB of (H, W, 3) uint8 images (capped at 100 dB for identical images)."""
    mse = float(np.mean((ref.astype(np.float64) - img.astype(np.float64)) ** 2))
    return 100.0 if mse == 0 else min(100.0, 10 * math.log10(255.0 ** 2 / mse))


def mean_ci(x, conf: float = 0.95) -> dict:
    """Mean with a Student-t interval: {"mean", "n", "ci_low", "ci_high", "method"}."""
    from scipy import stats
    a = np.asarray(x, np.float64)
    n = a.size
    m = float(a.mean()) if n else float("nan")
    if n < 2:
        return {"mean": m, "n": int(n), "ci_low": float("nan"), "ci_high": float("nan"), "method": "t"}
    h = float(stats.t.ppf(0.5 + conf / 2, n - 1) * a.std(ddof=1) / math.sqrt(n))
    return {"mean": m, "n": int(n), "ci_low": m - h, "ci_high": m + h, "method": "t"}


def bootstrap_ci(x, rng: np.random.Generator, n_boot: int = 2000, conf: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean."""
    a = np.asarray(x, np.float64)
    means = a[rng.integers(0, a.size, (n_boot, a.size))].mean(axis=1)
    return float(np.quantile(means, 0.5 - conf / 2)), float(np.quantile(means, 0.5 + conf / 2))
