"""Where an estimator's gap to genie LMMSE comes from: NMSE per position in the slot grid (pilots,
between pilots, edges), per SNR and per Doppler.

Each (Doppler, SNR) pair is one link: fresh estimators (the adaptive ones start cold), ``warmup``
slots fed first and not counted (a receiver's steady state), then ``n`` slots measured. Every
estimator sees the same channels, data and noise (common random numbers).

Regions of the (T, F) grid (a resource element is in exactly one, first match wins):
    pilot          the pilot elements
    edge-sc        the ``edge`` outermost subcarriers on each side
    edge-symbol    the first and last OFDM symbol of the slot (extrapolation in time)
    next-to-pilot  one subcarrier from the nearest pilot of its symbol
    between        two or more subcarriers from the nearest pilot of its symbol
"""
from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from ..phy.pilots import PilotPattern
from .classical import PerfectEstimator
from .evaluate import transmit_grid

REGIONS = ("pilot", "edge-sc", "edge-symbol", "next-to-pilot", "between")


def region_masks(pilots: PilotPattern, edge: int = 3) -> dict[str, np.ndarray]:
    """Disjoint boolean masks (T, F) per region (see the module docstring)."""
    m = np.asarray(pilots.mask, bool)
    t_n, f_n = m.shape
    f = np.arange(f_n)
    dist = np.full(m.shape, f_n)                                   # subcarriers to the nearest pilot
    for t in range(t_n):
        pf = np.nonzero(m[t])[0]
        if pf.size:
            dist[t] = np.min(np.abs(f[:, None] - pf[None, :]), axis=1)
    left = ~m
    out = {"pilot": m}
    for name, sel in (("edge-sc", ((f < edge) | (f >= f_n - edge))[None, :] & np.ones_like(m)),
                      ("edge-symbol", np.isin(np.arange(t_n), [0, t_n - 1])[:, None] & np.ones_like(m)),
                      ("next-to-pilot", dist == 1), ("between", dist >= 2)):
        out[name] = sel & left
        left = left & ~sel
    return out


def error_maps(make: Callable[[float], Mapping[str, object]], h_source: Callable[[int, np.random.Generator], np.ndarray],
               pilots: PilotPattern, snr_db: float, n: int, rng: np.random.Generator, warmup: int = 1000,
               batch: int = 250) -> tuple[dict, np.ndarray]:
    """Squared-error maps of fresh estimators ``make(snr_db)`` on one link at ``snr_db``.
    Output: {name: (T, F) float64 summed |h_hat - h|^2 over the n measured slots}, power (T, F) float64."""
    ests = make(snr_db)
    n0 = 10 ** (-snr_db / 10)
    err = {k: np.zeros(pilots.grid.shape) for k in ests}
    power = np.zeros(pilots.grid.shape)
    done = -warmup
    while done < n:
        m = min(batch, n - done) if done >= 0 else min(batch, -done)
        h = h_source(m, rng)
        y, _ = transmit_grid(h, pilots, snr_db, rng)
        for name, est in ests.items():
            if isinstance(est, PerfectEstimator):
                est.set_truth(h)
            h_hat, _ = est(y, pilots, n0)
            if done >= 0:
                err[name] += np.sum(np.abs(h_hat - h) ** 2, axis=0)
        if done >= 0:
            power += np.sum(np.abs(h) ** 2, axis=0)
        done += m
    return err, power


def region_rows(err: dict, power: np.ndarray, masks: dict, reference: str | None = "lmmse", **keys) -> list[dict]:
    """NMSE (dB) per estimator and region (and "all"), with the gap to ``reference`` in dB."""
    def db(e, p):
        return float(10 * np.log10(max(e, 1e-30) / max(p, 1e-30)))
    rows = []
    for name, e in err.items():
        for reg, m in {"all": np.ones_like(power, bool), **masks}.items():
            r = {**keys, "estimator": name, "region": reg, "elements": int(m.sum()),
                 "nmse_db": db(e[m].sum(), power[m].sum())}
            if reference in err:
                r["gap_db"] = r["nmse_db"] - db(err[reference][m].sum(), power[m].sum())
            rows.append(r)
    return rows


def plot_gap_maps(maps: list[tuple[str, np.ndarray]], pilot_mask: np.ndarray, path: str, title: str) -> None:
    """One heat map per (label, gap map (T, F) in dB), pilots marked."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .fileio import save_figure
    n = max(1, len(maps))
    fig, axes = plt.subplots(n, 1, figsize=(9, 1.7 * n + 0.6), squeeze=False)
    lim = max([float(np.max(np.abs(g))) for _, g in maps] + [0.5])
    for ax, (label, g) in zip(axes[:, 0], maps):
        im = ax.imshow(g, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim, origin="lower")
        t, f = np.nonzero(pilot_mask)
        ax.plot(f, t, "k.", ms=2)
        ax.set_title(label, fontsize=8)
        ax.set_ylabel("symbol")
        fig.colorbar(im, ax=ax, label="gap [dB]")
    axes[-1, 0].set_xlabel("subcarrier (pilots: dots)")
    fig.suptitle(title, fontsize=9)
    save_figure(fig, path)
    plt.close(fig)


def plot_gap_curves(rows: list[dict], path: str, title: str) -> None:
    """Gap to genie versus Doppler, one line per (estimator, SNR, region)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .fileio import save_figure
    fig, axes = plt.subplots(1, len(REGIONS) + 1, figsize=(14, 3.4), sharey=True)
    for ax, reg in zip(axes, ("all",) + REGIONS):
        keys = sorted({(r["estimator"], r["snr_db"]) for r in rows if "gap_db" in r and r["estimator"] != "lmmse"})
        for i, (name, snr) in enumerate(keys):
            pts = sorted((r["doppler_hz"], r["gap_db"]) for r in rows
                         if r["estimator"] == name and r["snr_db"] == snr and r["region"] == reg)
            ax.plot(*zip(*pts), marker="o", color=f"C{i}", label=f"{name} {snr:g} dB")
        ax.set_title(reg, fontsize=9)
        ax.set_xlabel("max Doppler [Hz]")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("gap to genie LMMSE [dB]")
    axes[0].legend(fontsize=6)
    fig.suptitle(title, fontsize=9)
    save_figure(fig, path)
    plt.close(fig)


__all__ = ["REGIONS", "region_masks", "error_maps", "region_rows", "plot_gap_maps", "plot_gap_curves"]
