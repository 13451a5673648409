"""Shared CLI plumbing: config loading with overrides, SNR ranges, JSON output, errors."""
from __future__ import annotations

import argparse
from typing import Any

from ..config import RunConfig, load_config
from ..config_base import parse_yaml_text
from ..errors import ConfigError


def add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="YAML", help="run config (default: built-in defaults)")
    p.add_argument("--seed", type=int, help="override the config's seed")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set channel.snr_db=10 (repeatable)")


def add_json_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", metavar="PATH", help="write machine-readable results here")


def parse_overrides(items, seed: int | None = None) -> dict[str, Any]:
    """``--set KEY=VALUE`` items (+ ``--seed``) as dotted overrides; values are YAML with 1.2
    floats (``--set radio.center_freq=915e6`` is a number)."""
    overrides: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        if not k.strip():
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        overrides[k.strip()] = parse_yaml_text(v, f"--set {k.strip()}=")
    if seed is not None:
        overrides["seed"] = seed
    return overrides


def run_config(args: argparse.Namespace, base: dict | None = None) -> RunConfig:
    """Defaults, then ``base`` (a command's own defaults, e.g. the demo's channel), then the
    ``--config`` file, then ``--set``/``--seed``: the user's word always wins."""
    overrides = parse_overrides(getattr(args, "set", []), getattr(args, "seed", None))
    return load_config(getattr(args, "config", None), overrides, base=base)


def parse_range(text: str, name: str = "--snr") -> list[float]:
    """``"0:12:2"`` -> [0, 2, ..., 12] (inclusive); ``"3,6,9"`` -> [3, 6, 9]; ``"5"`` -> [5].

    Empty, non-finite and ranges of more than ``MAX_SNR_POINTS`` points are ConfigErrors naming
    the option ``name`` (``--snr-range`` for ``eval fer``)."""
    from .validate import MAX_SNR_POINTS
    import math
    bad = ConfigError(f"{name}: expected START:STOP:STEP or a comma list of numbers, got {text!r}")
    try:
        parts = [float(x) for x in text.split(":")] if ":" in text else None
        values = [float(x) for x in text.split(",") if x.strip()] if parts is None else None
    except ValueError as err:
        raise bad from err
    if parts is not None:
        if len(parts) == 2:
            parts.append(1.0)
        if len(parts) != 3 or not all(math.isfinite(v) for v in parts) or parts[2] <= 0 or parts[1] < parts[0]:
            raise bad
        lo, hi, step = parts
        n = int(round((hi - lo) / step)) + 1
        if n > MAX_SNR_POINTS:
            raise ConfigError(f"{name} {text}: {n} points; at most {MAX_SNR_POINTS} "
                              "(narrow the range or raise the step)")
        return [round(lo + i * step, 9) for i in range(n)]
    if not values or not all(math.isfinite(v) for v in values):
        raise bad
    if len(values) > MAX_SNR_POINTS:
        raise ConfigError(f"{name}: {len(values)} points; at most {MAX_SNR_POINTS}")
    return values
