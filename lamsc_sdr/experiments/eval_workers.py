"""Worker factories that put ``lamsc eval text`` and ``lamsc eval estimators`` on the runner.

Each (estimator, SNR) point of ``eval text`` and each SNR point of ``eval estimators`` is one item
with its own seed (:func:`~.sweep.item_seed` of the run seed and the point), and everything
stateful -- the link, adaptive estimators that learn the channel statistics from the slots they
see -- is built fresh inside the item. So an item's rows depend only on the item: the result is
identical for ``--workers 1`` (in-process, no Ray), ``--workers N`` (local Ray) and
``--ray-address``. Models (the semantic codec, the embedder) load once per worker.
"""
from __future__ import annotations

from types import SimpleNamespace

from .sweep import item_seed


def text_items(seed: int, estimators: list[str], snrs: list[float]) -> list[dict]:
    """One item per (estimator, SNR), estimator-major (the order of the rows)."""
    return [{"estimator": e, "snr_db": float(s), "seed": item_seed(seed, "eval-text", e, float(s))}
            for e in estimators for s in snrs]


def text_worker(cfg: dict, checkpoint: str, device: str | None, sentences: list[str], channel: str, level: str,
                threshold: float):
    """``run(item) -> {"rows": [...]}``: :func:`~lamsc_sdr.semantic.evaluate.evaluate_text` at one
    (estimator, SNR) on a fresh link seeded by the item."""
    import numpy as np

    from ..config import config_from_mapping
    from ..semantic.codec import SemanticCodec
    from ..semantic.evaluate import FrameLink, GridLink, SymbolLink, evaluate_text
    run_cfg = config_from_mapping(cfg)
    codec = SemanticCodec.load(checkpoint, device=device)

    def run(item: dict) -> dict:
        est = item["estimator"]
        if level == "symbol":
            link = SymbolLink(channel, est)
        elif level == "grid":
            link = GridLink(run_cfg.frame, channel, est)
        else:
            link = FrameLink(run_cfg.frame, channel, est)
        rng = np.random.default_rng(item["seed"])
        rows = evaluate_text(codec, sentences, link, [item["snr_db"]], rng, threshold=threshold)
        return {"rows": [{**r, "estimator": est, "seed": item["seed"]} for r in rows],
                "checkpoint": codec.meta.get("path"), "symbols_per_token": codec.symbols_per_token}

    return run


def estimators_worker(cfg: dict, names: list[str], profile: str | None, channel_file: str | None, n: int,
                      overrides: dict):
    """``run(item) -> {"rows": [...]}``: NMSE of every estimator at one SNR over ``n`` slots drawn
    from the item's seed (common random numbers across the estimators), estimators built fresh."""
    import numpy as np

    from ..cli.estimators_cmd import _estimators
    from ..config import config_from_mapping
    from ..estimation import stats
    from ..estimation.evaluate import load_channel_file, nmse_curve
    run_cfg = config_from_mapping(cfg)
    grid = run_cfg.frame.grid
    measured = load_channel_file(channel_file, grid) if channel_file else None
    args = SimpleNamespace(**overrides)

    def run(item: dict) -> dict:
        rng = np.random.default_rng(item["seed"])
        if measured is not None:
            state = {"i": 0}

            def h_source(m, r):
                idx = np.arange(state["i"], state["i"] + m) % measured.shape[0]
                state["i"] += m
                return measured[idx]
            ests = _estimators(names, run_cfg, None, stats_h=measured, args=args)
        else:
            def h_source(m, r):
                return stats.grid_channel(profile, grid, m, r, run_cfg.channel.doppler_hz,
                                          run_cfg.channel.delay_spread_ns)
            ests = _estimators(names, run_cfg, profile, args=args)
        rows = nmse_curve(ests, h_source, run_cfg.frame.pilot_pattern, [item["snr_db"]], n, rng)
        return {"rows": [{**r, "seed": item["seed"]} for r in rows]}

    return run


def snr_items(seed: int, snrs: list[float], tag: str = "eval-estimators") -> list[dict]:
    return [{"snr_db": float(s), "seed": item_seed(seed, tag, float(s))} for s in snrs]
