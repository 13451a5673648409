"""Compute-device choice for the learned parts (CGE, semantic codec): ``auto`` | ``cpu`` | ``cuda``.

``auto`` picks CUDA when PyTorch sees a GPU, else the CPU. Checkpoints are always saved with CPU
tensors and loaded with ``map_location="cpu"`` then moved, so any checkpoint loads on any device.
"""
from __future__ import annotations

from .errors import ConfigError

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str | None = "auto") -> str:
    """``auto``/None -> ``cuda`` when ``torch.cuda.is_available()``, else ``cpu``; ``cpu``/``cuda`` as
    given. ``cuda`` without a GPU, or any other name, raises ConfigError."""
    device = device or "auto"
    if device not in DEVICES:
        raise ConfigError(f"--device: expected one of {list(DEVICES)}, got {device!r}")
    import torch
    has = bool(torch.cuda.is_available())
    if device == "cuda" and not has:
        raise ConfigError("--device cuda: no CUDA device is available (torch.cuda.is_available() is False)")
    return "cuda" if device == "cuda" or (device == "auto" and has) else "cpu"


def add_device_arg(parser, what: str = "the model") -> None:
    """The ``--device auto|cpu|cuda`` CLI option."""
    parser.add_argument("--device", choices=list(DEVICES), default="auto",
                        help=f"where {what} runs: auto (CUDA when present), cpu or cuda")
