"""Shared CLI plumbing: config loading with overrides, SNR ranges, JSON output, errors."""
from __future__ import annotations

import argparse
from typing import Any

import yaml

from ..config import RunConfig, load_config
from ..errors import ConfigError


def add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="YAML", help="run config (default: built-in defaults)")
    p.add_argument("--seed", type=int, help="override the config's seed")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set channel.snr_db=10 (repeatable)")


def add_json_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", metavar="PATH", help="write machine-readable results here")


def run_config(args: argparse.Namespace) -> RunConfig:
    overrides: dict[str, Any] = {}
    for item in getattr(args, "set", []) or []:
        if "=" not in item:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        overrides[k.strip()] = yaml.safe_load(v)
    if getattr(args, "seed", None) is not None:
        overrides["seed"] = args.seed
    return load_config(getattr(args, "config", None), overrides)


def parse_range(text: str, name: str = "--snr") -> list[float]:
    """``"0:12:2"`` -> [0, 2, ..., 12] (inclusive); ``"3,6,9"`` -> [3, 6, 9]; ``"5"`` -> [5]."""
    try:
        if ":" in text:
            parts = [float(x) for x in text.split(":")]
            if len(parts) == 2:
                parts.append(1.0)
            lo, hi, step = parts
            if step <= 0 or hi < lo:
                raise ValueError
            n = int(round((hi - lo) / step)) + 1
            return [round(lo + i * step, 9) for i in range(n)]
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError as err:
        raise ConfigError(f"{name}: expected START:STOP:STEP or a comma list, got {text!r}") from err
