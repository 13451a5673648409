"""Estimator configuration section (``estimator:`` in the run YAML)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class EstimatorConfig:
    kind: Literal["ls", "lmmse", "lmmse-mismatched", "lmmse-robust", "lmmse-est", "cgan", "perfect", "cgan-plain"] = "cgan"  # README default
    equalizer: Literal["zf", "mmse"] = "mmse"
    assumed_profile: str = "epa"          # statistics LMMSE assumes when mismatched (or "exp:RMS_NS")
    assumed_snr_db: float = 15.0          # noise level the mismatched LMMSE assumes
    assumed_doppler_hz: float = 0.0       # Doppler the mismatched LMMSE assumes
    checkpoint: str | None = None         # CGAN checkpoint; None = the shipped one (e.g. a capture fine-tune)
    backend: Literal["auto", "onnx", "torch"] = "auto"   # CGAN inference: auto = ONNX Runtime on CPU if installed
    device: Literal["auto", "cpu", "cuda"] = "auto"      # CGAN PyTorch device: auto = CUDA when present
    # Residual timing error of a frame receiver (samples, +-): the LMMSE statistics are widened by
    # it (stats.timing_spread). Grid-level evaluation (no sync) sets 0.
    timing_uncertainty_samples: float = 3.0
    robust_max_doppler_hz: float = 300.0  # lmmse-robust: flat Doppler spectrum up to this (CFO residual incl.)
