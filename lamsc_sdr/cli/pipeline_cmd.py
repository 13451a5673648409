"""``lamsc demo``, ``lamsc bench pipeline`` and ``lamsc experiment``: the whole LAM-MSC chain."""
from __future__ import annotations

from .common import add_config_args, add_json_arg, parse_overrides


def _config(args, extra_base: dict | None = None):
    """Defaults <- the demo's channel and estimator <- --config <- --set/--seed <- --llm."""
    from ..demo import cli_demo_config
    overrides = parse_overrides(args.set, args.seed)
    if getattr(args, "llm", None):
        overrides["kb.llm"] = args.llm
    return cli_demo_config(args.config, overrides, extra_base)


def _demo(args) -> int:
    from ..demo import print_summary, run_demo
    from ..provenance import write_json
    from .validate import check_output, check_outputs
    check_outputs(args, ("json",))
    check_output(args.out, "--out", directory=True)
    cfg = _config(args)
    summary = run_demo(cfg, args.out, explicit_config=True, media=args.media or None)
    print_summary(summary, args.out)
    if args.json:
        write_json(args.json, {k: summary[k] for k in ("frames", "messages", "table", "seconds", "threshold")},
                   cfg)
    return 0


def _bench(args) -> int:
    from ..experiments.bench import bench_pipeline, print_bench
    from ..provenance import write_json
    from .validate import check_outputs
    check_outputs(args, ("json",))
    cfg = _config(args)
    res = bench_pipeline(cfg, args.repeats, explicit_config=True)
    print_bench(res)
    if args.json:
        write_json(args.json, res, cfg)
    return 0


def _experiment(args) -> int:
    if args.name == "m4sc":
        from .m4sc_cmd import experiment
        return experiment(args)
    from ..experiments import run_experiment
    from .validate import check_outputs
    check_outputs(args, ("json", "plot"))
    # Experiments default to the LKB's deterministic backend (the LLM only polishes wording, and
    # sweeps measure the channel); --llm, --config or --set kb.llm=... choose another.
    cfg = _config(args, extra_base={"kb": {"llm": "rules"}})
    return run_experiment(args.name, cfg, size=args.size, json_path=args.json, plot_path=args.plot,
                          explicit_config=True, workers=args.workers, ray_address=args.ray_address,
                          limit=args.limit, out_dir=args.out_dir)


def register(groups) -> None:
    p = groups["top"].add_parser("demo", help="send a photo, a speech clip and a video as meaning over the "
                                               "simulated radio; write a report folder")
    add_config_args(p)
    add_json_arg(p)
    p.add_argument("--out", default="out/demo", help="report folder (default out/demo)")
    p.add_argument("--llm", help="LLM backend for the LKB (offline | rules | transformers:PATH | openai:MODEL)")
    p.add_argument("--media", nargs="*", help="media files to send instead of the built-in examples")
    p.set_defaults(func=_demo)

    b = groups["bench"].add_parser("pipeline", help="per-stage and end-to-end latency per message per modality")
    add_config_args(b)
    add_json_arg(b)
    b.add_argument("--repeats", type=int, default=1, help="timed repetitions after one warm-up (default 1)")
    b.add_argument("--llm", help="LLM backend for the LKB (default: the config's)")
    b.set_defaults(func=_bench)

    e = groups["top"].add_parser("experiment", help="the paper's experiments: fig4, fig5, ablation, compression, "
                                                     "contenders (Fig. 5 of the journal version), m4sc")
    e.add_argument("name", choices=["fig4", "fig5", "ablation", "compression", "contenders", "m4sc"],
                   help="fig4: accuracy vs SNR; fig5: vs threshold; ablation: without LKB/CGE, plain CGAN; "
                        "compression: vs JPEG/Opus/H.264 over the same PHY; contenders: at equal air time; "
                        "m4sc: shared vs unicast for many users (docs/M4SC.md)")
    add_config_args(e)
    add_json_arg(e)
    e.add_argument("--plot", metavar="PNG", help="write the figure here")
    e.add_argument("--size", choices=["small", "full"], default="small",
                   help="evaluation set (`lamsc evalset build`): small (CI) or full (>= 50 images, 50 speech, 20 clips)")
    e.add_argument("--limit", type=int, help="at most this many items per modality (n is reported)")
    e.add_argument("--out-dir", default="out/experiments", help="outputs and the item cache (default %(default)s)")
    from ..experiments.runner import add_scale_args
    add_scale_args(e)
    e.add_argument("--llm", help="LLM backend for the LKB (default: rules for speed in experiments)")
    e.add_argument("--users", help="m4sc: user counts, e.g. 1,2,4,8 (default 1,2,4,8)")
    e.add_argument("--threshold", type=float, default=0.8, help="m4sc: similarity threshold of a correct message")
    e.add_argument("--snr", help="m4sc: SNRs in dB, e.g. 8,15,22 (default: the size's)")
    e.set_defaults(func=_experiment)
