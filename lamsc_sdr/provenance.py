"""What made an output: resolved config, seed, package versions. Attached to every result file."""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from . import __version__

_PACKAGES = ("numpy", "scipy", "torch", "tokenizers", "transformers", "sigmf", "pyadi-iio", "gnuradio")


def versions() -> dict[str, str]:
    out = {"lamsc_sdr": __version__, "python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def provenance(cfg=None) -> dict[str, Any]:
    d = {"created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "versions": versions()}
    if cfg is not None:
        d["config"] = cfg.to_dict() if hasattr(cfg, "to_dict") else cfg
    return d


def _default(o):
    import numpy as np
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def sha256_file(path: str | Path, chunk: int = 1 << 22) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks (checkpoints, model files, media)."""
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def file_mode() -> int:
    """The mode a new file gets under the user's umask (``0o666 & ~umask``), as ``open()`` would."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write(path: str | Path, write, binary: bool = True) -> None:
    """Call ``write(file)`` on a temp file next to ``path``, fsync, then rename onto ``path``:
    readers never see half a file and a failed write leaves nothing. The file gets the user's
    umask (not ``mkstemp``'s 0600), like every other tool's output."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically with the user's umask (see :func:`atomic_write`)."""
    atomic_write(path, lambda f: f.write(text), binary=False)


def write_json(path: str | Path, payload: dict, cfg=None) -> None:
    """Write results JSON with ``config`` and ``provenance`` keys added (atomically)."""
    body = dict(payload)
    if cfg is not None and "config" not in body:
        body["config"] = cfg.to_dict() if hasattr(cfg, "to_dict") else cfg
    body.setdefault("provenance", provenance())
    atomic_write_text(path, json.dumps(body, indent=2, default=_default) + "\n")
