"""``lamsc train semantic``, ``lamsc eval text``, ``lamsc bench semantic``."""
from __future__ import annotations

import json
import logging

from .common import add_config_args, add_json_arg, parse_range, run_config

log = logging.getLogger(__name__)


def _train(args) -> int:
    from ..provenance import write_json
    from ..semantic.train import train_semantic

    cfg = run_config(args)
    out = args.out or "deepsc_europarl.pt"
    plot = args.plot or (out.rsplit(".", 1)[0] + "_loss.png")
    summary = train_semantic(args.corpus, cfg, out, plot)
    summary["plot"] = plot
    print(json.dumps(summary, indent=2))
    if args.json:
        write_json(args.json, summary, cfg)
    return 0


def register(groups) -> None:
    t = groups["train"].add_parser("semantic", help="train the DeepSC-style semantic codec (crossed CE/MINE training)")
    t.add_argument("--corpus", required=True, help="text file (or .gz), one sentence a line")
    t.add_argument("--out", help="checkpoint path (default: deepsc_europarl.pt)")
    t.add_argument("--plot", help="loss plot PNG (default: OUT_loss.png)")
    add_config_args(t)
    add_json_arg(t)
    t.set_defaults(func=_train)
