"""SigMF captures: crash-safe recording, validated reading, resampling. See ``captures/README.md``."""
from .sigmf_io import Capture, SigMFRecorder, base_path, read_capture, resample

__all__ = ["Capture", "SigMFRecorder", "base_path", "read_capture", "resample"]
