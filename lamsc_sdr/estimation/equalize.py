"""Per-resource-element equalizers that hand the decoder an effective noise variance.

Model on one resource element, given the estimate ``h`` with error ``e = h_true - h`` of variance
``err_var`` (uncorrelated with ``h``, as for LMMSE) and transmitted ``x`` with ``E|x|^2 = es``::

    y = h x + (e x + n),   Var(e x + n) = sigma2 = N0 + es * err_var

- **zf**: ``x_hat = y / h``, ``nv_eff = sigma2 / |h|^2`` (unbiased: ``x_hat = x + noise``).
- **mmse** (default): ``x_hat = h^* y / (|h|^2 + sigma2/es)``. This is the linear MMSE estimate of
  ``x``; it is *biased*: ``E[x_hat | x] = g x`` with ``g = |h|^2 / (|h|^2 + sigma2/es)``.
  ``nv_eff = E|x_hat - x|^2 = es (1 - g) = sigma2 / (|h|^2 + sigma2/es)`` -- the error variance
  around ``x`` including the bias term (for ``es = 1``: ``(1-g)^2 + g(1-g) = 1-g``).
  With ``unbiased=True`` the estimate is bias-corrected, ``x_hat / g`` (= the ZF value) and
  ``nv_eff = es (1-g)/g = sigma2/|h|^2``: the form a QAM demapper that assumes
  ``x_hat = x + noise`` needs. SNR per element is ``g / (1-g) = es |h|^2 / sigma2`` either way.
"""
from __future__ import annotations

import numpy as np

from ..errors import ConfigError, ShapeError

_TINY = 1e-20


def equalize(y: np.ndarray, h_hat: np.ndarray, err_var, noise_var, kind: str = "mmse",
             *, es: float = 1.0, unbiased: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Equalize received grid(s).

    Input:
        y: (..., T, F) complex -- received grid (or any array of resource elements).
        h_hat: same shape complex -- channel estimate.
        err_var: same shape (or broadcastable) float -- estimation error variance (0 = perfect CSI).
        noise_var: float or (...,) per grid, or full shape -- N0 per resource element.
        kind: ``"mmse"`` or ``"zf"``.
    Output:
        x_hat: (..., T, F) complex64; nv_eff: (..., T, F) float32 (see the module docstring).
    """
    if kind not in ("mmse", "zf"):
        raise ConfigError(f"equalizer kind must be 'mmse' or 'zf', got {kind!r}")
    y = np.asarray(y)
    h = np.asarray(h_hat)
    if y.shape != h.shape:
        raise ShapeError(f"y {y.shape} and h_hat {h.shape} must have the same shape")
    nv = np.asarray(noise_var, np.float64)
    if nv.ndim and nv.shape != y.shape:
        nv = nv.reshape(nv.shape + (1,) * min(2, y.ndim))  # per-grid (...,) -> (..., 1, 1)
    ev = np.asarray(err_var, np.float64)
    try:
        sigma2 = np.broadcast_to(nv + es * ev, y.shape)
    except ValueError as err:
        raise ShapeError(f"noise_var {np.shape(noise_var)} / err_var {np.shape(err_var)} do not "
                         f"broadcast to {y.shape}") from err
    if not (np.all(np.isfinite(sigma2)) and np.all(sigma2 >= 0)):
        raise ShapeError("noise_var and err_var must be finite and >= 0")
    h2 = np.abs(h).astype(np.float64) ** 2
    if kind == "zf" or unbiased:
        x = y / np.where(h2 > _TINY, h, _TINY)
        nv_eff = sigma2 / np.maximum(h2, _TINY)
    else:
        den = np.maximum(h2 + sigma2 / es, _TINY)
        x = np.conj(h) * y / den
        nv_eff = sigma2 / den
    return x.astype(np.complex64), nv_eff.astype(np.float32)
