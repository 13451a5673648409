"""``lamsc eval phy``, ``lamsc eval sync``, ``lamsc bench phy``."""
from __future__ import annotations

import logging

from .common import add_config_args, add_json_arg, parse_range, run_config

log = logging.getLogger(__name__)


def _rng(cfg):
    import numpy as np
    return np.random.default_rng(cfg.seed)


def _write(args, payload, cfg) -> None:
    """Print a table (people), then write the JSON (``--json``): a bad path never loses a run."""
    from .table import format_results
    print(format_results(payload))
    if args.json:
        from ..provenance import write_json
        write_json(args.json, payload, cfg)


def _pre(args) -> list[float] | None:
    """Checks before a run: output paths, and the SNR list (when the command has one)."""
    from .validate import check_outputs
    check_outputs(args, ("json", "plot"))
    return parse_range(args.snr) if getattr(args, "snr", None) is not None else None


def _eval_phy(args) -> int:
    from ..channel.profiles import PROFILE_NAMES, canonical_name
    from ..errors import ConfigError
    from ..estimation import KINDS
    from ..phy.evaluate import ber_curve
    from ..phy.qam import bits_per_symbol
    snrs = _pre(args)
    channel = canonical_name(args.channel)
    if channel not in PROFILE_NAMES:
        raise ConfigError(f"--channel: unknown channel profile {args.channel!r}; known: {', '.join(PROFILE_NAMES)}")
    csi = tuple(c.strip() for c in (args.csi or ("perfect,ls" if channel == "awgn" else "perfect,ls,lmmse")).split(","))
    bad = [c for c in csi if c not in KINDS]
    if bad or not csi:
        raise ConfigError(f"--csi: {bad} not among {list(KINDS)}")
    if not args.doppler >= 0:
        raise ConfigError(f"--doppler: must be >= 0 Hz, got {args.doppler}")
    bits_per_symbol(args.modulation)
    cfg = run_config(args)
    rows = ber_curve(cfg.frame, args.modulation, snrs, args.frames, _rng(cfg), csi=csi,
                     cfo_max_hz=args.cfo_max, channel=channel, doppler_hz=args.doppler,
                     delay_spread_ns=args.delay_spread)
    payload = {"channel": channel, "modulation": args.modulation, "cfo_max_hz": args.cfo_max,
               "results": rows}
    if channel != "awgn":
        payload.update(doppler_hz=args.doppler, delay_spread_ns=args.delay_spread,
                       fading="one realization per frame" + (" (Jakes)" if args.doppler else " (block)"),
                       ber_theory="Rayleigh closed form (perfect CSI, per-RE CN(0,1) channel)"
                       if any(r["ber_theory"] is not None for r in rows) else None)
    _write(args, payload, cfg)
    if args.plot:
        _plot_ber(rows, args.modulation, args.plot, channel)
    return 0


def _plot_ber(rows, modulation, path, channel="awgn") -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for kind in sorted({r["csi"] for r in rows}):
        rr = [r for r in rows if r["csi"] == kind]
        ax.semilogy([r["snr_db"] for r in rr], [max(r["ber"], 1e-7) for r in rr], "o-", label=f"{kind} CSI")
    rr = [r for r in rows if r["csi"] == rows[0]["csi"] and r["ber_theory"] is not None]
    if rr:
        ax.semilogy([r["snr_db"] for r in rr], [r["ber_theory"] for r in rr], "k--", label="closed form")
    ax.set_xlabel("Es/N0 [dB]")
    ax.set_ylabel("BER (uncoded)")
    ax.set_title(f"{modulation.upper()} through the full OFDM frame, {channel} + CFO")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _eval_sync(args) -> int:
    from ..phy.evaluate import sync_curve
    snrs = _pre(args)
    cfg = run_config(args)
    out = sync_curve(cfg.frame, snrs, args.frames, _rng(cfg), cfo_max_hz=args.cfo_max,
                     noise_samples=args.noise_samples)
    _write(args, out, cfg)
    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        rows = out["results"]
        s = [r["snr_db"] for r in rows]
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
        a1.plot(s, [r["p_detect"] for r in rows], "o-", label="P(detect)")
        a1.plot(s, [r["p_header_ok"] for r in rows], "s-", label="P(header ok)")
        a1.set_title(f"false alarms: {out['false_alarm']['per_million_samples']:.2f} per 1e6 noise samples")
        a1.set_xlabel("Es/N0 [dB]")
        a1.legend()
        a1.grid(alpha=0.3)
        a2.semilogy(s, [r["cfo_rmse_hz"] or float("nan") for r in rows], "o-")
        a2.set_xlabel("Es/N0 [dB]")
        a2.set_ylabel("CFO RMSE [Hz]")
        a2.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        plt.close(fig)
    return 0


def _bench_phy(args) -> int:
    from threadpoolctl import threadpool_limits
    from ..phy.evaluate import bench
    _pre(args)
    cfg = run_config(args)
    with threadpool_limits(limits=1):          # one core: BLAS/OpenMP pools to one thread
        out = bench(cfg.frame, _rng(cfg), n_frames=args.frames, chunk=args.chunk)
    out["threads"] = 1
    _write(args, out, cfg)
    return 0


def register(groups) -> None:
    p = groups["eval"].add_parser("phy", help="uncoded BER through the whole frame vs SNR (perfect, LS, LMMSE CSI)")
    add_config_args(p)
    add_json_arg(p)
    p.add_argument("--channel", default="awgn", help="awgn or a fading profile (rayleigh, lammsc, epa, tdl-a, ...): "
                   "one realization per frame")
    p.add_argument("--csi", default=None, help="comma list of perfect,ls,lmmse,lmmse-mismatched,lmmse-robust,cgan "
                   "(default perfect,ls for awgn, perfect,ls,lmmse otherwise)")
    p.add_argument("--doppler", type=float, default=0.0, help="max Doppler (Hz) of fading channels; 0 = block fading")
    p.add_argument("--delay-spread", type=float, default=100.0, help="TDL-A..E delay spread (ns)")
    p.add_argument("--modulation", default="qpsk", help="bpsk|qpsk|16qam|64qam")
    p.add_argument("--snr", default="0:12:2", help="Es/N0 dB: START:STOP:STEP or a comma list")
    p.add_argument("--frames", type=int, default=50, help="frames per SNR and CSI kind")
    p.add_argument("--cfo-max", type=float, default=40e3, help="CFO drawn uniformly in +-this (Hz)")
    p.add_argument("--plot", metavar="PNG", help="write the BER curve here")
    p.set_defaults(func=_eval_phy)

    s = groups["eval"].add_parser("sync", help="detection / false alarms / CFO RMSE vs SNR")
    add_config_args(s)
    add_json_arg(s)
    s.add_argument("--snr", default="-6:12:2", help="Es/N0 dB: START:STOP:STEP or a comma list (default -6:12:2)")
    s.add_argument("--frames", type=int, default=100, help="frames per SNR point (default 100)")
    s.add_argument("--cfo-max", type=float, default=40e3, help="CFO drawn uniformly in +-this (Hz, default 40e3)")
    s.add_argument("--noise-samples", type=int, default=2_000_000,
                   help="noise-only samples for the false-alarm rate (default 2e6)")
    s.add_argument("--plot", metavar="PNG", help="write detection and CFO RMSE curves here")
    s.set_defaults(func=_eval_sync)

    b = groups["bench"].add_parser("phy", help="receiver / transmitter throughput on one core")
    add_config_args(b)
    add_json_arg(b)
    b.add_argument("--frames", type=int, default=60, help="frames to time (default 60)")
    b.add_argument("--chunk", type=int, default=1 << 18, help="push() chunk size for the streaming figure")
    b.set_defaults(func=_bench_phy)
