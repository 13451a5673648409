"""``lamsc`` command line. Each concern registers its subcommands from its own module.

A module in ``COMMAND_MODULES`` defines ``register(groups)`` where ``groups`` maps ``"top"``,
``"eval"``, ``"bench"``, ``"train"`` and ``"experiment"`` to argparse sub-parser collections;
each command sets ``func=handler`` and the handler returns an exit code. Heavy imports stay
inside handlers so ``lamsc --help`` is instant.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from .. import __version__
from ..errors import LamscError

COMMAND_MODULES = ["config_cmd", "phy_cmd", "estimators_cmd", "cge_cmd", "semantic_cmd",
                   "radio_cmd", "mma_cmd", "kb_cmd", "pipeline_cmd", "checkpoint_cmd", "emulate_cmd",
                   "m4sc_cmd", "lam_sc_cmd", "evalset_cmd", "radio_bench_cmd"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lamsc", description="LAM-MSC semantic communication SDR testbed")
    parser.add_argument("--version", action="version", version=f"lamsc_sdr {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    top = parser.add_subparsers(dest="command", metavar="COMMAND")
    groups = {"top": top}
    for name, helptext in [("eval", "measure quality (BER, NMSE, similarity, ...)"),
                           ("bench", "measure speed"), ("train", "train a model")]:
        gp = top.add_parser(name, help=helptext)
        groups[name] = gp.add_subparsers(dest="what", metavar="WHAT")
        gp.set_defaults(func=lambda a, gp=gp: (gp.print_help(), 2)[1])
    for mod in COMMAND_MODULES:
        try:
            m = importlib.import_module(f".{mod}", __name__)
        except ModuleNotFoundError as err:
            if err.name and err.name.endswith(mod):
                continue  # a concern not built yet
            raise
        m.register(groups)
    return parser


def main(argv: list[str] | None = None) -> int:
    # Models come from packages or local paths: never from a hub at run time (a user who wants a
    # hub id must set HF_HUB_OFFLINE=0 explicitly). Third-party progress bars and info are noise.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", os.environ["HF_HUB_OFFLINE"])
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("lamsc_sdr").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except LamscError as err:
        _close_bars()
        print(f"lamsc: error: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # a file or device the user named failed mid-run (disk full, permissions)
        _close_bars()
        where = f"{err.filename}: " if getattr(err, "filename", None) else ""
        print(f"lamsc: error: {where}{err.strerror or err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        _close_bars()
        print("lamsc: interrupted", file=sys.stderr)
        return 130


def _close_bars() -> None:
    """Close progress bars a failed command left open, so the error is a line of its own."""
    tq = sys.modules.get("tqdm")
    for bar in list(getattr(getattr(tq, "tqdm", None), "_instances", None) or []):
        bar.close()


if __name__ == "__main__":
    sys.exit(main())
