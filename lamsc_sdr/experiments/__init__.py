"""The paper's experiments (``lamsc experiment NAME``) and the pipeline benchmark."""
from __future__ import annotations

import logging
from pathlib import Path

from ..config import RunConfig

log = logging.getLogger(__name__)


def run_experiment(name: str, cfg: RunConfig, size: str = "small", json_path=None, plot_path=None,
                   explicit_config: bool = False, out_dir: str | Path = "out/experiments") -> int:
    from ..demo import demo_config
    from ..provenance import write_json
    from .paper import EXPERIMENTS, SIZES, _Runner, media_set
    from .plots import plot_experiment
    if not explicit_config:
        # The demo's channel (5-tap fading, CFO, CGAN), and the LKB's deterministic backend unless
        # --llm names one: the LLM only polishes wording, and sweeps should measure the channel.
        cfg = demo_config(cfg, explicit=False)
    sz = SIZES[size]
    out = Path(out_dir) / name
    runner = _Runner(cfg, out)
    base = runner.prepare(media_set(out / "media", sz["items"]))
    res = EXPERIMENTS[name](runner, base, sz)
    res.update({"experiment": name, "size": size, "sizes": sz,
                "messages_sent": [{"modality": r.modality, "source": Path(r.source).name, "description": r.description,
                                   "semantics_sent": r.semantics_sent} for r in base]})
    plot = plot_path or (out / f"{name}.png")
    plot_experiment(name, res, plot)
    res["plot"] = str(plot)
    write_json(json_path or (out / f"{name}.json"), res, cfg)
    _print(name, res)
    return 0


def _print(name: str, res: dict) -> None:
    from ..pipeline import format_table
    rows = res["results"]
    keep = [k for k in rows[0] if not isinstance(rows[0][k], (dict, list))] if rows else []
    print(format_table([{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items() if k in keep}
                        for r in rows]))
    if "conventional_fer" in res:
        print(format_table(res["conventional_fer"]))
    print(f"plot: {res['plot']}")
