"""Video <-> text.

video -> text (:class:`FramesVideoDescriber`)
    ``n`` frames sampled uniformly (PyAV) go through the image -> text backend; the soundtrack
    (if any) through the audio -> text backend (faster-whisper reads mp4 audio); frame texts are
    condensed by sentence-embedding medoid (the most representative frame) plus the frames that
    differ from it; a motion estimate comes from consecutive-frame differences.
text -> video
    :class:`SlideshowVideo` (offline default): a clip assembled from text -> image results, one
    image per sentence with cross-fades, narrated by text -> audio when the text quotes speech;
    labelled in the mp4 metadata and ``offline_fallback=True``.
    :class:`DiffusersVideo`: a ``diffusers`` text-to-video pipeline by id or local path.
"""
from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

import numpy as np

from ..errors import ShapeError
from .base import (MediaResult, MediaToText, TextResult, TextToMedia, as_rgb_uint8, cached,
                   check_text, load_audio)

_SAYS = re.compile(r'(?:soundtrack|a voice says|someone says)\s*:\s*"?([^"]+)"?\s*\.?\s*$', re.I)


def read_video(path: str | Path, n_frames: int, max_decode: int = 3000) -> dict:
    """Sample ``n_frames`` uniformly from a video file.

    Returns ``{"frames": (n, H, W, 3) uint8, "times_s": (n,), "fps", "duration_s", "size": (H, W),
    "motion": mean absolute consecutive-frame difference (0..1, on 32x32 gray), "has_audio"}``.
    """
    import av
    import cv2
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no such video file: {p}")
    try:
        container = av.open(str(p))
    except av.error.FFmpegError as err:
        raise ShapeError(f"{p}: not a video PyAV can open ({err})") from err
    with container:
        if not container.streams.video:
            raise ShapeError(f"{p}: has no video stream")
        vs = container.streams.video[0]
        has_audio = bool(container.streams.audio)
        fps = float(vs.average_rate or 25)
        total = vs.frames or 0
        duration = float(vs.duration * vs.time_base) if vs.duration else (
            container.duration / 1e6 if container.duration else 0.0)
        if not total:
            total = max(1, int(round(duration * fps)))
        stride = max(1, total // max_decode)
        targets = set(np.linspace(0, total - 1, n_frames).round().astype(int).tolist())
        frames, times, diffs, prev = [], [], [], None
        for i, fr in enumerate(container.decode(vs)):
            if i % stride == 0 or i in targets:
                rgb = fr.to_ndarray(format="rgb24")
                small = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (32, 32),
                                   interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
                if prev is not None:
                    diffs.append(float(np.abs(small - prev).mean()))
                prev = small
                if i in targets:
                    frames.append(rgb)
                    times.append(float(fr.time) if fr.time is not None else i / fps)
        if not frames:
            raise ShapeError(f"{p}: no decodable video frames")
    n = len(frames)
    return {"frames": np.stack(frames), "times_s": np.asarray(times), "fps": fps,
            "duration_s": duration or n / fps, "size": frames[0].shape[:2],
            "motion": float(np.mean(diffs)) if diffs else 0.0, "has_audio": has_audio, "n_total": total}


def _first_sentence(text: str) -> str:
    return re.split(r"(?<=[.!?])\s+", text.strip(), maxsplit=1)[0]


def video_sentence(main: str, others: list[str], duration_s: float, motion: float) -> str:
    """The video describer's template: the leading frame's text as a video sentence, the first
    sentences of ``others`` (deduplicated) as "Later: ..." clauses."""
    main = main.strip()
    dur = f"{duration_s:.0f}-second" if duration_s >= 1 else "short"
    motion_word = " with a lot of motion" if motion > 0.08 else " with some motion" if motion > 0.03 else ""
    if main.startswith("A photo of "):
        main = f"A {dur} video{motion_word} of " + main[len("A photo of "):]
    else:
        main = f"A {dur} video{motion_word}. " + main
    extra: list[str] = []
    for t in others:
        s = _first_sentence(t).rstrip(".")
        s = s[len("A photo of "):] if s.startswith("A photo of ") else s
        if s and s not in extra:
            extra.append(s)
    return main + (" Later: " + "; ".join(extra) + "." if extra else "")


def condense(frame_texts: list[str], duration_s: float, motion: float, transcript: str = "") -> tuple[str, dict]:
    """Merge per-frame descriptions (+ transcript) into one description.

    The medoid frame text (highest mean embedding similarity to the others) leads; frames whose
    similarity to it is below 0.75 add "Later: ..." clauses (first sentences, deduplicated).
    """
    from .embed import embed
    v = embed(frame_texts)                                          # (n, d)
    sim = v @ v.T
    medoid = int(np.argmax(sim.mean(axis=1)))
    others = [frame_texts[i] for i in range(len(frame_texts)) if i != medoid and sim[i, medoid] < 0.75]
    text = video_sentence(frame_texts[medoid], others, duration_s, motion)
    if transcript.strip():
        text += f' A voice says: "{transcript.strip()}"'
    return text, {"medoid_frame": medoid, "frame_similarity": sim.round(3).tolist()}


class FramesVideoDescriber(MediaToText):
    """Video -> text via sampled frames (image backend) + soundtrack (audio backend).

    ``describe(path | (T, H, W, 3) uint8)``; arrays have no soundtrack.
    """
    modality = "video"

    def __init__(self, image_backend: MediaToText, audio_backend: MediaToText | None, n_frames: int = 4,
                 fps: float = 8.0):
        self.image, self.audio, self.n_frames, self.fps = image_backend, audio_backend, n_frames, fps
        self.name = f"frames({image_backend.name}" + (f" + {audio_backend.name})" if audio_backend else ")")
        self.offline_fallback = image_backend.offline_fallback

    def describe(self, media) -> TextResult:
        t0 = time.perf_counter()
        if isinstance(media, (str, Path)):
            info = read_video(media, self.n_frames)
        else:
            arr = np.asarray(media)
            if arr.ndim != 4 or arr.shape[0] < 1:
                raise ShapeError(f"video: expected (T, H, W, 3) frames, got shape {arr.shape}")
            idx = np.linspace(0, arr.shape[0] - 1, min(self.n_frames, arr.shape[0])).round().astype(int)
            frames = np.stack([as_rgb_uint8(arr[i], "video frame") for i in idx])
            g = frames.mean(-1)[:, ::4, ::4] / 255.0
            info = {"frames": frames, "times_s": idx / self.fps, "duration_s": arr.shape[0] / self.fps,
                    "motion": float(np.abs(np.diff(g, axis=0)).mean()) if len(g) > 1 else 0.0,
                    "has_audio": False, "size": frames.shape[1:3]}
        t_read = time.perf_counter() - t0
        per_frame = [self.image.describe(f) for f in info["frames"]]
        t_img = time.perf_counter() - t0 - t_read
        transcript, t_audio = "", 0.0
        if info["has_audio"] and self.audio is not None:
            ta = time.perf_counter()
            x = load_audio(media)
            if np.abs(x).max() > 1e-3:
                transcript = self.audio.describe(x).text
            t_audio = time.perf_counter() - ta
        text, ev = condense([r.text for r in per_frame], info["duration_s"], info["motion"], transcript)
        return TextResult(text, self.name, self.offline_fallback, {
            "frame_texts": [r.text for r in per_frame], "frame_times_s": np.round(info["times_s"], 2).tolist(),
            "transcript": transcript, "motion": info["motion"], "duration_s": info["duration_s"],
            "latency_s": time.perf_counter() - t0,
            "stage_latency_s": {"decode": t_read, "frames_to_text": t_img, "soundtrack_to_text": t_audio},
            **ev})


def write_mp4(path: str | Path, frames: np.ndarray, fps: int, audio: np.ndarray | None = None,
              audio_rate: int = 16000, comment: str = "") -> Path:
    """``frames: (T, H, W, 3) uint8`` (+ optional mono ``audio: (n,) float32``) -> H.264/AAC mp4."""
    import av
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ShapeError(f"write_mp4: expected (T, H, W, 3) uint8, got {frames.shape} {frames.dtype}")
    h, w = frames.shape[1] // 2 * 2, frames.shape[2] // 2 * 2          # yuv420p needs even sizes
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as c:
        if comment:
            c.metadata["comment"] = comment
        vs = c.add_stream("libx264", rate=int(fps))
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.options = {"crf": "23", "preset": "veryfast"}
        ast = None
        if audio is not None and len(audio):
            ast = c.add_stream("aac", rate=audio_rate)
            ast.layout = "mono"
        for f in frames:
            for pkt in vs.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f[:h, :w]), format="rgb24")):
                c.mux(pkt)
        for pkt in vs.encode():
            c.mux(pkt)
        if ast is not None:
            pcm = np.clip(np.asarray(audio, np.float32), -1, 1)
            step = 1024
            for i in range(0, len(pcm), step):
                af = av.AudioFrame.from_ndarray(pcm[None, i:i + step].astype(np.float32), format="flt",
                                                layout="mono")
                af.sample_rate = audio_rate
                for pkt in ast.encode(af):
                    c.mux(pkt)
            for pkt in ast.encode():
                c.mux(pkt)
    return path


def _fit(img: np.ndarray, h: int, w: int) -> np.ndarray:
    """Letterbox ``img (H, W, 3) uint8`` into ``(h, w, 3)`` on black."""
    import cv2
    s = min(h / img.shape[0], w / img.shape[1])
    r = cv2.resize(img, (max(2, round(img.shape[1] * s)), max(2, round(img.shape[0] * s))),
                   interpolation=cv2.INTER_AREA)
    out = np.zeros((h, w, 3), np.uint8)
    y, x = (h - r.shape[0]) // 2, (w - r.shape[1]) // 2
    out[y:y + r.shape[0], x:x + r.shape[1]] = r
    return out


def split_scenes(text: str, max_scenes: int = 4) -> tuple[list[str], str]:
    """Text -> (visual sentences, quoted speech). Sentences beyond ``max_scenes`` join the last."""
    speech = ""
    m = _SAYS.search(text)
    if m:
        speech, text = m.group(1).strip(), text[:m.start()].strip()
    text = re.sub(r"^Later:\s*", "", text)
    parts = [s.strip() for s in re.split(r"(?<=[.!?;])\s+|\s*Later:\s*", text) if s.strip()]
    visual = [p for p in parts if not re.match(r"^(the scene is|it is)\b", p, re.I)] or parts or [text]
    if len(visual) > max_scenes:
        visual = visual[:max_scenes - 1] + [" ".join(visual[max_scenes - 1:])]
    return visual, speech


class SlideshowVideo(TextToMedia):
    """Offline default text -> video: one text -> image result per sentence, cross-faded, plus
    narration of quoted speech through text -> audio. ``render(text, out.mp4)``."""
    modality = "video"
    offline_fallback = True
    default_suffix = ".mp4"

    def __init__(self, image_backend: TextToMedia, audio_backend: TextToMedia | None = None,
                 seconds: float = 4.0, fps: int = 8, size: tuple[int, int] = (288, 384)):
        self.image, self.audio = image_backend, audio_backend
        self.seconds, self.fps, self.size = seconds, fps, size
        self.name = f"slideshow({image_backend.name})"
        self.retrieval = bool(getattr(image_backend, "retrieval", False))

    def excluding(self, fingerprint):
        """Withhold the original from the still-image backend (a video's fingerprint holds the
        perceptual hashes of its frames, so a still taken from the clip is excluded too)."""
        return self.image.excluding(fingerprint)

    def render(self, text: str, out_path) -> MediaResult:
        from PIL import Image
        t0 = time.perf_counter()
        scenes, speech = split_scenes(check_text(text))
        h, w = self.size
        stills, matches, still_note = [], [], ""
        with tempfile.TemporaryDirectory(prefix="lamsc_slides_") as tmp:
            for i, s in enumerate(scenes):
                r = self.image.render(s, Path(tmp) / f"scene{i}{self.image.default_suffix or '.png'}")
                with Image.open(r.path) as im:
                    stills.append(_fit(np.asarray(im.convert("RGB")), h, w))
                matches.append({k: r.details.get(k) for k in ("match", "score", "excluded") if k in r.details})
                still_note = r.details.get("note", "")
            audio, narr = None, None
            if speech and self.audio is not None:
                narr = self.audio.render(speech, Path(tmp) / "narration.wav")
                audio = load_audio(narr.path)
        seconds = max(self.seconds, (len(audio) / 16000 + 0.5) if audio is not None else 0.0)
        n = max(len(stills), int(round(seconds * self.fps)))
        per = n / len(stills)
        fade = max(1, int(0.25 * self.fps))
        frames = np.empty((n, h, w, 3), np.uint8)                   # (T, H, W, 3)
        for t in range(n):
            k = min(len(stills) - 1, int(t / per))
            into = t - (k + 1) * per + fade
            if k + 1 < len(stills) and into > 0:
                a = into / fade
                frames[t] = ((1 - a) * stills[k] + a * stills[k + 1]).astype(np.uint8)
            else:
                frames[t] = stills[k]
        label = ("lamsc_sdr offline fallback: slideshow assembled from text->image results "
                 f"({self.image.name}), not generated video")
        path = write_mp4(out_path, frames, self.fps, audio, comment=label)
        return MediaResult(path, self.name, True, {
            "scenes": scenes, "matches": matches, "narration": speech, "frames": n, "fps": self.fps,
            "narrated_by": narr.backend if narr else None, "latency_s": time.perf_counter() - t0,
            "note": "offline default: slideshow of stills, not a video model"
                    + (f"; stills: {still_note}" if still_note else "")})


class DiffusersVideo(TextToMedia):
    """Text -> video with a ``diffusers`` text-to-video pipeline (id or local path)."""
    modality = "video"
    default_suffix = ".mp4"

    def __init__(self, model_id: str, device: str = "cpu", size: int = 256, steps: int = 20,
                 guidance_scale: float = 7.5, n_frames: int = 16, fps: int = 8, seed: int = 0):
        self.model_id, self.device, self.size, self.steps = model_id, device, size, steps
        self.guidance_scale, self.n_frames, self.fps, self.seed = guidance_scale, n_frames, fps, seed
        self.name = f"diffusers:{model_id}"

    def render(self, text: str, out_path) -> MediaResult:
        import torch
        from .image_gen import _load_diffusers
        t0 = time.perf_counter()
        pipe = cached(("diffusers-video", self.model_id, self.device),
                      lambda: _load_diffusers(self.model_id, self.device, video=True))
        out = pipe(check_text(text), num_inference_steps=self.steps, guidance_scale=self.guidance_scale,
                   height=self.size, width=self.size, num_frames=self.n_frames,
                   generator=torch.Generator(device="cpu").manual_seed(self.seed), output_type="np")
        frames = np.asarray(out.frames[0])                          # (T, H, W, 3) float in [0, 1]
        frames = np.clip(np.rint(frames * 255), 0, 255).astype(np.uint8)
        path = write_mp4(out_path, frames, self.fps, comment=f"lamsc_sdr: generated by {self.name}")
        return MediaResult(path, self.name, False, {"latency_s": time.perf_counter() - t0,
                                                    "frames": len(frames), "seed": self.seed})
