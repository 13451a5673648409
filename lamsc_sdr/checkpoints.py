"""Checkpoint integrity and provenance: a SHA-256 sidecar beside every ``.pt`` file.

``PATH.pt`` is accompanied by ``PATH.pt.sha256.json``::

    {"file": "cge_default.pt", "sha256": "...", "bytes": 2352811, "signed": "2026-12-04T16:00:00+00:00",
     "format": "lamsc-cge-1", "config": {...resolved config...}, "versions": {...}, "signed_with": {...}}

* :func:`sign` writes the sidecar (call it after saving any new checkpoint; ``lamsc checkpoint
  sign PATH`` does it from the shell). ``config`` and ``versions`` come from the caller or from the
  checkpoint itself (``run_config``/``config`` and ``versions`` keys); ``signed_with`` always
  records the package versions of the signing run.
* :func:`verify` recomputes the hash and raises :class:`CheckpointIntegrityError` (one line
  naming the file) when it differs: a flipped byte never loads. A checkpoint without a sidecar
  loads with a warning (a file a user trained before sidecars existed).
* :func:`load_torch` = verify + ``torch.load(weights_only=True)`` with one-line errors for files
  that are not checkpoints (never advising ``weights_only=False``).
"""
from __future__ import annotations

import datetime as _dt
import json
import logging
from pathlib import Path
from typing import Any

from .errors import CheckpointIntegrityError, CheckpointMismatchError
from .provenance import sha256_file

log = logging.getLogger(__name__)
SIDECAR_SUFFIX = ".sha256.json"
_warned: set[str] = set()


def sidecar_path(path: str | Path) -> Path:
    """``model.pt`` -> ``model.pt.sha256.json``."""
    path = Path(path)
    return path.with_name(path.name + SIDECAR_SUFFIX)


def _torch_load(path: Path, what: str):
    import torch
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # zip, pickle and EOF errors of a corrupt or foreign file have many types
        text = str(err)
        if "Weights only load failed" in text or "weights_only" in text:
            why = "it holds Python objects that a safe load refuses to run"
        elif "zip" in text.lower() or "central directory" in text:
            why = "not a PyTorch checkpoint (or truncated)"
        else:
            why = f"unreadable ({type(err).__name__})"
        raise CheckpointMismatchError(f"{path}: not a loadable {what} checkpoint: {why}") from err


def _described(ck: Any) -> dict:
    """What a loaded checkpoint says about itself: format, resolved config, versions."""
    if not isinstance(ck, dict):
        return {}
    out = {}
    if isinstance(ck.get("format"), str):
        out["format"] = ck["format"]
    for key in ("run_config", "config"):
        if isinstance(ck.get(key), dict):
            out["config"] = ck[key]
            break
    if isinstance(ck.get("versions"), dict):
        out["versions"] = ck["versions"]
    return out


def sign(path: str | Path, config: dict | Any | None = None, versions: dict | None = None,
         checkpoint: dict | None = None) -> Path:
    """Write ``PATH.sha256.json`` for the checkpoint at ``path``; returns the sidecar's path.

    ``config``: the resolved config that made it (a dict or an object with ``to_dict()``);
    ``versions``: package versions of the run that made it. Both default to what the checkpoint
    itself records (``checkpoint``, or the file loaded safely when not given)."""
    from .provenance import atomic_write_text
    from .provenance import versions as current_versions
    path = Path(path)
    if not path.is_file():
        raise CheckpointMismatchError(f"cannot sign {path}: no such file")
    info = _described(checkpoint if checkpoint is not None else _torch_load(path, "lamsc"))
    if config is not None:
        info["config"] = config.to_dict() if hasattr(config, "to_dict") else config
    if versions is not None:
        info["versions"] = versions
    now = current_versions()
    body = {"file": path.name, "sha256": sha256_file(path), "bytes": path.stat().st_size,
            "signed": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            **info, "versions": info.get("versions", now), "signed_with": now}
    if "versions" not in info:
        body["versions_note"] = "the checkpoint records no versions: these are the signing run's"
    out = sidecar_path(path)
    atomic_write_text(out, json.dumps(body, indent=1, sort_keys=False) + "\n")
    return out


def read_sidecar(path: str | Path) -> dict | None:
    """The sidecar of ``path`` (None when there is none); a malformed sidecar is an error."""
    side = sidecar_path(path)
    if not side.is_file():
        return None
    try:
        body = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointIntegrityError(f"{side}: unreadable checkpoint sidecar ({type(err).__name__})") from err
    if not isinstance(body, dict) or not isinstance(body.get("sha256"), str):
        raise CheckpointIntegrityError(f"{side}: checkpoint sidecar has no 'sha256' string")
    return body


def verify(path: str | Path, required: bool = False) -> dict | None:
    """Check ``path`` against its sidecar; returns the sidecar (None: no sidecar, warned once).

    Raises CheckpointIntegrityError (one line naming the file) on a hash mismatch, or when
    ``required`` and there is no sidecar."""
    path = Path(path)
    body = read_sidecar(path)
    if body is None:
        if required:
            raise CheckpointIntegrityError(f"{path}: no checkpoint sidecar {sidecar_path(path).name} "
                                           "(sign it with `lamsc checkpoint sign`)")
        if str(path) not in _warned:
            _warned.add(str(path))
            log.warning("%s has no SHA-256 sidecar: integrity not verified (`lamsc checkpoint sign %s` adds one)",
                        path, path)
        return None
    got = sha256_file(path)
    if got != body["sha256"]:
        raise CheckpointIntegrityError(f"{path}: SHA-256 {got[:16]}... does not match its sidecar "
                                       f"({body['sha256'][:16]}...): the file is corrupt or was altered")
    return body


def load_torch(path: str | Path, what: str = "lamsc") -> Any:
    """Verify ``path`` against its sidecar, then ``torch.load(weights_only=True)`` on CPU.
    Every failure is one LamscError line naming the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointMismatchError(f"{what} checkpoint not found: {path}")
    verify(path)
    return _torch_load(path, what)


def shipped_checkpoints() -> list[Path]:
    """Every ``.pt`` file inside the installed package (the checkpoints lamsc_sdr ships)."""
    root = Path(__file__).parent
    return sorted(p for p in root.rglob("*.pt") if p.is_file())


__all__ = ["CheckpointIntegrityError", "sidecar_path", "sha256_file", "sign", "read_sidecar", "verify",
           "load_torch", "shipped_checkpoints", "SIDECAR_SUFFIX"]
