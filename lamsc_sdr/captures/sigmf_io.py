"""SigMF recordings: a crash-safe writer and a validating reader.

A recording is ``BASE.sigmf-meta`` (JSON) + ``BASE.sigmf-data`` (``cf32_le`` samples). lamsc adds
keys in its own ``lamsc:`` namespace (declared in ``core:extensions``):

- global: ``lamsc:version``, ``lamsc:backend``, ``lamsc:simulated``, ``lamsc:config`` (the resolved
  run config), ``lamsc:calibration`` (the calibration applied at receive time, or null),
  ``lamsc:rx_chunk`` (samples per ``rx`` call of the live run), ``lamsc:messages`` (what was sent),
  ``lamsc:reference`` (base name of the transmitted-reference recording), ``lamsc:complete``.
- global ``core:author`` (``$LAMSC_AUTHOR``, else the login name), ``core:hw`` (the device's
  model, serial and firmware as the device reports them, e.g. from a Pluto's IIO context) and
  ``lamsc:hw`` (the same as a mapping).
- a new capture segment (``lamsc:gap`` = the reason, ``lamsc:lost`` = samples lost if known) at
  each sample where the receiver lost samples (an overflow), with a ``gap`` annotation: a
  recording is never silently spliced.
- annotations, one per detected frame: ``core:sample_start``, ``core:sample_count``,
  ``core:label = "frame"``, ``lamsc:message_id``, ``lamsc:segment_index``, ``lamsc:header_crc_ok``,
  ``lamsc:snr_db``, ``lamsc:cfo_hz``.

Crash safety: the metadata is written (atomically: temp file + rename) when the recorder opens
and again at most every ``flush_interval_s`` and at close; samples are appended and flushed on
every ``write``. A recording cut off mid-write is readable up to its last complete sample.
"""
from __future__ import annotations

import datetime as _dt
import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..errors import CaptureError, ShapeError
from ..provenance import _default, atomic_write_text

log = logging.getLogger(__name__)

META_EXT = ".sigmf-meta"
DATA_EXT = ".sigmf-data"
SIGMF_VERSION = "1.2.0"
LAMSC_EXTENSION = {"name": "lamsc", "version": "1.0.0", "optional": True}

# SigMF datatype -> (numpy dtype of one real component, is complex)
_DTYPES = {
    "cf32_le": ("<f4", True), "cf64_le": ("<f8", True), "ci16_le": ("<i2", True),
    "ci32_le": ("<i4", True), "ci8": ("i1", True), "cu8": ("u1", True),
    "cf32_be": (">f4", True), "ci16_be": (">i2", True),
}


def base_path(path: str | os.PathLike) -> Path:
    """``x``, ``x.sigmf-meta`` or ``x.sigmf-data`` -> ``x`` (no extension)."""
    p = Path(path)
    if p.name.endswith(META_EXT) or p.name.endswith(DATA_EXT):
        return p.with_name(p.name.rsplit(".", 1)[0])
    return p


def default_author() -> str:
    """``core:author``: ``$LAMSC_AUTHOR`` or the login name."""
    env = os.environ.get("LAMSC_AUTHOR")
    if env:
        return env
    try:
        import getpass
        return getpass.getuser()
    except Exception:  # no login name (containers): still a valid string
        return "unknown"


def hw_text(info: dict | str | None) -> str:
    """``core:hw`` text from ``Radio.hardware()``: "model, serial S, firmware F (via URI)"."""
    if not info or isinstance(info, str):
        return info or ""
    parts = [str(info.get("model") or "unknown device")]
    for key in ("part", "serial", "firmware"):
        if info.get(key):
            parts.append(f"{key} {info[key]}")
    text = ", ".join(parts)
    return text + (f" (via {info['uri']})" if info.get("uri") else "")


def _now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _versions() -> dict:
    from ..provenance import versions
    return versions()


class SigMFRecorder:
    """Append complex samples to a SigMF recording as they arrive.

    Args:
        path: base path (``.sigmf-meta`` / ``.sigmf-data`` are added; either may be given).
        sample_rate: samples per second (> 0).
        center_freq: RF centre frequency in Hz (None for baseband-only simulations).
        hardware: ``core:hw``: text, or ``Radio.hardware()``'s mapping (also kept as ``lamsc:hw``).
        author: ``core:author`` (default :func:`default_author`).
        extra_global: more global keys (``lamsc:config``, ``lamsc:calibration``, ...).

    ``write(iq)``: iq (n,) complex -- stored as complex64 (``cf32_le``); NaN/Inf raise ShapeError
    and nothing of that chunk is written. ``annotate(start, count, **fields)`` adds one annotation.
    """

    def __init__(self, path: str | os.PathLike, sample_rate: float, center_freq: float | None = None,
                 *, hardware: str | dict = "", description: str = "", extra_global: dict | None = None,
                 author: str | None = None,
                 flush_interval_s: float = 1.0):
        if not (isinstance(sample_rate, (int, float)) and math.isfinite(sample_rate) and sample_rate > 0):
            raise CaptureError(f"SigMF recording {path}: sample rate must be > 0, got {sample_rate!r}")
        self.base = base_path(path)
        self.meta_path = self.base.with_name(self.base.name + META_EXT)
        self.data_path = self.base.with_name(self.base.name + DATA_EXT)
        self.base.parent.mkdir(parents=True, exist_ok=True)
        self.global_info: dict[str, Any] = {
            "core:datatype": "cf32_le",
            "core:version": SIGMF_VERSION,
            "core:sample_rate": float(sample_rate),
            "core:recorder": f"lamsc_sdr {__version__}",
            "core:extensions": [dict(LAMSC_EXTENSION)],
            "lamsc:version": __version__,
            "lamsc:versions": _versions(),          # package versions that made it (README)
            "lamsc:complete": False,
        }
        self.global_info["core:author"] = author or default_author()
        if hardware:
            self.global_info["core:hw"] = hw_text(hardware)
            if isinstance(hardware, dict):
                self.global_info["lamsc:hw"] = dict(hardware)
        if description:
            self.global_info["core:description"] = description
        if extra_global:
            self.global_info.update(extra_global)
        capture: dict[str, Any] = {"core:sample_start": 0, "core:datetime": _now_iso()}
        if center_freq is not None:
            capture["core:frequency"] = float(center_freq)
        self.captures = [capture]
        self.annotations: list[dict] = []
        self.n_samples = 0
        self._flush_interval = float(flush_interval_s)
        try:
            self._fh = open(self.data_path, "wb")
        except OSError as err:
            raise CaptureError(f"cannot create SigMF data file {self.data_path}: {err.strerror}") from err
        self._last_meta = 0.0
        self._dirty = True
        self._write_meta()

    # --- writing ---------------------------------------------------------------------------
    def write(self, iq: np.ndarray) -> None:
        """Append samples. iq: (n,) complex (any complex dtype; stored as complex64)."""
        if self._fh is None:
            raise CaptureError(f"SigMF recording {self.base} is closed")
        x = np.asarray(iq)
        if x.ndim != 1:
            raise ShapeError(f"recorder expects (n,) samples, got shape {x.shape}")
        x = x.astype(np.complex64, copy=False)
        if not np.all(np.isfinite(x.view(np.float32))):
            bad = int(np.flatnonzero(~np.isfinite(x))[0])
            raise ShapeError(f"refusing to record NaN/Inf samples (first at chunk index {bad}, "
                             f"recording {self.base} stays valid up to sample {self.n_samples})")
        self._fh.write(x.astype("<c8", copy=False).tobytes())
        self._fh.flush()
        self.n_samples += x.size
        self._maybe_meta()

    def annotate(self, sample_start: int, sample_count: int, label: str = "frame", **fields: Any) -> None:
        """One annotation; ``fields`` go into the ``lamsc:`` namespace unless they carry a namespace."""
        ann = {"core:sample_start": int(max(0, sample_start)), "core:sample_count": int(max(0, sample_count)),
               "core:label": label}
        for k, v in fields.items():
            ann[k if ":" in k else f"lamsc:{k}"] = v
        self.annotations.append(ann)
        self._dirty = True
        self._maybe_meta()

    def mark_gap(self, sample_index: int, lost: int | None = None, reason: str = "overflow") -> None:
        """Samples were lost just before ``sample_index``: a new capture segment starts there."""
        idx = int(sample_index)
        seg = {"core:sample_start": idx, "core:datetime": _now_iso(), "lamsc:gap": reason}
        if "core:frequency" in self.captures[0]:
            seg["core:frequency"] = self.captures[0]["core:frequency"]
        if lost is not None:
            seg["lamsc:lost"] = int(lost)
        same = [c for c in self.captures if c["core:sample_start"] == idx]
        if same:                          # two losses before one sample: one segment naming both
            c = same[0]
            reasons = c.get("lamsc:gap", "").split(",") if c.get("lamsc:gap") else []
            if reason not in reasons:
                c["lamsc:gap"] = ",".join(reasons + [reason])
            if lost is not None:
                c["lamsc:lost"] = int(c.get("lamsc:lost", 0)) + int(lost)
        else:
            self.captures.append(seg)
            self.captures.sort(key=lambda c: c["core:sample_start"])
        self.annotate(idx, 0, label="gap", reason=reason, **({"lost": int(lost)} if lost is not None else {}))

    def update_global(self, **fields: Any) -> None:
        """Set global keys (``lamsc:`` namespace unless the key carries one)."""
        for k, v in fields.items():
            self.global_info[k if ":" in k else f"lamsc:{k}"] = v
        self._dirty = True
        self._maybe_meta()

    def _maybe_meta(self) -> None:
        if time.monotonic() - self._last_meta >= self._flush_interval:
            self._write_meta()

    def _write_meta(self) -> None:
        anns = sorted(self.annotations, key=lambda a: a["core:sample_start"])
        meta = {"global": self.global_info, "captures": self.captures, "annotations": anns}
        atomic_write_text(self.meta_path, json.dumps(meta, indent=1, default=_default) + "\n")
        os.chmod(self.meta_path, 0o644)          # mkstemp creates 0600; recordings are for sharing
        self._last_meta = time.monotonic()
        self._dirty = False

    def close(self) -> None:
        """Flush and fsync the data, write the final metadata (``lamsc:complete = true``). Idempotent."""
        if self._fh is None:
            return
        try:
            self._fh.flush()
            os.fsync(self._fh.fileno())
        finally:
            self._fh.close()
            self._fh = None
        self.global_info["lamsc:complete"] = True
        self._write_meta()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __repr__(self) -> str:
        return f"SigMFRecorder({str(self.base)!r}, n_samples={self.n_samples}, annotations={len(self.annotations)})"


# --- reading --------------------------------------------------------------------------------
@dataclass
class Capture:
    """A SigMF recording in memory.

    ``samples``: (n,) complex64 at ``sample_rate``; ``annotations``: SigMF annotation dicts;
    ``global_info``: the global object; ``truncated_bytes``: bytes dropped after the last complete
    sample (a cut-off recording).
    """

    meta_path: Path
    samples: np.ndarray
    sample_rate: float
    center_freq: float | None
    global_info: dict
    captures: list = field(default_factory=list)
    annotations: list = field(default_factory=list)
    truncated_bytes: int = 0

    @property
    def config(self) -> dict | None:
        return self.global_info.get("lamsc:config")

    @property
    def calibration(self) -> dict | None:
        return self.global_info.get("lamsc:calibration")

    @property
    def messages(self) -> list:
        return list(self.global_info.get("lamsc:messages") or [])

    @property
    def simulated(self) -> bool:
        return bool(self.global_info.get("lamsc:simulated", False))

    @property
    def complete(self) -> bool:
        return bool(self.global_info.get("lamsc:complete", True))

    def frames(self) -> list[dict]:
        """Annotations labelled ``frame``, in sample order."""
        return [a for a in self.annotations if a.get("core:label") == "frame"]

    def reference(self) -> "Capture | None":
        """The transmitted-reference recording stored alongside, if any."""
        ref = self.global_info.get("lamsc:reference")
        if not ref:
            return None
        return read_capture(self.meta_path.parent / (ref + META_EXT))

    def resampled(self, rate: float) -> np.ndarray:
        """The samples at ``rate``. (m,) complex64."""
        return resample(self.samples, self.sample_rate, rate)

    def __repr__(self) -> str:
        return (f"Capture({str(self.meta_path)!r}, n={self.samples.size}, sample_rate={self.sample_rate}, "
                f"center_freq={self.center_freq}, frames={len(self.frames())}, simulated={self.simulated})")


def read_capture(path: str | os.PathLike) -> Capture:
    """Read and validate a SigMF recording (``BASE``, ``BASE.sigmf-meta`` or ``BASE.sigmf-data``).

    Raises CaptureError, naming the file, for: missing files, metadata that is not SigMF JSON, an
    unsupported or real-valued datatype, a missing or invalid sample rate, and NaN/Inf samples.
    A data file whose length is not a whole number of samples is read up to the last complete
    sample (``truncated_bytes`` says how much was dropped) with a warning.
    Output: Capture with samples (n,) complex64.
    """
    base = base_path(path)
    meta_path = base.with_name(base.name + META_EXT)
    data_path = base.with_name(base.name + DATA_EXT)
    if not meta_path.is_file():
        raise CaptureError(f"SigMF metadata file not found: {meta_path}")
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CaptureError(f"{meta_path}: not readable SigMF JSON metadata ({err})") from err
    if not isinstance(meta, dict) or not isinstance(meta.get("global"), dict):
        raise CaptureError(f"{meta_path}: SigMF metadata must be an object with a 'global' object")
    g = meta["global"]
    try:
        import sigmf.validate
        sigmf.validate.validate(meta)
    except ImportError:  # pragma: no cover - sigmf is a core dependency
        pass
    except Exception as err:  # jsonschema.ValidationError: report the field, keep the cause
        msg = getattr(err, "message", str(err)).splitlines()[0]
        where = "/".join(str(p) for p in getattr(err, "absolute_path", []))
        raise CaptureError(f"{meta_path}: invalid SigMF metadata at '{where or '<root>'}': {msg}") from err
    dtype_name = g.get("core:datatype")
    if dtype_name not in _DTYPES:
        kind = "real-valued; lamsc needs complex IQ" if str(dtype_name).startswith("r") else "not supported"
        raise CaptureError(f"{meta_path}: core:datatype {dtype_name!r} is {kind} "
                           f"(supported: {', '.join(sorted(_DTYPES))})")
    rate = g.get("core:sample_rate")
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate) or rate <= 0:
        raise CaptureError(f"{meta_path}: core:sample_rate must be a positive number, got {rate!r}")
    if int(g.get("core:num_channels", 1)) != 1:
        raise CaptureError(f"{meta_path}: only single-channel recordings are supported")
    if not data_path.is_file():
        raise CaptureError(f"SigMF data file not found: {data_path} (metadata {meta_path})")
    comp, _ = _DTYPES[dtype_name]
    item = 2 * np.dtype(comp).itemsize
    nbytes = data_path.stat().st_size
    n = nbytes // item
    extra = nbytes - n * item
    if extra:
        log.warning("%s: %d trailing bytes after the last complete sample ignored (cut-off recording)",
                    data_path, extra)
    raw = np.fromfile(data_path, dtype=comp, count=2 * n)
    if dtype_name.startswith("cf"):
        x = raw.astype(np.float32, copy=False).view(np.complex64) if comp.endswith("f4") and comp.startswith("<") \
            else (raw[0::2] + 1j * raw[1::2]).astype(np.complex64)
    else:
        scale = {"i1": 2.0 ** 7, "u1": 2.0 ** 7, "<i2": 2.0 ** 15, ">i2": 2.0 ** 15, "<i4": 2.0 ** 31}[comp]
        r = raw.astype(np.float32)
        if comp == "u1":
            r = r - 127.5
        x = ((r[0::2] + 1j * r[1::2]) / scale).astype(np.complex64)
    if not np.all(np.isfinite(x.view(np.float32))):
        bad = int(np.flatnonzero(~np.isfinite(x))[0])
        raise CaptureError(f"{data_path}: sample {bad} is NaN/Inf; the recording is corrupt from there")
    caps = meta.get("captures") or [{"core:sample_start": 0}]
    freq = caps[0].get("core:frequency") if caps else None
    return Capture(meta_path=meta_path, samples=x, sample_rate=float(rate), center_freq=freq, global_info=g,
                   captures=caps, annotations=list(meta.get("annotations") or []), truncated_bytes=int(extra))


def resample(iq: np.ndarray, from_rate: float, to_rate: float, max_den: int = 2000) -> np.ndarray:
    """Polyphase resampling from ``from_rate`` to ``to_rate`` (ratio approximated to ``max_den``).

    iq: (n,) complex -> (round(n * to_rate / from_rate),) complex64 (approximately).
    """
    if from_rate <= 0 or to_rate <= 0:
        raise CaptureError(f"resample: rates must be > 0, got {from_rate} -> {to_rate}")
    x = np.asarray(iq, dtype=np.complex64)
    if from_rate == to_rate:
        return x
    from scipy.signal import resample_poly
    ratio = Fraction(to_rate / from_rate).limit_denominator(max_den)
    if abs(float(ratio) - to_rate / from_rate) > 1e-6 * to_rate / from_rate:
        log.warning("resampling %g -> %g approximated by %s", from_rate, to_rate, ratio)
    return resample_poly(x, ratio.numerator, ratio.denominator).astype(np.complex64)
