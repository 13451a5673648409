"""The one channel-estimator interface. LS, LMMSE, the perfect-CSI oracle and the CGAN share it.

An estimator is a processing block: it only computes. Call it as
``h_hat, err_var = estimator(y, pilots, noise_var)``.
"""
from __future__ import annotations

import abc

import numpy as np

from ..errors import ShapeError
from ..phy.pilots import PilotPattern


class ChannelEstimator(abc.ABC):
    """Base of all channel estimators.

    Input:
        y: (..., n_symbols, n_used) complex64 -- received slot grid(s) after the FFT, pilots in place.
        pilots: PilotPattern -- where the pilots are and their values.
        noise_var: float or (...,) float -- noise variance N0 per resource element.
    Output:
        h_hat: (..., n_symbols, n_used) complex64 -- channel estimate on every resource element.
        err_var: (..., n_symbols, n_used) float32 -- estimation error variance per element
            (what an MMSE equalizer adds to the noise).
    """

    name: str = "base"

    def __call__(self, y: np.ndarray, pilots: PilotPattern, noise_var) -> tuple[np.ndarray, np.ndarray]:
        y = check_grid(y, pilots)
        nv = np.asarray(noise_var, dtype=np.float64)
        if not np.all(np.isfinite(nv)) or np.any(nv < 0):
            raise ShapeError(f"noise_var must be finite and >= 0, got {noise_var!r}")
        return self.estimate(y, pilots, nv)

    @abc.abstractmethod
    def estimate(self, y: np.ndarray, pilots: PilotPattern, noise_var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The estimator proper; inputs already validated."""


def check_grid(y: np.ndarray, pilots: PilotPattern) -> np.ndarray:
    """Validate a received grid against the pilot pattern; returns it as complex64."""
    y = np.asarray(y)
    shape = pilots.grid.shape
    if y.ndim < 2 or tuple(y.shape[-2:]) != shape:
        raise ShapeError(f"received grid must have shape (..., {shape[0]}, {shape[1]}), got {y.shape}")
    if not np.iscomplexobj(y):
        raise ShapeError(f"received grid must be complex, got dtype {y.dtype}")
    if not np.all(np.isfinite(y)):
        raise ShapeError("received grid holds NaN or Inf")
    return y.astype(np.complex64, copy=False)
