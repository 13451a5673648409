"""MMA interfaces, result records, media loading and a per-process model cache.

Two interfaces, one call each:

- :class:`MediaToText` ``describe(path_or_array) -> TextResult``
- :class:`TextToMedia` ``render(text, out_path) -> MediaResult``

Arrays accepted by ``describe`` (per modality):

- image: ``(H, W, 3)`` or ``(H, W, 4)`` or ``(H, W)`` ``uint8`` (0..255) or float (0..1), RGB.
- audio: ``(n,)`` ``float32`` mono at 16 kHz in [-1, 1] (or a ``(samples, sample_rate)`` tuple).
- video: ``(T, H, W, 3)`` ``uint8`` RGB frames (sampled at ``video_fps`` of the config).
"""
from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import ModelUnavailableError, ShapeError

log = logging.getLogger(__name__)

MODALITIES = ("image", "audio", "video", "text")
AUDIO_RATE = 16_000

IMAGE_EXT = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
AUDIO_EXT = {".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aac", ".raw"}
VIDEO_EXT = {".mp4", ".mkv", ".avi", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".gifv"}
TEXT_EXT = {".txt", ".md"}


@dataclass
class TextResult:
    """What a media -> text backend produced.

    ``offline_fallback`` is True when the text comes from an offline stand-in (a classifier and
    detectors composed into a sentence, not a captioning model); ``details`` holds the evidence
    (labels, probabilities, per-frame texts, transcript, latency).
    """
    text: str
    backend: str
    offline_fallback: bool = False
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class MediaResult:
    """What a text -> media backend wrote: the file, the backend, and whether it is a stand-in
    (``offline_fallback``: retrieved from a gallery or assembled, not generated)."""
    path: Path
    backend: str
    offline_fallback: bool = False
    details: dict[str, Any] = field(default_factory=dict)


class MediaToText(ABC):
    """Media of one modality -> a text description. Subclasses set ``modality`` and ``name``."""
    modality: str = ""
    name: str = ""
    offline_fallback: bool = False

    @abstractmethod
    def describe(self, media) -> TextResult:
        """``media``: a file path or an array (see module docstring) -> :class:`TextResult`."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class TextToMedia(ABC):
    """Text -> media of one modality written to ``out_path``."""
    modality: str = ""
    name: str = ""
    offline_fallback: bool = False
    default_suffix: str = ""

    #: True for stand-ins that retrieve stored media instead of generating it; such a backend
    #: must honour :meth:`excluding` so it never returns the item under test.
    retrieval: bool = False

    @abstractmethod
    def render(self, text: str, out_path: str | Path) -> MediaResult:
        """Write media for ``text`` to ``out_path`` (parents created) -> :class:`MediaResult`."""

    def excluding(self, fingerprint):
        """Context manager: while open, never return media matching ``fingerprint``
        (a :class:`~lamsc_sdr.mma.fingerprint.Fingerprint`). Generators hold no media: no-op."""
        import contextlib
        return contextlib.nullcontext(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


# --------------------------------------------------------------------------------------- cache
_CACHE: dict[tuple, Any] = {}
_LOCK = threading.Lock()


def cached(key: tuple, loader: Callable[[], Any]) -> Any:
    """Load a model once per process: ``cached(("whisper", path), lambda: WhisperModel(...))``."""
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
    obj = loader()
    with _LOCK:
        return _CACHE.setdefault(key, obj)


def clear_cache() -> None:
    """Drop every cached model (tests, or to free memory)."""
    with _LOCK:
        _CACHE.clear()


def require(module: str, what: str, install: str):
    """Import ``module`` or raise :class:`ModelUnavailableError` saying what to install."""
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ModelUnavailableError(f"{what} needs the Python package '{install}' "
                                    f"(pip install {install}; or pip install 'lamsc_sdr[mma]')") from err


def check_text(text: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"text must be a non-empty string, got {text!r}")
    return text.strip()


# ------------------------------------------------------------------------------------ modality
def detect_modality(path: str | Path) -> str:
    """``"image" | "audio" | "video" | "text"`` for a file, by extension, else by probing it.

    Raises ``FileNotFoundError`` if missing and :class:`ShapeError` if nothing recognises it.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no such media file: {p}")
    ext = p.suffix.lower()
    for mod, exts in (("image", IMAGE_EXT), ("audio", AUDIO_EXT), ("video", VIDEO_EXT), ("text", TEXT_EXT)):
        if ext in exts:
            return mod
    try:  # unknown extension: let PyAV look inside the container
        import av
        with av.open(str(p)) as c:
            kinds = {s.type for s in c.streams}
            n_frames = c.streams.video[0].frames if c.streams.video else 0
        if "video" in kinds and (n_frames > 1 or "audio" in kinds):
            return "video"
        if "audio" in kinds:
            return "audio"
        if "video" in kinds:
            return "image"
    except Exception:  # noqa: BLE001 - any decoder failure means "not media PyAV knows"
        pass
    try:
        from PIL import Image
        with Image.open(p) as im:
            im.verify()
        return "image"
    except Exception:  # noqa: BLE001
        pass
    raise ShapeError(f"cannot tell the modality of {p}: unknown extension {ext!r} and not a "
                     f"container PyAV or Pillow can open")


# --------------------------------------------------------------------------------------- image
def as_rgb_uint8(x: np.ndarray, what: str = "image") -> np.ndarray:
    """Any image array -> ``(H, W, 3) uint8``; :class:`ShapeError` on bad shape/dtype/NaN."""
    x = np.asarray(x)
    if x.ndim == 3 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim == 2:
        x = np.stack([x] * 3, axis=-1)
    if x.ndim != 3 or x.shape[-1] not in (3, 4):
        raise ShapeError(f"{what}: expected (H, W), (H, W, 3) or (H, W, 4), got shape {x.shape}")
    if x.shape[0] < 8 or x.shape[1] < 8:
        raise ShapeError(f"{what}: image too small ({x.shape[0]}x{x.shape[1]}; need >= 8x8)")
    x = x[..., :3]
    if x.dtype == np.uint8:
        return np.ascontiguousarray(x)
    if x.dtype == bool:
        return x.astype(np.uint8) * 255
    if not np.issubdtype(x.dtype, np.number):
        raise ShapeError(f"{what}: expected a numeric array, got dtype {x.dtype}")
    xf = x.astype(np.float64)
    if not np.all(np.isfinite(xf)):
        raise ShapeError(f"{what}: holds NaN or Inf")
    if np.issubdtype(x.dtype, np.floating):
        if xf.min() < -1e-6 or xf.max() > 1 + 1e-6:
            raise ShapeError(f"{what}: float images must lie in [0, 1], got [{xf.min():.3g}, {xf.max():.3g}]")
        xf = xf * 255.0
    elif xf.max() > 255:
        xf = xf * (255.0 / xf.max())
    return np.clip(np.rint(xf), 0, 255).astype(np.uint8)


def load_image(media) -> np.ndarray:
    """A path or array -> ``(H, W, 3) uint8`` RGB."""
    if isinstance(media, (str, Path)):
        from PIL import Image, UnidentifiedImageError
        p = Path(media)
        if not p.is_file():
            raise FileNotFoundError(f"no such image file: {p}")
        try:
            with Image.open(p) as im:
                return as_rgb_uint8(np.asarray(im.convert("RGB")), str(p))
        except UnidentifiedImageError as err:
            raise ShapeError(f"{p}: not an image Pillow can read") from err
        except (OSError, ValueError, SyntaxError) as err:   # truncated / corrupt data ("image file is truncated")
            raise ShapeError(f"{p}: truncated or corrupt image ({err})") from err
    return as_rgb_uint8(media)


# --------------------------------------------------------------------------------------- audio
def load_audio(media) -> np.ndarray:
    """A path (wav/flac/mp3/mp4 soundtrack...) or array -> ``(n,) float32`` mono at 16 kHz.

    An array is taken as 16 kHz; pass ``(samples, sample_rate)`` to resample another rate.
    """
    if isinstance(media, (str, Path)):
        p = Path(media)
        if not p.is_file():
            raise FileNotFoundError(f"no such audio file: {p}")
        from faster_whisper import decode_audio  # PyAV underneath: any container with audio
        try:
            x = decode_audio(str(p), sampling_rate=AUDIO_RATE)
        except Exception as err:  # noqa: BLE001 - PyAV raises many types
            raise ShapeError(f"{p}: no decodable audio stream ({type(err).__name__}: {err})") from err
        if x.size == 0:
            raise ShapeError(f"{p}: the audio stream is empty")
        return x.astype(np.float32)
    rate = AUDIO_RATE
    if isinstance(media, tuple) and len(media) == 2:
        media, rate = media
    x = np.asarray(media)
    if x.ndim == 2 and min(x.shape) <= 8:  # (n, ch) or (ch, n): mix down
        x = x.mean(axis=int(np.argmin(x.shape)))
    if x.ndim != 1 or x.size == 0:
        raise ShapeError(f"audio: expected a (n,) mono array, got shape {x.shape}")
    if np.issubdtype(x.dtype, np.integer):
        x = x.astype(np.float32) / float(np.iinfo(x.dtype).max)
    x = x.astype(np.float32)
    if not np.all(np.isfinite(x)):
        raise ShapeError("audio: holds NaN or Inf")
    if rate != AUDIO_RATE:
        from scipy.signal import resample_poly
        g = np.gcd(int(rate), AUDIO_RATE)
        x = resample_poly(x, AUDIO_RATE // g, int(rate) // g).astype(np.float32)
    return x


def write_wav(path: str | Path, x: np.ndarray, rate: int) -> Path:
    """``x: (n,) float32`` in [-1, 1] -> 16-bit PCM mono WAV."""
    import wave
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = np.clip(np.asarray(x, np.float32) * 32767.0, -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(rate))
        w.writeframes(pcm.tobytes())
    return path
