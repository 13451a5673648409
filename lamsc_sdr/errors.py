"""One exception family for the whole project, so callers catch ``LamscError`` and nothing wider."""
from __future__ import annotations


class LamscError(Exception):
    """Base of every error lamsc_sdr raises on purpose."""


class ConfigError(LamscError, ValueError):
    """A configuration value or file is invalid; the message names the key (and file)."""


class ShapeError(LamscError, ValueError):
    """An array has the wrong shape, dtype or holds NaN/Inf where finite values are needed."""


class CheckpointMismatchError(LamscError):
    """A checkpoint was made for another configuration (frame layout, tokenizer, model sizes)."""


class CheckpointIntegrityError(LamscError):
    """A checkpoint's bytes do not match the SHA-256 its sidecar recorded (corrupt or altered)."""


class RadioError(LamscError):
    """A radio failed while in use."""


class RadioNotFoundError(RadioError):
    """A radio could not be reached; the message names the URI, ``__cause__`` keeps the driver's error."""


class CaptureError(LamscError):
    """A SigMF capture is missing, truncated, mislabelled or otherwise unreadable."""


class ModelUnavailableError(LamscError):
    """A model backend cannot run here (package or weights missing); the message says what to install."""
