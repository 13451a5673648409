"""``lamsc train cge``: train the conditional-GAN channel estimator (CGE)."""
from __future__ import annotations

import logging
import shlex
import sys

from ..devices import add_device_arg

log = logging.getLogger(__name__)


def _train(args) -> int:
    from ..errors import ConfigError
    from ..estimation.cge_data import CaptureSource, SimSource
    from ..estimation.cge_train import load_cge_config, train_cge
    from .common import parse_overrides
    overrides = parse_overrides(args.set, args.seed)
    if args.init:
        overrides["train.init"] = args.init
    cfg = load_cge_config(args.config, overrides)
    if args.source == ["sim"]:
        source = SimSource(cfg.data, cfg.frame)
    elif "sim" in args.source:
        raise ConfigError("--source: give either 'sim' or capture paths, not both")
    else:
        source = CaptureSource(args.source, cfg.frame)
    curves = args.curves or str(args.out).rsplit(".", 1)[0] + "_curves.png"
    command = "lamsc " + " ".join(shlex.quote(a) for a in (args.argv or sys.argv[1:]))
    ck = train_cge(cfg, source, args.out, steps=args.steps, progress=not args.quiet, curves=curves,
                   command=command, device=args.device)
    val = ck["validation"]
    for s, v in zip(val["snr_db"], val["nmse"]):
        import math
        print(f"validation  snr {s:5.1f} dB  nmse {10 * math.log10(v):7.2f} dB")
    print(f"checkpoint written to {args.out}; curves {curves}")
    return 0


def _gap(args) -> int:
    """``lamsc eval estimator-gap``: NMSE per grid region, SNR and Doppler, and the gap to genie LMMSE."""
    import dataclasses

    import numpy as np

    from ..errors import ConfigError
    from ..estimation import KINDS, make_estimator, stats
    from ..estimation.gap import error_maps, plot_gap_curves, plot_gap_maps, region_masks, region_rows
    from ..provenance import write_json
    from .common import parse_range, run_config
    cfg = run_config(args)
    grid, pilots = cfg.frame.grid, cfg.frame.pilot_pattern
    names = [s.strip() for s in args.estimators.split(",") if s.strip()]
    for name in names:
        if name not in KINDS or name == "perfect":
            raise ConfigError(f"--estimators: {name!r} is not one of {[k for k in KINDS if k != 'perfect']}")
    if "lmmse" not in names:
        names = ["lmmse"] + names                                  # the reference of every gap
    profile = args.channel or cfg.channel.model
    snrs, dops = parse_range(args.snr), parse_range(args.doppler, "--doppler")
    masks = region_masks(pilots, args.edge)
    rng = np.random.default_rng(cfg.seed)
    rows, maps = [], []
    todo = [(fd, s) for fd in dops for s in snrs]
    it = todo
    if not args.quiet:
        from tqdm import tqdm
        it = tqdm(todo, desc="estimator gap", unit="link")
    for fd, snr in it:
        def make(_snr, fd=fd):
            ecfg = {n: dataclasses.replace(cfg.estimator, kind=n, timing_uncertainty_samples=0.0,
                                           **({"checkpoint": args.checkpoint} if args.checkpoint else {}))
                    for n in names}
            return {n: make_estimator(c, cfg.frame, profile, doppler_hz=fd,
                                      delay_spread_ns=cfg.channel.delay_spread_ns) for n, c in ecfg.items()}

        def h_source(m, r, fd=fd):
            return stats.grid_channel(profile, grid, m, r, fd, cfg.channel.delay_spread_ns)
        err, power = error_maps(make, h_source, pilots, snr, args.n, rng, warmup=args.warmup)
        rows += region_rows(err, power, masks, "lmmse", doppler_hz=fd, snr_db=snr)
        ref = 10 * np.log10(err["lmmse"] / power)
        maps += [(f"{n}, {snr:g} dB, {fd:g} Hz", 10 * np.log10(err[n] / power) - ref) for n in names if n != "lmmse"]
    print(f"{'doppler':>7s} {'snr':>4s} {'estimator':>10s} " + " ".join(f"{r:>13s}" for r in ["all", *masks]))
    for fd, snr in todo:
        for n in names:
            sel = {r["region"]: r for r in rows if r["doppler_hz"] == fd and r["snr_db"] == snr and r["estimator"] == n}
            cells = [f"{sel[r]['nmse_db']:6.1f}({sel[r]['gap_db']:+4.1f})" for r in ["all", *masks]]
            print(f"{fd:7.0f} {snr:4.0f} {n:>10s} " + " ".join(f"{c:>13s}" for c in cells))
    print("NMSE dB per region (gap to genie LMMSE in dB)")
    if args.json:
        write_json(args.json, {"results": rows, "channel": profile, "n": args.n, "warmup": args.warmup,
                               "regions": {k: int(v.sum()) for k, v in masks.items()}, "estimators": names}, cfg)
    if args.plot:
        base = str(args.plot).rsplit(".", 1)[0]
        plot_gap_maps(maps, pilots.mask, base + "_maps.png", f"gap to genie LMMSE per element, {profile}")
        if len(dops) > 1:
            plot_gap_curves(rows, base + "_doppler.png", f"gap to genie LMMSE versus Doppler, {profile}")
    return 0


def register(groups) -> None:
    from .common import add_config_args, add_json_arg
    g = groups["eval"].add_parser("estimator-gap", help="NMSE per grid region / SNR / Doppler and the gap to "
                                  "genie LMMSE (where an estimator loses)")
    add_config_args(g)
    add_json_arg(g)
    g.add_argument("--channel", metavar="PROFILE", help="channel profile (default: the config's channel.model)")
    g.add_argument("--snr", default="10,30", help="SNRs (Es/N0 dB): list or START:STOP:STEP")
    g.add_argument("--doppler", default="0,100", help="max Doppler frequencies (Hz): list or START:STOP:STEP")
    g.add_argument("--estimators", default="lmmse-est,cgan", help="comma list (genie lmmse is always added)")
    g.add_argument("--n", type=int, default=1000, help="measured slots per (Doppler, SNR) link")
    g.add_argument("--warmup", type=int, default=1000, help="slots fed first and not counted (tracker steady state)")
    g.add_argument("--edge", type=int, default=3, help="outermost subcarriers counted as the edge region")
    g.add_argument("--checkpoint", metavar="PT", default=None, help="CGAN checkpoint (default: the shipped one)")
    g.add_argument("--plot", metavar="PNG", help="write PNG_maps.png (gap per element) and PNG_doppler.png")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.set_defaults(func=_gap)

    p = groups["train"].add_parser("cge", help="train the conditional-GAN channel estimator")
    p.add_argument("--source", nargs="+", default=["sim"], metavar="sim|CAPTURE",
                   help="'sim' (simulated slots) or SigMF capture files/folders with their transmitted reference")
    p.add_argument("--config", metavar="YAML", help="CGE training config (schema_version, seed, frame, data, train)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a key, e.g. --set train.width=32 (repeatable)")
    p.add_argument("--seed", type=int, help="override the config's seed")
    p.add_argument("--steps", type=int, help="training steps (default: the config's train.steps)")
    p.add_argument("--out", required=True, metavar="PATH", help="checkpoint to write (atomically)")
    p.add_argument("--curves", metavar="PNG", help="loss/NMSE curves (default: OUT_curves.png)")
    p.add_argument("--init", metavar="CHECKPOINT",
                   help="fine-tune from a CGE checkpoint ('shipped' = the default one) instead of from scratch "
                        "(= train.init)")
    add_device_arg(p, "training")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_train, argv=None)
