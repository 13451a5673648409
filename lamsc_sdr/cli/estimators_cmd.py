"""``lamsc eval estimators`` (NMSE versus SNR) and ``lamsc bench estimators`` (estimates per second)."""
from __future__ import annotations

import logging
import os

from ..experiments.runner import add_scale_args
from .common import add_config_args, add_json_arg, parse_range, run_config

log = logging.getLogger(__name__)


def _estimators(names: list[str], cfg, profile: str | None, stats_h=None, args=None) -> dict:
    """Build the named estimators for ``cfg.frame``. With measured channels ``stats_h`` the genie
    LMMSE uses their sample statistics. ``args.device`` / ``args.backend`` / ``args.checkpoint``
    (when given) override the config's CGAN settings."""
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
        ecfg = dataclasses.replace(cfg.estimator, kind=name, timing_uncertainty_samples=0.0,
                                   **_cgan_overrides(args))
        out[name] = make_estimator(ecfg, cfg.frame, profile, doppler_hz=cfg.channel.doppler_hz,
                                   delay_spread_ns=cfg.channel.delay_spread_ns)
    return out


def _cgan_overrides(args) -> dict:
    out = {}
    for key in ("device", "backend", "checkpoint"):
        v = getattr(args, key, None) if args is not None else None
        if v is not None:
            out[key] = v
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
    from ..estimation.evaluate import load_channel_file
    from ..experiments.eval_workers import snr_items
    from ..experiments.runner import run_items
    from ..provenance import write_json
    cfg = run_config(args)
    grid = cfg.frame.grid
    snrs = parse_range(args.snr)
    names = [s.strip() for s in args.estimators.split(",") if s.strip()]
    if args.captures:
        return _eval_captures(args, cfg, names)
    if args.channel_file:
        measured = load_channel_file(args.channel_file, grid)
        n = args.n or measured.shape[0]
        source_desc = {"channel_file": str(args.channel_file), "n_in_file": int(measured.shape[0])}
        profile = None
        _estimators(names, cfg, None, stats_h=measured, args=args)     # bad names / checkpoints: one clear error
    else:
        profile = args.channel or cfg.channel.model
        n = args.n or 2000
        source_desc = {"channel": profile, "doppler_hz": cfg.channel.doppler_hz,
                       "delay_spread_ns": cfg.channel.delay_spread_ns}
        _estimators(names, cfg, profile, args=args)
    # one item per SNR with its own seed (channels, noise and estimators fresh): same rows for any --workers
    out = run_items("lamsc_sdr.experiments.eval_workers:estimators_worker",
                    {"cfg": cfg.to_dict(), "names": names, "profile": profile, "channel_file": args.channel_file,
                     "n": n, "overrides": _cgan_overrides(args)}, snr_items(cfg.seed, snrs),
                    workers=args.workers, ray_address=args.ray_address, desc="eval estimators (SNR points)",
                    progress=not args.quiet)
    rows = sorted((r for o in out for r in o["rows"]), key=lambda r: names.index(r["estimator"]))
    for r in rows:
        nm = "-inf" if r["nmse_db"] is None else f"{r['nmse_db']:7.2f}"
        print(f"{r['estimator']:>17s}  snr {r['snr_db']:5.1f} dB  nmse {nm} dB")
    payload = {"results": rows, "n": n, "source": source_desc, "estimators": names, "workers": args.workers,
               "item_seed_rule": "sha256([seed, 'eval-estimators', snr])",
               "grid": list(grid.shape), "pilots": cfg.frame.pilots.kind}
    if args.json:
        write_json(args.json, payload, cfg)
    if args.plot:
        _plot(rows, args.plot, f"NMSE, {source_desc.get('channel', 'measured channels')}")
    return 0


def _bench(args) -> int:
    import dataclasses

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
    ests = _estimators(names, cfg, cfg.channel.model, args=args)
    if "cgan" in ests and getattr(ests["cgan"], "backend", "torch") != "torch":
        # the reference: the same checkpoint through PyTorch, measured in the same run
        from ..estimation import make_estimator
        ecfg = dataclasses.replace(cfg.estimator, kind="cgan", **{**_cgan_overrides(args), "backend": "torch"})
        ests["cgan-torch"] = make_estimator(ecfg, cfg.frame, cfg.channel.model)
    batches = [int(b) for b in args.batch.split(",")]
    with limiter:
        rows = bench(ests, cfg.frame.pilot_pattern, batches, args.min_time, np.random.default_rng(cfg.seed))
    slot = cfg.frame.grid.slot_len
    needed, needed4 = 2e6 / slot, 4e6 / slot
    ref = {r["batch"]: r["estimates_per_cpu_s"] for r in rows if r["estimator"] == "cgan-torch"}
    load = _load_average()
    for r in rows:
        r["realtime_factor_2msps"] = r["estimates_per_s"] / needed
        r["realtime_factor_4msps"] = r["estimates_per_s"] / needed4
        r["realtime_factor_4msps_cpu"] = r["estimates_per_cpu_s"] / needed4
        if getattr(ests[r["estimator"]], "backend", None):
            r["backend"] = ests[r["estimator"]].backend
        if r["estimator"] == "cgan" and r["batch"] in ref:
            r["speedup_vs_torch"] = r["estimates_per_cpu_s"] / ref[r["batch"]]
        extra = f"  {r['speedup_vs_torch']:.2f}x PyTorch" if "speedup_vs_torch" in r else ""
        print(f"{r['estimator']:>17s}  batch {r['batch']:4d}  {r['estimates_per_s']:9.0f} /s wall "
              f"{r['estimates_per_cpu_s']:9.0f} /s CPU  ({r['realtime_factor_4msps_cpu']:.2f}x the {needed4:.0f} "
              f"slots/s of 4 Msps per CPU-second, {r['realtime_factor_4msps']:.2f}x wall){extra}")
    print(f"load average {load[0]:.2f} on {os.cpu_count()} cores: wall rates are shared; CPU-time rates are "
          "what one core sustains")
    if args.json:
        write_json(args.json, {"results": rows, "slots_per_s_needed_at_2msps": needed,
                               "slots_per_s_needed_at_4msps": needed4, "load_average": list(load),
                               "slot_len_samples": slot, "threads": 1}, cfg)
    return 0


def _eval_captures(args, cfg, names) -> int:
    """NMSE of each estimator against the reference channel of held-out captures (``--captures``):
    every slot of every capture, the receiver's per-frame SNR, estimators fed in capture order
    (the adaptive ones track the link's statistics as a receiver would)."""
    import numpy as np

    from ..estimation.cge_data import CaptureSource
    from ..provenance import write_json
    src = CaptureSource(args.captures, cfg.frame)
    ests = _estimators([n for n in names if n != "perfect"], cfg, cfg.estimator.assumed_profile, args=args)
    pilots = cfg.frame.pilot_pattern
    n0 = 10 ** (-src.snr_db / 10)
    rows = []
    power = float(np.sum(np.abs(src.h) ** 2))
    for name, est in ests.items():
        h_hat, _ = est(src.y, pilots, n0)
        err = np.abs(h_hat - src.h) ** 2
        per = [float(np.sum(err[i]) / np.sum(np.abs(src.h[i]) ** 2)) for i in range(len(src.h))]
        nmse = float(np.sum(err)) / power
        rows.append({"estimator": name, "nmse": nmse, "nmse_db": float(10 * np.log10(nmse)),
                     "slots": int(len(src.h)), "nmse_db_slot_median": float(10 * np.log10(np.median(per)))})
        print(f"{name:>17s}  captures  nmse {rows[-1]['nmse_db']:7.2f} dB  ({len(src.h)} slots)")
    if args.json:
        write_json(args.json, {"results": rows, "source": src.describe(), "estimators": list(ests),
                               "reference": "decision-directed LS over every known element (Y / X)"}, cfg)
    return 0


def _load_average() -> tuple:
    try:
        return os.getloadavg()
    except OSError:
        return (float("nan"),) * 3


def _one_core():
    """Context limiting BLAS/OpenMP pools to one thread when threadpoolctl is available."""
    try:
        from threadpoolctl import threadpool_limits
        return threadpool_limits(limits=1)
    except ImportError:
        import contextlib
        log.warning("threadpoolctl not installed: BLAS may use more than one thread")
        return contextlib.nullcontext()


def _cgan_args(p) -> None:
    from ..devices import add_device_arg
    add_device_arg(p, "the CGAN (PyTorch path)")
    p.add_argument("--backend", choices=["auto", "onnx", "torch"], default=None,
                   help="CGAN inference path (default: the config's estimator.backend, auto = ONNX Runtime on CPU)")
    p.add_argument("--checkpoint", metavar="PT", default=None,
                   help="CGAN checkpoint (default: the config's estimator.checkpoint, else the shipped one)")


def register(groups) -> None:
    p = groups["eval"].add_parser("estimators", help="channel-estimator NMSE versus SNR on the slot grid")
    add_config_args(p)
    add_json_arg(p)
    p.add_argument("--channel", metavar="PROFILE", help="channel profile (default: the config's channel.model)")
    p.add_argument("--channel-file", metavar="FILE.npy",
                   help="measured complex frequency responses (n, n_sc) or (n, n_sym, n_sc) instead of a profile")
    p.add_argument("--snr", default="0:30:5", help="SNR range START:STOP:STEP or list (Es/N0 dB)")
    p.add_argument("--estimators", default="ls,lmmse,lmmse-mismatched,perfect",
                   help="comma list of ls,lmmse,lmmse-mismatched,lmmse-robust,lmmse-est,perfect,cgan,cgan-plain")
    p.add_argument("--n", type=int, default=None, help="slots per SNR (default 2000, or the file's count)")
    p.add_argument("--captures", nargs="+", metavar="DIR|CAPTURE",
                   help="held-out SigMF captures (with their transmitted reference) instead of simulated channels")
    p.add_argument("--plot", metavar="PNG", help="write an NMSE-versus-SNR plot")
    _cgan_args(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_scale_args(p)
    p.set_defaults(func=_eval)
    b = groups["bench"].add_parser("estimators", help="channel estimates per second on one core")
    add_config_args(b)
    add_json_arg(b)
    b.add_argument("--estimators", default="ls,lmmse,lmmse-est,cgan", help="comma list of estimators "
                   "(with cgan on a fast path, the same checkpoint through PyTorch is measured too: cgan-torch)")
    b.add_argument("--batch", default="16,64", help="comma list of batch sizes (16: one frame's slots)")
    b.add_argument("--min-time", type=float, default=1.0, help="seconds per measurement")
    _cgan_args(b)
    b.set_defaults(func=_bench)
