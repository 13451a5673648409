"""Grid-level estimator evaluation (NMSE versus SNR) and speed benchmark; measured-channel files.

Grid level means: channel realizations ``H (n, T, F)`` on the slot grid (what the OFDM receiver
sees after CP removal and FFT), pilots from the frame's pattern, unit-power QPSK on the data
elements, and complex AWGN of variance ``N0 = 10**(-snr_db/10)`` per resource element (Es/N0).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from ..errors import ConfigError, ShapeError
from ..phy.grid import ResourceGrid
from ..phy.pilots import PilotPattern
from .base import ChannelEstimator
from .classical import PerfectEstimator


def qpsk(shape, rng: np.random.Generator) -> np.ndarray:
    """Unit-power QPSK symbols. Output: shape complex64."""
    b = rng.integers(0, 2, size=(2, *shape))
    return (((1 - 2 * b[0]) + 1j * (1 - 2 * b[1])) / np.sqrt(2)).astype(np.complex64)


def transmit_grid(h: np.ndarray, pilots: PilotPattern, snr_db, rng: np.random.Generator,
                  data: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Received grids ``y = H * X + n`` for slots with pilots and QPSK data.

    Input: h (n, T, F) complex; snr_db float or (n,) (Es/N0 per element).
    Output: y (n, T, F) complex64, x (n, T, F) complex64 (the transmitted slot)."""
    x = qpsk(h.shape, rng) if data is None else np.asarray(data, np.complex64)
    x = np.where(pilots.mask, pilots.values, x).astype(np.complex64)
    n0 = 10 ** (-np.asarray(snr_db, np.float64) / 10)
    n0 = n0.reshape(n0.shape + (1, 1)) if n0.ndim else n0
    noise = (rng.standard_normal(h.shape) + 1j * rng.standard_normal(h.shape)) * np.sqrt(n0 / 2)
    return (h * x + noise).astype(np.complex64), x


def load_channel_file(path: str | Path, grid: ResourceGrid) -> np.ndarray:
    """Measured complex frequency responses from a ``.npy`` file, resampled to the grid.

    Accepts ``(n, n_subcarriers)`` (one response per slot, constant over its symbols) or
    ``(n, n_symbols, n_subcarriers)``. The subcarrier axis is taken to span the grid's used band
    (first entry = lowest used subcarrier, last = highest) and is linearly interpolated (real and
    imaginary parts) onto the ``n_used`` subcarriers; the symbol axis likewise onto ``n_symbols``.
    The result is scaled to unit mean power, so ``snr_db`` is the mean received SNR.
    Output: (n, n_symbols, n_used) complex64.
    """
    path = Path(path)
    try:
        h = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise ConfigError(f"--channel-file {path}: cannot read a .npy array ({err})") from err
    if not np.iscomplexobj(h):
        raise ShapeError(f"--channel-file {path}: expected complex frequency responses, got dtype {h.dtype}")
    if h.ndim == 2:
        h = h[:, None, :]
    if h.ndim != 3 or min(h.shape) < 1:
        raise ShapeError(f"--channel-file {path}: expected shape (n, n_subcarriers) or "
                         f"(n, n_symbols, n_subcarriers), got {h.shape}")
    if h.shape[2] < 2:
        raise ShapeError(f"--channel-file {path}: need >= 2 subcarriers to resample, got {h.shape[2]}")
    if not np.all(np.isfinite(h)):
        bad = int(np.sum(~np.isfinite(h)))
        raise ShapeError(f"--channel-file {path}: {bad} NaN/Inf values")
    h = _resample(h.astype(np.complex128), 2, grid.n_used)
    h = _resample(h, 1, grid.n_symbols) if h.shape[1] > 1 else np.repeat(h, grid.n_symbols, axis=1)
    p = np.mean(np.abs(h) ** 2)
    if not p > 0:
        raise ShapeError(f"--channel-file {path}: all responses are zero")
    return (h / np.sqrt(p)).astype(np.complex64)


def _resample(h: np.ndarray, axis: int, n_out: int) -> np.ndarray:
    n_in = h.shape[axis]
    if n_in == n_out:
        return h
    src = np.linspace(0.0, 1.0, n_in)
    dst = np.linspace(0.0, 1.0, n_out)
    from scipy.interpolate import interp1d
    return interp1d(src, h, axis=axis, kind="linear")(dst)


def nmse_curve(estimators: Mapping[str, ChannelEstimator], h_source: Callable[[int, np.random.Generator], np.ndarray],
               pilots: PilotPattern, snrs_db, n: int, rng: np.random.Generator, batch: int = 500,
               progress: bool = False) -> list[dict]:
    """NMSE of each estimator at each SNR over ``n`` slots.

    ``h_source(m, rng) -> (m, T, F)`` draws channels. The same channels, data and noise shapes are
    used for every estimator (common random numbers). NMSE = sum |H_hat - H|^2 / sum |H|^2.
    Output rows: {"estimator", "snr_db", "nmse_db", "nmse", "err_var_db"} (``err_var_db``: the
    estimator's own mean predicted error variance, normalised the same way)."""
    if n < 1:
        raise ConfigError(f"--n must be >= 1, got {n}")
    err = {(k, s): 0.0 for k in estimators for s in snrs_db}
    pred = dict(err)
    power = 0.0
    it = range(0, n, batch)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, desc="eval estimators", unit="batch")
    for start in it:
        m = min(batch, n - start)
        h = h_source(m, rng)
        power += float(np.sum(np.abs(h) ** 2))
        for s in snrs_db:
            y, _ = transmit_grid(h, pilots, s, rng)
            n0 = 10 ** (-s / 10)
            for name, est in estimators.items():
                if isinstance(est, PerfectEstimator):
                    est.set_truth(h)
                h_hat, ev = est(y, pilots, n0)
                err[(name, s)] += float(np.sum(np.abs(h_hat - h) ** 2))
                pred[(name, s)] += float(np.sum(ev))
    rows = []
    for name in estimators:
        for s in snrs_db:
            e = err[(name, s)] / power
            rows.append({"estimator": name, "snr_db": float(s),
                         "nmse_db": float(10 * np.log10(e)) if e > 0 else None, "nmse": e,
                         "err_var_db": float(10 * np.log10(pred[(name, s)] / power)) if pred[(name, s)] > 0 else None})
    return rows


def bench(estimators: Mapping[str, ChannelEstimator], pilots: PilotPattern, batches=(1, 64),
          min_time: float = 1.0, rng: np.random.Generator | None = None) -> list[dict]:
    """Estimates (slots) per second of each estimator at each batch size, single process.

    Output rows: {"estimator", "batch", "estimates_per_s", "seconds_per_call", "estimates_per_cpu_s"}:
    wall-clock rate, and the rate per second of CPU time this process used (``time.process_time``),
    which is what one core sustains when other processes share the machine (one thread each)."""
    rng = rng or np.random.default_rng(0)
    rows = []
    for name, est in estimators.items():
        for b in batches:
            h = (rng.standard_normal((b, *pilots.grid.shape)) + 1j * rng.standard_normal((b, *pilots.grid.shape))) / np.sqrt(2)
            y, _ = transmit_grid(h, pilots, 15.0, rng)
            if isinstance(est, PerfectEstimator):
                est.set_truth(h)
            est(y, pilots, 10 ** -1.5)                       # warm-up (caches, torch init)
            calls, t0, c0 = 0, time.perf_counter(), time.process_time()
            while True:
                est(y, pilots, 10 ** -1.5)
                calls += 1
                dt = time.perf_counter() - t0
                if dt >= min_time and calls >= 3:
                    break
            cpu = max(time.process_time() - c0, 1e-9)
            rows.append({"estimator": name, "batch": int(b), "estimates_per_s": calls * b / dt,
                         "seconds_per_call": dt / calls, "estimates_per_cpu_s": calls * b / cpu})
    return rows
