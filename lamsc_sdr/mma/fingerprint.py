"""Content fingerprints of media, so that a retrieval-based receiver never returns the item under test.

A retrieval stand-in for a generator (the gallery text -> image backend, and the video slideshow
built on it) could "regenerate" a photo perfectly by finding the photo itself in its gallery. The
experiments, ``lamsc link`` and the demo therefore hand the receiver the fingerprint of the
original, and the gallery excludes every item that matches it:

- ``sha256``: the file's bytes (exact copies);
- ``pixel_sha256``: the decoded RGB pixels (the same picture re-saved losslessly);
- ``phash``: 64-bit DCT perceptual hashes (Zauner 2010: 32x32 gray, 2-D DCT, the 8x8 lowest
  frequencies against their median) of the image, or of frames sampled from a video; a gallery item
  within ``max_hamming`` bits of any of them is a near-duplicate (resized, re-encoded, a still).

Gallery entries may also list ``origin_sha256`` (the sha256 of the files they were cut from).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

#: Near-duplicate threshold in bits of 64. Re-encoding/resizing moves a pHash by 0-6 bits;
#: unrelated photos sit near 32 (see tests/test_mma_exclusion.py, measured on the gallery).
MAX_HAMMING = 10


def phash(img: np.ndarray) -> int:
    """``img: (H, W, 3) or (H, W) uint8`` -> 64-bit DCT perceptual hash (an ``int``)."""
    import cv2
    a = np.asarray(img).astype(np.float32)                    # scale-free: bool, uint8, float
    if a.ndim == 3:
        a = cv2.cvtColor(np.ascontiguousarray(a[..., :3]), cv2.COLOR_RGB2GRAY)
    small = cv2.resize(a, (32, 32), interpolation=cv2.INTER_AREA)
    low = cv2.dct(small)[:8, :8].ravel()                      # (64,) lowest frequencies
    bits = low > np.median(low[1:])                           # DC excluded from the median
    return int("".join("1" if b else "0" for b in bits), 2)


def hamming(a: int, b: int) -> int:
    return int(bin(a ^ b).count("1"))


@dataclass(frozen=True)
class Fingerprint:
    """What identifies one media item: file hash, pixel hashes, perceptual hashes."""
    sha256: str = ""
    pixel_sha256: frozenset = field(default_factory=frozenset)
    phashes: tuple = ()
    source: str = ""

    def matches(self, other: "Fingerprint", max_hamming: int = MAX_HAMMING) -> bool:
        """True when the two are the same content (exact hash) or near-duplicates (pHash)."""
        if self.sha256 and self.sha256 == other.sha256:
            return True
        if self.pixel_sha256 & other.pixel_sha256:
            return True
        return any(hamming(a, b) <= max_hamming for a in self.phashes for b in other.phashes)

    def to_dict(self) -> dict:
        return {"source": self.source, "sha256": self.sha256,
                "phashes": [f"{h:016x}" for h in self.phashes[:4]] + (["..."] if len(self.phashes) > 4 else [])}


def file_sha256(path: str | Path) -> str:
    from ..provenance import sha256_file
    return sha256_file(path)


def pixels_sha256(img: np.ndarray) -> str:
    a = np.ascontiguousarray(np.asarray(img, np.uint8))
    return hashlib.sha256(str(a.shape).encode() + a.tobytes()).hexdigest()


def image_fingerprint(img: np.ndarray, sha256: str = "", source: str = "") -> Fingerprint:
    """``img: (H, W, 3) uint8`` -> :class:`Fingerprint`."""
    return Fingerprint(sha256, frozenset({pixels_sha256(img)}), (phash(img),), source)


def _video_phashes(path: Path, every: int) -> tuple[int, ...]:
    import av
    out = []
    with av.open(str(path)) as c:
        for i, fr in enumerate(c.decode(c.streams.video[0])):
            if i % every == 0:
                out.append(phash(fr.to_ndarray(format="rgb24")))
    return tuple(dict.fromkeys(out))


@lru_cache(maxsize=256)
def _fingerprint_cached(path: str, mtime_ns: int, size: int, video_every: int) -> Fingerprint:
    from .base import detect_modality, load_image
    p = Path(path)
    sha = file_sha256(p)
    try:
        modality = detect_modality(p)
    except Exception:  # noqa: BLE001 -- unknown content: the file hash is all we have
        return Fingerprint(sha, source=path)
    if modality == "image":
        return image_fingerprint(load_image(p), sha, path)
    if modality == "video":
        return Fingerprint(sha, frozenset(), _video_phashes(p, video_every), path)
    return Fingerprint(sha, source=path)


def media_fingerprint(path: str | Path, video_every: int = 5) -> Fingerprint:
    """Fingerprint of a media file (cached per path, mtime and size). Videos: pHash of every
    ``video_every``-th frame; audio and text: the file hash only (no retrieval backend uses them)."""
    p = Path(path).resolve()
    st = p.stat()
    return _fingerprint_cached(str(p), st.st_mtime_ns, st.st_size, video_every)
