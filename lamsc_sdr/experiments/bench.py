"""``lamsc bench pipeline``: per-stage and end-to-end latency per message, per modality."""
from __future__ import annotations

import time
from pathlib import Path

from ..config import RunConfig


def bench_pipeline(cfg: RunConfig, repeats: int = 1, out_dir: str | Path = "out/bench_pipeline",
                   explicit_config: bool = False) -> dict:
    """One warm-up message per modality (loads every model), then ``repeats`` timed ones.
    ``explicit_config``: ``cfg`` is final (else the demo's channel and estimator are applied)."""
    from ..demo import demo_config
    from ..pipeline import Link, Stages
    from . import evalsets
    cfg = demo_config(cfg, explicit=explicit_config)
    out = Path(out_dir)
    media = evalsets.media_by_modality(evalsets.load("small"), 1)
    stages = Stages(cfg)
    t0 = time.perf_counter()
    Link(cfg, stages=stages).run([p for ps in media.values() for p in ps], out)   # warm-up: loads models
    load_s = time.perf_counter() - t0
    results = []
    for modality, paths in media.items():
        for _ in range(max(1, repeats)):
            t0 = time.perf_counter()
            res = Link(cfg, stages=stages).run(paths[:1], out)
            total = time.perf_counter() - t0
            st = res["messages"][0]["stage_seconds"]
            results.append({"modality": modality, "end_to_end_s": total, "stages": st})
    rows = []
    for modality in media:
        sel = [r for r in results if r["modality"] == modality]
        if not sel:
            continue
        stages_mean = {k: sum(r["stages"].get(k, 0.0) for r in sel) / len(sel) for k in sel[0]["stages"]}
        e2e = sum(r["end_to_end_s"] for r in sel) / len(sel)
        share = {k: v / e2e for k, v in stages_mean.items()}
        rows.append({"modality": modality, "end_to_end_s": e2e, "stages_s": stages_mean, "share": share,
                     "bottleneck": max(stages_mean, key=stages_mean.get)})
    return {"results": rows, "warmup_and_model_load_s": load_s, "repeats": repeats}


def print_bench(res: dict) -> None:
    for r in res["results"]:
        print(f"{r['modality']:6s} end-to-end {r['end_to_end_s']:.2f} s   bottleneck: {r['bottleneck']}")
        for k, v in sorted(r["stages_s"].items(), key=lambda kv: -kv[1]):
            print(f"    {k:22s} {v:7.3f} s  {100 * r['share'][k]:5.1f} %")
    print(f"model loading + warm-up: {res['warmup_and_model_load_s']:.1f} s")
