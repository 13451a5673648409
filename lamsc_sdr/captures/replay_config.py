"""The run config a replay decodes with: the recording's own config, then the user's overrides.

A recording made with ``--set frame.fft_size=128`` carries that config (``lamsc:config``); a replay
with ``--set estimator.kind=lmmse`` or ``--seed 3`` must decode the same 128-point frames with the
other estimator, not fall back to the defaults. Overrides of what the transmitter fixed (the
frame layout) cannot change what is in the recording: they are refused with the reason.
"""
from __future__ import annotations

from typing import Any, Mapping

from ..errors import CaptureError, ConfigError

#: Frame fields a receiver may choose freely; every other ``frame`` field describes the waveform.
RECEIVER_FRAME_FIELDS = ("detection_threshold", "sync_threshold", "max_cfo_subcarriers", "timing_backoff")


def layout_conflicts(recorded: dict, wanted: dict) -> list[str]:
    """``frame.KEY: recording A, requested B`` for each waveform field that differs."""
    out = []
    for k, a in recorded.items():
        if k in RECEIVER_FRAME_FIELDS:
            continue
        b = wanted.get(k)
        if a != b:
            out.append(f"frame.{k}: recording {a!r}, requested {b!r}")
    return out


def replay_config(capture_config: Mapping[str, Any] | None, where: str, config_path=None,
                  overrides: Mapping[str, Any] | None = None):
    """Defaults <- the recording's config <- ``config_path`` <- ``overrides``. Raises ConfigError
    when the result changes the recorded frame layout (the frame is what was transmitted)."""
    from ..config import config_from_mapping, load_config
    if not capture_config:
        return load_config(config_path, overrides)
    recorded = config_from_mapping(capture_config, where)
    if not config_path and not overrides:
        return recorded
    cfg = load_config(config_path, overrides, base=capture_config)
    diff = layout_conflicts(recorded.to_dict()["frame"], cfg.to_dict()["frame"])
    if diff:
        raise ConfigError(f"replay: the frame layout is fixed by what was transmitted and recorded in {where}; "
                          f"an override cannot change it ({'; '.join(diff)})")
    return cfg


def check_lamsc_meta(g: Mapping[str, Any], where: str) -> None:
    """Validate the ``lamsc:`` keys a replay uses (CaptureError naming key and file): a recording
    edited by hand or by another tool must fail with one line, not deep inside the receiver."""
    def bad(key, want):
        raise CaptureError(f"{where}: {key} must be {want}, got {g.get(key)!r:.60}")
    if g.get("lamsc:config") is not None and not isinstance(g["lamsc:config"], Mapping):
        bad("lamsc:config", "a mapping (the run config)")
    if g.get("lamsc:codec") is not None and g["lamsc:codec"] not in ("digital", "semantic"):
        bad("lamsc:codec", "'digital' or 'semantic'")
    for key in ("lamsc:rx_chunk", "lamsc:frames_sent"):
        v = g.get(key)
        lo, hi = (1, 2 ** 24) if key.endswith("chunk") else (0, 2 ** 31)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi):
            bad(key, f"an integer in [{lo}, {hi}]")
    if g.get("lamsc:calibration") is not None and not isinstance(g["lamsc:calibration"], Mapping):
        bad("lamsc:calibration", "a mapping (a calibration) or null")
    if "lamsc:complete" in g and not isinstance(g["lamsc:complete"], bool):
        bad("lamsc:complete", "true or false")
    msgs = g.get("lamsc:messages")
    if msgs is not None:
        ok = isinstance(msgs, list) and all(
            isinstance(m, Mapping) and isinstance(m.get("message_id"), int) and not isinstance(m["message_id"], bool)
            and isinstance(m.get("text"), (str, type(None))) for m in msgs)
        if not ok:
            bad("lamsc:messages", "a list of {message_id: int, text: str}")
