"""Physical-layer plots for reports: constellations before/after equalization, channel estimate
against the truth. Matplotlib with the Agg backend (headless)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(plt, fig, path, title: str) -> Path:
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def constellation_plot(raw: np.ndarray, equalized: np.ndarray, path: str | Path, title: str = "") -> Path:
    """Scatter of received data resource elements before (``raw``: (n,) complex) and after
    equalization (``equalized``: (n,) complex). Writes a PNG; returns its path."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.3))
    for ax, z, name in ((axes[0], raw, "received (before equalization)"),
                        (axes[1], equalized, "after equalization")):
        z = np.asarray(z).ravel()
        ax.scatter(z.real, z.imag, s=4, alpha=0.5)
        lim = float(np.percentile(np.abs(z), 99.5)) * 1.15 if z.size else 1.0
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.grid(alpha=0.3)
        ax.set_title(name)
        ax.set_xlabel("in-phase")
        ax.set_ylabel("quadrature")
    return _save(plt, fig, path, title)


def channel_estimate_plot(h_hat: np.ndarray, h_true: np.ndarray | None, path: str | Path,
                          title: str = "", subcarrier_k: np.ndarray | None = None) -> Path:
    """Magnitude (dB) and phase of the estimated channel against the truth on one slot.

    h_hat, h_true: (n_symbols, n_used) complex. The first OFDM symbol is drawn across frequency
    and a heat map of the estimation error |h_hat - h|^2 over the slot (when the truth is known).
    """
    plt = _plt()
    h_hat = np.asarray(h_hat)
    ncols = 3 if h_true is not None else 2
    fig, axes = plt.subplots(1, ncols, figsize=(4.4 * ncols, 4.0))
    k = np.arange(h_hat.shape[-1]) if subcarrier_k is None else subcarrier_k
    ax = axes[0]
    ax.plot(k, 20 * np.log10(np.abs(h_hat[0]) + 1e-9), ".-", label="estimate")
    if h_true is not None:
        ax.plot(k, 20 * np.log10(np.abs(h_true[0]) + 1e-9), "-", label="true", alpha=0.8)
    ax.set_xlabel("subcarrier")
    ax.set_ylabel("|H| (dB)")
    ax.set_title("magnitude, OFDM symbol 0")
    ax.grid(alpha=0.3)
    ax.legend()
    ax = axes[1]
    ax.plot(k, np.unwrap(np.angle(h_hat[0])), ".-", label="estimate")
    if h_true is not None:
        ax.plot(k, np.unwrap(np.angle(h_true[0])), "-", label="true", alpha=0.8)
    ax.set_xlabel("subcarrier")
    ax.set_ylabel("phase (rad)")
    ax.set_title("phase, OFDM symbol 0")
    ax.grid(alpha=0.3)
    if h_true is not None:
        ax = axes[2]
        err = np.abs(h_hat - h_true) ** 2
        nmse = 10 * np.log10(err.mean() / max(np.mean(np.abs(h_true) ** 2), 1e-12))
        im = ax.imshow(10 * np.log10(err + 1e-9), aspect="auto", origin="lower", cmap="viridis")
        fig.colorbar(im, ax=ax, label="dB")
        ax.set_xlabel("subcarrier")
        ax.set_ylabel("OFDM symbol")
        ax.set_title(f"|error|^2 over the slot (NMSE {nmse:.1f} dB)")
    return _save(plt, fig, path, title)
