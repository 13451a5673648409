"""``lamsc bench radio-stack``: the Pluto backends through the real driver stacks in real time
(:mod:`lamsc_sdr.experiments.radio_stack`). Without ``--uri`` it starts an emulated Pluto."""
from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

from ..errors import ConfigError
from .common import add_config_args, add_json_arg, run_config


def _rates(text: str) -> list[float]:
    try:
        out = [float(x) * 1e6 for x in text.split(",") if x.strip()]
    except ValueError as err:
        raise ConfigError(f"--rates: a comma list of Msps, got {text!r}") from err
    if not out or min(out) < 0.521:
        raise ConfigError("--rates: at least one rate, each >= 0.521 Msps")
    return out


def _run(args) -> int:
    from ..experiments import radio_stack as rs
    from ..provenance import write_json
    cfg = run_config(args)
    backends = [b.strip() for b in args.radio.split(",")]
    for b in backends:
        if b not in ("pluto", "gnuradio-pluto"):
            raise ConfigError(f"--radio: {b!r} is not pluto or gnuradio-pluto")
    if args.rx_gain is not None:
        cfg = cfg.replace(radio={"rx_gain": float(args.rx_gain)})
    with contextlib.ExitStack() as stack:
        uri = args.uri
        if not uri:
            from ..emulator.process import EmulatorProcess
            uri = stack.enter_context(EmulatorProcess(devices=1, seed=cfg.seed)).uri
            print(f"emulated Pluto at {uri}")
        out_dir = Path(args.out_dir) if args.out_dir else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        res = {"uri": uri, "emulated": not args.uri, "backends": {}}
        for b in backends:
            r = {}
            if "frames" in args.only:
                r["frames"] = f = rs.frames_realtime(cfg, b, uri, args.frames, args.rate, cfg.seed)
                print(f"{b}: {f['frames']} frames at {args.rate / 1e6:g} Msps: lost {f['lost']}, overflows "
                      f"{f['overflows']}; reading {f['driver_ns_per_sample']:.0f} ns CPU/sample = "
                      f"{f['core_fraction']:.3f} of a core at this rate ({f['realtime_factor']:.3f} x real time); "
                      f"decoding {f['decoder_ns_per_sample']:.0f} ns/sample = {f['decoder_core_fraction']:.2f} cores")
            if "rate" in args.only:
                r["max_rate"] = m = rs.max_rate(cfg, b, uri, _rates(args.rates), args.seconds)
                best = m["max_rate_without_overflow"]
                print(f"{b}: highest rate without overflow on one core: "
                      + (f"{best / 1e6:g} Msps" if best else "none of the rates tried"))
            if "slow" in args.only:
                r["slow_reader"] = s = rs.slow_reader(cfg, b, uri, out_dir / f"slow_{b}", args.rate,
                                                      pause_s=args.pause)
                print(f"{b}: slow reader ({args.pause:g} s pause): {s['overflows']} overflow(s), "
                      f"{s['gap_segments_in_recording']} gap segment(s) in the recording, frames decoded "
                      f"before/after the gap {s['frames_before_gap']}/{s['frames_after_gap']}")
            res["backends"][b] = r
    if args.json:
        write_json(args.json, res, cfg)
    lost = sum(r.get("frames", {}).get("lost", 0) for r in res["backends"].values())
    return 0 if lost == 0 else 1


def register(groups) -> None:
    p = groups["bench"].add_parser("radio-stack", help="Pluto backends through pyadi-iio / gr-iio in real time: "
                                                       "frames lost, CPU per sample, max rate, slow reader")
    add_config_args(p)
    add_json_arg(p)
    p.add_argument("--radio", default="pluto,gnuradio-pluto", help="pluto, gnuradio-pluto or both (comma list)")
    p.add_argument("--uri", help="device URI (default: start an emulated Pluto)")
    p.add_argument("--frames", type=int, default=1000, help="distinct one-frame messages (default 1000)")
    p.add_argument("--rate", type=float, default=2e6, help="sample rate of the frame test, S/s (default 2e6)")
    p.add_argument("--rates", default="1,2,4,6,8,10", help="Msps tried for the highest sustained rate")
    p.add_argument("--seconds", type=float, default=2.0, help="seconds read at each rate")
    p.add_argument("--pause", type=float, default=0.5, help="seconds the slow reader stops")
    p.add_argument("--rx-gain", type=float, default=60.0, help="RX gain dB (default 60: bursts near -20 dBFS)")
    p.add_argument("--only", default="frames,rate,slow", help="which measurements (frames,rate,slow)")
    p.add_argument("--out-dir", help="keep the slow reader's SigMF recordings here")
    p.set_defaults(func=_run)
