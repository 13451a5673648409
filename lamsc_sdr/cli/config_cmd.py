"""``lamsc config show|check``."""
from __future__ import annotations

from ..config import dump_config
from ..errors import ConfigError
from .common import add_config_args, run_config


def _show(args) -> int:
    cfg = run_config(args)
    print(dump_config(cfg), end="")
    return 0


def _check(args) -> int:
    if args.file and args.config and args.file != args.config:
        raise ConfigError(f"config check: give the file once (FILE {args.file} or --config {args.config})")
    args.config = args.file or args.config
    run_config(args)
    print(f"{args.config}: ok" if args.config else "ok (built-in defaults" + (" + overrides)" if args.set else ")"))
    return 0


def register(groups) -> None:
    p = groups["top"].add_parser("config", help="show or check the resolved run config")
    sub = p.add_subparsers(dest="what", metavar="WHAT")
    s = sub.add_parser("show", help="print the resolved config (defaults + file + overrides) as YAML")
    add_config_args(s)
    s.set_defaults(func=_show)
    c = sub.add_parser("check", help="validate a config file; exit 1 with the bad key on error")
    c.add_argument("file", nargs="?", metavar="FILE", help="the run config YAML to check (or --config FILE)")
    add_config_args(c)
    c.set_defaults(func=_check)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])
