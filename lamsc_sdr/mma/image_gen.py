"""Text -> image backends.

- :class:`GalleryRetriever` (offline default): picks the image of a receiver-side gallery whose
  description is closest to the text by sentence-embedding cosine similarity (all-MiniLM-L6-v2).
  Retrieval, not generation: results carry ``offline_fallback=True`` and the match score.
  Inside ``with retriever.excluding(fingerprint):`` it never returns an item that is the original
  (same file or pixels, a near-duplicate by perceptual hash, or cut from it by ``origin_sha256``):
  the experiments, ``lamsc link`` and the demo always send through that.
- :class:`DiffusersImage`: any ``diffusers`` text-to-image pipeline (Stable Diffusion, SD-Turbo,
  SDXL...) by hub id or local ``save_pretrained`` directory.

A gallery is a folder with ``gallery.yaml``::

    schema_version: 1
    images:
      - {file: cat.jpg, description: "A close-up of a tabby cat...", source: "where it came from",
         origin_sha256: [sha256 of the file(s) the item was made from, optional]}
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

from ..errors import ConfigError, ModelUnavailableError
from .base import MediaResult, TextToMedia, cached, check_text, require

_ENTRY_KEYS = {"file", "description", "source", "origin_sha256"}
#: What every result of a gallery retrieval says about itself.
RETRIEVED_NOTE = "retrieved from the receiver's gallery (original excluded), not generated"


@dataclass(frozen=True)
class GalleryItem:
    path: Path
    description: str
    source: str = ""
    origin_sha256: tuple = field(default=(), compare=False)

    @property
    def id(self) -> str:
        return self.path.stem


def default_gallery_dir() -> Path:
    return Path(str(resources.files("lamsc_sdr.mma").joinpath("gallery")))


def load_gallery(folder: str | Path | None = None) -> tuple[GalleryItem, ...]:
    """Read ``folder/gallery.yaml`` (None: the shipped gallery); errors name the key and file."""
    folder = Path(folder) if folder else default_gallery_dir()
    spec = folder / "gallery.yaml"
    if not spec.is_file():
        raise ConfigError(f"gallery {folder}: no gallery.yaml (config key 'mma.gallery')")
    try:
        data = yaml.safe_load(spec.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"gallery file {spec} is not valid YAML: {err}") from err
    if not isinstance(data, dict) or not isinstance(data.get("images"), list) or not data["images"]:
        raise ConfigError(f"gallery file {spec}: expected a mapping with a non-empty 'images' list")
    if data.get("schema_version", 1) != 1:
        raise ConfigError(f"gallery file {spec}: key 'schema_version' must be 1, got {data['schema_version']!r}")
    items = []
    for i, e in enumerate(data["images"]):
        where = f"images[{i}] in {spec}"
        if not isinstance(e, dict):
            raise ConfigError(f"gallery {where}: expected a mapping")
        unknown = set(e) - _ENTRY_KEYS
        if unknown:
            raise ConfigError(f"gallery {where}: unknown key '{sorted(unknown)[0]}'; known: {sorted(_ENTRY_KEYS)}")
        for k in ("file", "description"):
            if not isinstance(e.get(k), str) or not e[k].strip():
                raise ConfigError(f"gallery {where}: key '{k}' must be a non-empty string")
        p = (folder / e["file"]).resolve()
        if not p.is_file():
            raise ConfigError(f"gallery {where}: key 'file': {p} does not exist")
        origin = e.get("origin_sha256", [])
        if isinstance(origin, str):
            origin = [origin]
        if not isinstance(origin, list) or not all(isinstance(h, str) and len(h) == 64 for h in origin):
            raise ConfigError(f"gallery {where}: key 'origin_sha256' must be a list of 64-hex sha256 strings")
        items.append(GalleryItem(p, e["description"].strip(), str(e.get("source", "")), tuple(origin)))
    return tuple(items)


def _gallery_index(folder: str | None, describer=None):
    """Gallery items and their embeddings: (n_items, 384), or (2, n_items, 384) when a describer
    also indexes every image by its own description (the receiver's MMA sees the gallery the way
    the sender's MMA saw the original, so a description it made is matched like for like)."""
    from .embed import embed
    items = load_gallery(folder)
    vecs = embed([it.description for it in items])
    if describer is None:
        return items, vecs
    auto = embed([describer.describe(it.path).text for it in items])
    return items, np.stack([vecs, auto])


def save_labelled(src_img, out: Path, label: str) -> Path:
    """Write a PIL image to ``out`` (format from the suffix) with ``label`` as its comment."""
    from PIL import PngImagePlugin
    out.parent.mkdir(parents=True, exist_ok=True)
    suffix = out.suffix.lower()
    if suffix == ".png":
        info = PngImagePlugin.PngInfo()
        info.add_text("Comment", label)
        src_img.save(out, pnginfo=info)
    elif suffix in (".jpg", ".jpeg"):
        src_img.convert("RGB").save(out, quality=92, comment=label.encode())
    else:
        src_img.save(out)
    return out


def gallery_fingerprints(items) -> list:
    """One :class:`~.fingerprint.Fingerprint` per gallery item (its file, its pixels, its pHash),
    with the item's ``origin_sha256`` folded in as extra exact hashes."""
    from .base import load_image
    from .fingerprint import file_sha256, image_fingerprint
    out = []
    for it in items:
        fp = image_fingerprint(load_image(it.path), file_sha256(it.path), str(it.path))
        out.append((fp, frozenset(it.origin_sha256)))
    return out


class GalleryRetriever(TextToMedia):
    """Offline default text -> image: nearest gallery description (cosine of MiniLM embeddings).

    ``render(text, out)`` writes the retrieved image (re-encoded to ``out``'s format, labelled in
    its comment) and returns the match in ``details``: ``match`` (id), ``score``, ``top3``,
    ``excluded`` (ids withheld because they are the original under :meth:`excluding`).
    """
    modality = "image"
    offline_fallback = True
    retrieval = True
    default_suffix = ".png"

    def __init__(self, gallery: str | Path | None = None, exclude: tuple[str, ...] = (), describer=None):
        self.gallery = str(gallery) if gallery else None
        self.exclude = set(exclude)          # item ids never returned (leave-one-out evaluation)
        self.describer = describer           # optional MediaToText("image") indexing the images too
        self.name = "gallery:" + (self.gallery or "default (scikit-image photos)")
        self._withheld: list = []            # fingerprints of originals under test (excluding())

    def _index(self):
        key = ("gallery", self.gallery, None if self.describer is None else self.describer.name)
        return cached(key, lambda: _gallery_index(self.gallery, self.describer))

    def _fingerprints(self):
        return cached(("gallery-fingerprints", self.gallery), lambda: gallery_fingerprints(self.items()))

    def items(self) -> tuple[GalleryItem, ...]:
        return self._index()[0]

    @contextlib.contextmanager
    def excluding(self, fingerprint):
        """Withhold every gallery item that is the original (see :mod:`.fingerprint`)."""
        self._withheld.append(fingerprint)
        try:
            yield self
        finally:
            self._withheld.remove(fingerprint)

    def excluded_ids(self) -> set[str]:
        """Ids withheld now: explicit ``exclude`` plus matches of the originals under test."""
        out = set(self.exclude)
        if self._withheld:
            for it, (fp, origin) in zip(self.items(), self._fingerprints()):
                for orig in self._withheld:
                    if fp.matches(orig) or (orig.sha256 and orig.sha256 in origin):
                        out.add(it.id)
        return out

    def rank(self, text: str) -> list[tuple[GalleryItem, float]]:
        """All gallery items that are not withheld, best first, with cosine scores."""
        from .embed import embed
        items, vecs = self._index()
        scores = vecs @ embed([check_text(text)])[0]               # (n_items,) or (2, n_items)
        if scores.ndim == 2:
            scores = scores.max(axis=0)                            # best of written / own description
        order = np.argsort(-scores)
        excluded = self.excluded_ids()
        ranked = [(items[i], float(scores[i])) for i in order if items[i].id not in excluded]
        if not ranked:
            raise ConfigError(f"gallery {self.gallery or 'default'}: every item is excluded")
        return ranked

    def render(self, text: str, out_path) -> MediaResult:
        from PIL import Image
        t0 = time.perf_counter()
        ranked = self.rank(text)
        excluded = sorted(self.excluded_ids())
        best, score = ranked[0]
        note = RETRIEVED_NOTE if self._withheld else \
            "retrieved from the receiver's gallery (no original given to exclude), not generated"
        label = (f"lamsc_sdr offline fallback: {note}; match={best.id} score={score:.3f}; "
                 f"excluded={','.join(excluded) or 'none matched'}")
        with Image.open(best.path) as im:
            out = save_labelled(im.copy(), Path(out_path), label)
        return MediaResult(out, self.name, True, {
            "match": best.id, "score": score, "description": best.description,
            "top3": [(it.id, round(s, 4)) for it, s in ranked[:3]], "excluded": excluded,
            "originals_withheld": len(self._withheld),
            "latency_s": time.perf_counter() - t0,
            "note": f"offline default: image {note}"})


def _load_diffusers(model_id: str, device: str, video: bool = False):
    require("diffusers", f"diffusers model {model_id!r}", "diffusers")
    import diffusers
    try:
        if video:
            pipe = diffusers.DiffusionPipeline.from_pretrained(model_id)
        else:
            try:
                pipe = diffusers.AutoPipelineForText2Image.from_pretrained(model_id)
            except ValueError:
                pipe = diffusers.DiffusionPipeline.from_pretrained(model_id)
    except (OSError, ValueError, EnvironmentError) as err:
        raise ModelUnavailableError(
            f"cannot load diffusers pipeline {model_id!r}: {err}. Pass a local directory made with "
            f"save_pretrained(), or a hub id with network access (HF_HUB_OFFLINE unset)") from err
    pipe = pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    return pipe


class DiffusersImage(TextToMedia):
    """Text -> image with a ``diffusers`` text-to-image pipeline (id or local path)."""
    modality = "image"
    default_suffix = ".png"

    def __init__(self, model_id: str, device: str = "cpu", size: int = 512, steps: int = 20,
                 guidance_scale: float = 7.5, seed: int = 0):
        self.model_id, self.device, self.size = model_id, device, size
        self.steps, self.guidance_scale, self.seed = steps, guidance_scale, seed
        self.name = f"diffusers:{model_id}"

    def render(self, text: str, out_path) -> MediaResult:
        import torch
        t0 = time.perf_counter()
        text = check_text(text)
        pipe = cached(("diffusers", self.model_id, self.device),
                      lambda: _load_diffusers(self.model_id, self.device))
        gen = torch.Generator(device="cpu").manual_seed(self.seed)
        out = pipe(text, num_inference_steps=self.steps, guidance_scale=self.guidance_scale,
                   height=self.size, width=self.size, generator=gen)
        img = out.images[0]
        path = save_labelled(img, Path(out_path), f"lamsc_sdr: generated by {self.name} seed={self.seed}")
        return MediaResult(path, self.name, False, {"latency_s": time.perf_counter() - t0,
                                                    "steps": self.steps, "seed": self.seed,
                                                    "size": [img.height, img.width]})
