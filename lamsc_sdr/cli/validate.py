"""Input checks every command shares: output paths checked before a run starts, finite positive
durations and sample counts, SNR lists of sane size. Each failure is one ConfigError line."""
from __future__ import annotations

import math
import os
from pathlib import Path

from ..errors import ConfigError

#: ``--snr START:STOP:STEP`` expanding to more points than this is refused (a typo such as
#: ``0:1e9:1`` would otherwise run until killed).
MAX_SNR_POINTS = 1000


def check_output(path, what: str, directory: bool = False) -> None:
    """Refuse an output path that cannot be written, before any work is done.

    ``directory``: the output is a folder (``demo --out``); else a file (``--json``, ``--record``).
    A missing parent folder is fine when it can be created (the writers create it)."""
    if path is None or path == "":
        if path == "":
            raise ConfigError(f"{what}: empty path")
        return
    p = Path(path)
    if p.exists():
        if directory and not p.is_dir():
            raise ConfigError(f"{what} {path}: exists and is not a folder")
        if not directory and p.is_dir():
            raise ConfigError(f"{what} {path}: is a folder; give a file name")
        target = p if directory else p.parent
        if not os.access(target if str(target) else ".", os.W_OK):
            raise ConfigError(f"{what} {path}: {target} is not writable")
        return
    anc = p.parent
    while not anc.exists() and anc != anc.parent:
        anc = anc.parent
    anc = anc if str(anc) else Path(".")
    if not anc.is_dir():
        raise ConfigError(f"{what} {path}: {anc} is not a folder")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise ConfigError(f"{what} {path}: {anc} is not writable")


def check_outputs(args, names=("json", "record", "out", "plot")) -> None:
    """:func:`check_output` for each of ``--json``, ``--record``, ``--out``, ``--plot`` that is set."""
    for name in names:
        value = getattr(args, name, None)
        if isinstance(value, str):
            check_output(value, f"--{name.replace('_', '-')}")


def positive(value, name: str, allow_zero: bool = False) -> float:
    """A finite number > 0 (or >= 0): durations, sample counts, budgets."""
    try:
        v = float(value)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{name}: expected a number, got {value!r}") from err
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ConfigError(f"{name}: must be a finite number {'>=' if allow_zero else '>'} 0, got {value!r}")
    return v
