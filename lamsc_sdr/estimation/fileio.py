"""Atomic file writes for estimator outputs (plots, checkpoints): temp file + rename, so a reader
never sees half a file and an interrupted run leaves nothing behind."""
from __future__ import annotations

from pathlib import Path
from typing import Callable


def atomic_write(path: str | Path, write: Callable[[object], None]) -> None:
    """Call ``write(binary_file)`` on a temp file next to ``path``, fsync, then rename onto ``path``
    (the file gets the user's umask; see :func:`lamsc_sdr.provenance.atomic_write`)."""
    from ..provenance import atomic_write as _atomic
    _atomic(path, write, binary=True)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    atomic_write(path, lambda f: f.write(data))


def save_figure(fig, path: str | Path, dpi: int = 120) -> None:
    """Save a matplotlib figure as PNG atomically."""
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=dpi, bbox_inches="tight"))
