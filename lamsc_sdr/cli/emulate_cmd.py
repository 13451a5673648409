"""``lamsc emulate pluto``: serve emulated Plutos on 127.0.0.1 until SIGINT/SIGTERM;
``lamsc bench emulator``: the highest sample rate the real libiio client sustains through it."""
from __future__ import annotations

import argparse
import signal
import sys
import threading

from ..errors import ConfigError


def _floats(text: str, name: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError as err:
        raise ConfigError(f"{name}: expected a comma list of numbers, got {text!r}") from err


def _emulate(args: argparse.Namespace) -> int:
    from ..emulator import EmulatorConfig, PlutoEmulator
    ppm = None
    if args.ppm is not None:
        ppm = _floats(args.ppm, "--ppm")
        if len(ppm) == 1 and args.devices > 1:
            raise ConfigError(f"--ppm: give one crystal error per device ({args.devices} devices)")
    leak = args.lo_leakage.strip().lower()
    try:
        leak_dbc = None if leak == "off" else float(leak)
    except ValueError as err:
        raise ConfigError(f"--lo-leakage: expected dBc (e.g. -50) or 'off', got {args.lo_leakage!r}") from err
    cfg = EmulatorConfig(devices=args.devices, port=args.port, ppm=ppm, model=args.model, channel=args.channel,
                         snr_db=args.snr, path_loss_db=args.path_loss, delay_spread_ns=args.delay_spread,
                         lo_leakage_dbc=leak_dbc, seed=args.seed)
    stop = threading.Event()

    def _handler(signum, frame):
        stop.set()
    old = {s: signal.signal(s, _handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with PlutoEmulator(cfg) as emu:
            ppms = ", ".join(f"{d.ppm:+.3f}" for d in emu.devices)
            print(f"lamsc emulate: ready {' '.join(emu.uris)} (model {cfg.model}, ppm {ppms}, channel "
                  f"{cfg.channel}, snr {cfg.snr_db} dB, path loss {cfg.path_loss_db} dB)", flush=True)
            while not stop.wait(0.2):
                pass
            print("lamsc emulate: stopped; " + "; ".join(
                f"{u}: {d.stats()}" for u, d in zip(emu.uris, emu.devices)), file=sys.stderr, flush=True)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    return 0


def _bench(args: argparse.Namespace) -> int:
    from ..emulator.bench import run_bench
    from ..provenance import write_json
    rates = [float(r) * 1e6 for r in _floats(args.rates, "--rates")]
    if not rates or min(rates) <= 0:
        raise ConfigError("--rates: give positive rates in Msps, e.g. 1,2,4")

    def show(row, null):
        print(f"{'null device' if null else 'emulator':11s} {row['rate_msps']:6.2f} Msps: "
              f"{'sustained' if row['sustained'] else 'OVERFLOW '} ({row['lossless_trials']}/{row['trials']} "
              f"trials lossless; lost {row['lost_samples']}), client read {row['client_msps']:.2f} Msps, "
              f"CPU/sample emulator {row['emulator_cpu_ns_per_sample']:.0f} ns, "
              f"client {row['client_cpu_ns_per_sample']:.0f} ns (one idle core: {row['cpu_bound_msps']:.1f} Msps)", flush=True)
    res = run_bench(rates, seconds=args.seconds, buffer_size=args.buffer_size, seed=args.seed, trials=args.trials,
                    client=args.client, progress=show, kernel_buffers=args.kernel_buffers)
    ratio = res["ratio_to_null"]
    print(f"highest rate sustained on one core ({args.client} client): emulator {res['max_sustained_msps']} Msps; "
          f"null device (protocol + client only, same run) {res['null_max_sustained_msps']} Msps; ratio "
          f"{'n/a' if ratio is None else f'{ratio:.2f}'}; ratio to the 4 Msps goal {res['ratio_to_goal']:.2f} "
          f"(load average {res['load_avg_before'][0]:.1f} on {res['cpu_count']} cores)")
    if args.json:
        write_json(args.json, res, {"rates_msps": [r / 1e6 for r in rates], "seconds": args.seconds,
                                    "trials": args.trials, "buffer_size": args.buffer_size, "client": args.client,
                                    "kernel_buffers": args.kernel_buffers,
                                    "seed": args.seed})
    return 0


def _frames(args: argparse.Namespace) -> int:
    from ..emulator.bench import frames_through_pyadi
    from ..provenance import write_json
    ppm = _floats(args.ppm, "--ppm")
    if len(ppm) != 2:
        raise ConfigError("--ppm: give the two crystal errors, e.g. --ppm=12,-7")
    leak = None if args.lo_leakage.strip().lower() == "off" else float(_floats(args.lo_leakage, "--lo-leakage")[0])
    res = frames_through_pyadi(args.frames, args.rate * 1e6, snr_db=args.snr, ppm=ppm, seed=args.seed,
                               lo_leakage_dbc=leak, tx_gain=args.tx_gain)
    ci = res["loss"]
    print(f"{res['frames_sent']} frames at {res['rate_msps']} Msps through pyadi-iio, two emulated Plutos "
          f"(ppm {ppm[0]:+g}/{ppm[1]:+g}): {res['frames_ok']} decoded, {res['frames_lost']} lost "
          f"(loss {ci['rate']:.4f}, 95% CI {ci['ci_low']:.4f}-{ci['ci_high']:.4f}); RX overflows "
          f"{res['overflows']}, samples lost {res['lost_samples']}; capture {res['capture_s']:.2f} s; "
          f"LO leakage {args.lo_leakage} dBc, TX gain {args.tx_gain} dB")
    if args.json:
        write_json(args.json, res, {"frames": args.frames, "rate_msps": args.rate, "snr_db": args.snr,
                                    "ppm": list(ppm), "seed": args.seed, "lo_leakage": args.lo_leakage,
                                    "tx_gain": args.tx_gain})
    return 0 if res["frames_lost"] == 0 else 3


def register(groups) -> None:
    top = groups["top"]
    p = top.add_parser("emulate", help="serve emulated devices on 127.0.0.1 (libiio network protocol)")
    sub = p.add_subparsers(dest="device", metavar="DEVICE")
    sub.required = True
    q = sub.add_parser("pluto", help="an ADALM-Pluto for pyadi-iio, libiio and gr-iio: ip:127.0.0.1:PORT")
    q.add_argument("--port", type=int, default=30431, help="TCP port of the first device (0: any free port); "
                                                           "device i listens on PORT+i (default 30431)")
    q.add_argument("--devices", type=int, default=1, help="number of Plutos sharing one air (default 1)")
    q.add_argument("--ppm", help="crystal error per device, comma list; a leading minus needs '=': --ppm=-5,10 "
                                 "(default: drawn from N(0, 10 ppm) with --seed)")
    q.add_argument("--model", choices=["ad9363a", "ad9364"], default="ad9363a",
                   help="ad9363a: a stock Pluto (325-3800 MHz, 20 MHz); ad9364: Pluto in AD9364 mode")
    q.add_argument("--channel", default="awgn", metavar="PROFILE",
                   help="channel profile of every link (awgn, rayleigh, epa, tdl-a, ...; default awgn)")
    q.add_argument("--snr", type=float, default=60.0, metavar="DB",
                   help="SNR at the RX input of a 0 dBFS TX waveform at 0 dB TX attenuation (default 60)")
    q.add_argument("--path-loss", type=float, default=50.0, metavar="DB", help="DAC to RX input (default 50)")
    q.add_argument("--delay-spread", type=float, default=100.0, metavar="NS", help="TDL delay spread (default 100)")
    q.add_argument("--lo-leakage", default="-50", metavar="DBC",
                   help="TX LO leakage at 0 dB attenuation, dBc of full scale (rises 18 dB by 40 dB "
                        "attenuation); 'off' for none (default -50)")
    q.add_argument("--seed", type=int, default=0, help="seed of the emulated air and crystal errors (default 0)")
    q.set_defaults(func=_emulate)

    b = groups["bench"].add_parser("emulator", help="highest rate the real libiio client reads without overflow")
    b.add_argument("--rates", default="1,2,4,6,8", help="sample rates to try, Msps (comma list)")
    b.add_argument("--client", choices=["libiio", "pyadi", "gr-iio"], default="libiio",
                   help="libiio: pylibiio refill loop; pyadi: adi.Pluto.rx(); gr-iio: fmcomms2_source_fc32")
    b.add_argument("--trials", type=int, default=3, help="trials per rate (a rate is sustained in most)")
    b.add_argument("--seconds", type=float, default=3.0, help="seconds per trial")
    b.add_argument("--buffer-size", type=int, default=65536, help="RX buffer size in samples (default 65536)")
    b.add_argument("--kernel-buffers", type=int, default=4, help="RX DMA blocks (a Pluto's default is 4)")
    b.add_argument("--seed", type=int, default=0, help="seed of the emulated air (default 0)")
    b.add_argument("--json", metavar="PATH", help="write machine-readable results here")
    b.set_defaults(func=_bench)

    f = groups["bench"].add_parser("emulator-frames", help="frames of the PHY through pyadi-iio and two "
                                                          "emulated Plutos in real time: frames lost")
    f.add_argument("--frames", type=int, default=1000, help="frames to capture (default 1000)")
    f.add_argument("--rate", type=float, default=2.0, help="sample rate in Msps (default 2)")
    f.add_argument("--snr", type=float, default=45.0, help="emulator --snr (default 45)")
    f.add_argument("--ppm", default="12,-7", help="the two crystal errors (default 12,-7)")
    f.add_argument("--lo-leakage", default="-50", metavar="DBC", help="as for emulate pluto ('off': none)")
    f.add_argument("--tx-gain", type=float, default=-5.0, help="TX hardwaregain in dB (default -5)")
    f.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    f.add_argument("--json", metavar="PATH", help="write machine-readable results here")
    f.set_defaults(func=_frames)
