"""The paper's experiments (``lamsc experiment NAME``), the evaluation sets and the pipeline benchmark."""
from __future__ import annotations

import logging
import time
from pathlib import Path

from ..config import RunConfig

log = logging.getLogger(__name__)
NAMES = ("fig4", "fig5", "ablation", "compression", "contenders")


def run_experiment(name: str, cfg: RunConfig, size: str = "small", json_path=None, plot_path=None,
                   explicit_config: bool = False, out_dir: str | Path = "out/experiments", workers: int = 1,
                   ray_address: str | None = None, limit: int | None = None) -> int:
    from ..demo import demo_config
    from ..provenance import write_json
    from .paper import EXPERIMENTS, SIZES, Sweep
    from .plots import plot_experiment
    if not explicit_config:
        # The demo's channel (5-tap fading, CFO, CGAN), and the LKB's deterministic backend unless
        # --llm names one: the LLM only polishes wording, and sweeps should measure the channel.
        cfg = demo_config(cfg, explicit=False)
    sz = SIZES[size]
    out = Path(out_dir)
    sweep = Sweep(cfg, out, sz, workers=workers, ray_address=ray_address, limit=limit)
    t0 = time.perf_counter()
    if name == "compression":
        from .compression import compression as fn
    elif name == "contenders":
        from .contenders import contenders as fn
    else:
        fn = EXPERIMENTS[name]
    res = fn(sweep)
    res.update({"experiment": name, "size": size, "sizes": sz, "seed": cfg.seed, "workers": workers,
                "ray_address": ray_address, "wall_s": round(time.perf_counter() - t0, 1), **sweep.sets_info(),
                "item_seed_rule": "sha256([seed, system, snr, trial, file name])[:8] (see experiments/sweep.py)"})
    plot = plot_path or (out / name / f"{name}.png")
    plot_experiment(name, res, plot)
    res["plot"] = str(plot)
    write_json(json_path or (out / name / f"{name}.json"), res, cfg)
    _print(name, res)
    return 0


def _print(name: str, res: dict) -> None:
    from ..pipeline import format_table
    rows = res["results"]
    keep = [k for k in rows[0] if not isinstance(rows[0][k], (dict, list))] if rows else []
    print(format_table([{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items() if k in keep}
                        for r in rows]))
    for m, c in (res.get("chance_level") or {}).items():
        if c.get("n_pairs"):
            print(f"chance level ({m}, {c['n_pairs']} mismatched pairs): paper metric {c['paper']:.3f}, "
                  f"calibrated {c['calibrated']:.3f} (threshold {c['calibrated_threshold']:.3f})")
    if "conventional_fer" in res:
        print(format_table(res["conventional_fer"]))
    print(f"n per row = items x trials; evaluation set {res.get('evaluation_set')} {res.get('counts_used')}; "
          f"wall {res.get('wall_s')} s on {res.get('workers')} worker(s)")
    print(f"plot: {res['plot']}")
