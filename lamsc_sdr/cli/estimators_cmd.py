"""``lamsc eval estimators`` (NMSE versus SNR) and ``lamsc bench estimators`` (estimates per second)."""
from __future__ import annotations

import logging

from .common import add_config_args, add_json_arg, parse_range, run_config

log = logging.getLogger(__name__)


def _estimators(names: list[str], cfg, profile: str | None, stats_h=None) -> dict:
    """Build the named estimators for ``cfg.frame``. With measured channels ``stats_h`` the genie
    LMMSE uses their sample statistics."""
    import dataclasses

    from ..errors import ConfigError
    from ..estimation import KINDS, LMMSEEstimator, make_estimator
    from ..estimation.stats import empirical_correlations
    out = {}
    for name in names:
        if name not in KINDS:
            raise ConfigError(f"--estimators: {name!r} is not one of {list(KINDS)}")
        if name == "lmmse" and stats_h is not None:
            r_t, r_f = empirical_correlations(stats_h)
            out[name] = LMMSEEstimator(r_t, r_f, None, name="lmmse")
            continue
        # grid-level channels carry no receiver timing error: exact (unwidened) statistics
        ecfg = dataclasses.replace(cfg.estimator, kind=name, timing_uncertainty_samples=0.0)
        out[name] = make_estimator(ecfg, cfg.frame, profile, doppler_hz=cfg.channel.doppler_hz,
                                   delay_spread_ns=cfg.channel.delay_spread_ns)
    return out


def _plot(rows: list[dict], path: str, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..estimation.fileio import save_figure
    fig, ax = plt.subplots(figsize=(6, 4))
    for name in dict.fromkeys(r["estimator"] for r in rows):
        pts = [(r["snr_db"], r["nmse_db"]) for r in rows if r["estimator"] == name and r["nmse_db"] is not None]
        if pts:
            ax.plot(*zip(*pts), marker="o", label=name)
    ax.set_xlabel("SNR (Es/N0 per RE) [dB]")
    ax.set_ylabel("NMSE [dB]")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    save_figure(fig, path)
    plt.close(fig)


def _eval(args) -> int:
    import numpy as np

    from ..estimation import stats
    from ..estimation.evaluate import load_channel_file, nmse_curve
    from ..provenance import write_json
    cfg = run_config(args)
    grid, pilots = cfg.frame.grid, cfg.frame.pilot_pattern
    snrs = parse_range(args.snr)
    names = [s.strip() for s in args.estimators.split(",") if s.strip()]
    rng = np.random.default_rng(cfg.seed)
    if args.channel_file:
        measured = load_channel_file(args.channel_file, grid)
        n = args.n or measured.shape[0]
        source_desc = {"channel_file": str(args.channel_file), "n_in_file": int(measured.shape[0])}
        profile = None

        def h_source(m, r, _state={"i": 0}):
            idx = (np.arange(_state["i"], _state["i"] + m)) % measured.shape[0]
            _state["i"] += m
            return measured[idx]
        ests = _estimators(names, cfg, None, stats_h=measured)
    else:
        profile = args.channel or cfg.channel.model
        n = args.n or 2000
        source_desc = {"channel": profile, "doppler_hz": cfg.channel.doppler_hz,
                       "delay_spread_ns": cfg.channel.delay_spread_ns}

        def h_source(m, r):
            return stats.grid_channel(profile, grid, m, r, cfg.channel.doppler_hz, cfg.channel.delay_spread_ns)
        ests = _estimators(names, cfg, profile)
    rows = nmse_curve(ests, h_source, pilots, snrs, n, rng, progress=not args.quiet)
    for r in rows:
        nm = "-inf" if r["nmse_db"] is None else f"{r['nmse_db']:7.2f}"
        print(f"{r['estimator']:>17s}  snr {r['snr_db']:5.1f} dB  nmse {nm} dB")
    payload = {"results": rows, "n": n, "source": source_desc, "estimators": names,
               "grid": list(grid.shape), "pilots": cfg.frame.pilots.kind}
    if args.json:
        write_json(args.json, payload, cfg)
    if args.plot:
        _plot(rows, args.plot, f"NMSE, {source_desc.get('channel', 'measured channels')}")
    return 0


def _bench(args) -> int:
    import numpy as np

    from ..estimation.evaluate import bench
    from ..provenance import write_json
    cfg = run_config(args)
    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:
        pass
    limiter = _one_core()
    names = [s.strip() for s in args.estimators.split(",") if s.strip()]
    ests = _estimators(names, cfg, cfg.channel.model)
    batches = [int(b) for b in args.batch.split(",")]
    with limiter:
        rows = bench(ests, cfg.frame.pilot_pattern, batches, args.min_time, np.random.default_rng(cfg.seed))
    needed = 2e6 / cfg.frame.grid.slot_len
    for r in rows:
        r["realtime_factor_2msps"] = r["estimates_per_s"] / needed
        print(f"{r['estimator']:>17s}  batch {r['batch']:4d}  {r['estimates_per_s']:10.0f} estimates/s  "
              f"({r['realtime_factor_2msps']:.1f}x the {needed:.0f} slots/s of 2 Msps)")
    if args.json:
        write_json(args.json, {"results": rows, "slots_per_s_needed_at_2msps": needed,
                               "slot_len_samples": cfg.frame.grid.slot_len, "threads": 1}, cfg)
    return 0


def _one_core():
    """Context limiting BLAS/OpenMP pools to one thread when threadpoolctl is available."""
    try:
        from threadpoolctl import threadpool_limits
        return threadpool_limits(limits=1)
    except ImportError:
        import contextlib
        log.warning("threadpoolctl not installed: BLAS may use more than one thread")
        return contextlib.nullcontext()


def register(groups) -> None:
    p = groups["eval"].add_parser("estimators", help="channel-estimator NMSE versus SNR on the slot grid")
    add_config_args(p)
    add_json_arg(p)
    p.add_argument("--channel", metavar="PROFILE", help="channel profile (default: the config's channel.model)")
    p.add_argument("--channel-file", metavar="FILE.npy",
                   help="measured complex frequency responses (n, n_sc) or (n, n_sym, n_sc) instead of a profile")
    p.add_argument("--snr", default="0:30:5", help="SNR range START:STOP:STEP or list (Es/N0 dB)")
    p.add_argument("--estimators", default="ls,lmmse,lmmse-mismatched,perfect",
                   help="comma list of ls,lmmse,lmmse-mismatched,lmmse-robust,perfect,cgan")
    p.add_argument("--n", type=int, default=None, help="slots per SNR (default 2000, or the file's count)")
    p.add_argument("--plot", metavar="PNG", help="write an NMSE-versus-SNR plot")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_eval)
    b = groups["bench"].add_parser("estimators", help="channel estimates per second on one core")
    add_config_args(b)
    add_json_arg(b)
    b.add_argument("--estimators", default="ls,lmmse,cgan", help="comma list of estimators")
    b.add_argument("--batch", default="1,64", help="comma list of batch sizes")
    b.add_argument("--min-time", type=float, default=1.0, help="seconds per measurement")
    b.set_defaults(func=_bench)
