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
    if y.ndim == 0:                                       # one resource element
        x, v = equalize(y.reshape(1), h.reshape(1), np.reshape(err_var, -1), np.reshape(noise_var, -1),
                        kind, es=es, unbiased=unbiased)
        return x.reshape(())[()], v.reshape(())[()]
    nv = np.asarray(noise_var, np.float64)
    if nv.ndim and nv.shape != y.shape:
        nv = nv.reshape(nv.shape + (1,) * min(2, y.ndim))  # per-grid (...,) -> (..., 1, 1)
    ev = np.asarray(err_var)
    ev = ev.astype(np.float32) if ev.dtype.kind != "f" or ev.dtype.itemsize > 4 else ev
    try:
        shape = np.broadcast_shapes(nv.shape, ev.shape, y.shape)
    except ValueError as err:
        raise ShapeError(f"noise_var {np.shape(noise_var)} / err_var {np.shape(err_var)} do not "
                         f"broadcast to {y.shape}") from err
    if shape != y.shape:
        raise ShapeError(f"noise_var {np.shape(noise_var)} / err_var {np.shape(err_var)} do not "
                         f"broadcast to {y.shape}")
    # float32 arithmetic (the outputs are complex64 / float32), few full-size temporaries
    with np.errstate(over="ignore", invalid="ignore"):
        nv = nv.astype(np.float32)
        sigma2 = np.add(nv, ev if es == 1.0 else np.float32(es) * ev, dtype=np.float32)   # broadcastable to y
        lo, hi = (float(sigma2.min()), float(sigma2.max())) if sigma2.size else (0.0, 0.0)
    if not (lo >= 0 and np.isfinite(hi)):                 # NaN fails both comparisons
        raise ShapeError("noise_var and err_var must be finite and >= 0")
    h = h.astype(np.complex64, copy=False)
    y = y.astype(np.complex64, copy=False)
    hr, hi_ = h.real, h.imag
    h2 = hr * hr
    h2 += hi_ * hi_                                       # |h|^2, float32
    if kind == "zf" or unbiased:
        den = np.maximum(h2, np.float32(_TINY), out=h2)
    else:
        den = np.add(h2, sigma2 / np.float32(es) if es != 1.0 else sigma2, out=h2)
        np.maximum(den, np.float32(_TINY), out=den)
    inv = np.reciprocal(den, out=den)                     # 1/|h|^2 (zf) or 1/(|h|^2 + sigma2/es)
    x = np.conjugate(h, order="C")
    x *= y                                                # h^* y
    xv = x.view(np.float32).reshape(x.shape + (2,))      # real multiply of both parts
    xv *= inv[..., None]
    nv_eff = np.multiply(np.broadcast_to(sigma2, y.shape), inv, dtype=np.float32)
    return x, nv_eff
