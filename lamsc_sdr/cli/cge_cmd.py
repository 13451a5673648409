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


def register(groups) -> None:
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
