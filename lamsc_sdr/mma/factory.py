"""Build MMA backends from the ``mma:`` config section; the pipeline never asks which it holds."""
from __future__ import annotations

from .base import MediaToText, TextToMedia
from .config import MMAConfig, split_spec

_MEDIA = ("image", "audio", "video")


def _check(modality: str) -> str:
    m = str(modality).lower()
    if m not in _MEDIA:
        raise ValueError(f"modality must be one of {list(_MEDIA)}, got {modality!r}")
    return m


def make_media_to_text(modality: str, cfg: MMAConfig | None = None) -> MediaToText:
    """``"image" | "audio" | "video"`` + config -> a :class:`MediaToText` backend (models load lazily)."""
    cfg = cfg or MMAConfig()
    m = _check(modality)
    if m == "image":
        kind, arg = split_spec(cfg.image_to_text)
        if kind == "offline":
            from .image_offline import OfflineImageDescriber
            return OfflineImageDescriber()
        if kind == "transformers":
            from .image_models import TransformersCaptioner
            return TransformersCaptioner(arg, cfg.device, cfg.max_new_tokens)
        from .image_models import OpenAIVisionDescriber
        return OpenAIVisionDescriber(arg, cfg.openai_base_url, cfg.openai_api_key_env, cfg.timeout_s,
                                     cfg.retries, max(cfg.max_new_tokens, 60))
    if m == "audio":
        kind, arg = split_spec(cfg.audio_to_text)
        if kind == "whisper":
            from .audio import WhisperTranscriber
            return WhisperTranscriber(arg, cfg.asr_beam_size, cfg.language)
        from .audio import TransformersASR
        return TransformersASR(arg, cfg.device)
    from .video import FramesVideoDescriber
    return FramesVideoDescriber(make_media_to_text("image", cfg), make_media_to_text("audio", cfg),
                                cfg.video_frames, cfg.video_fps)


def make_text_to_media(modality: str, cfg: MMAConfig | None = None, seed: int = 0) -> TextToMedia:
    """``"image" | "audio" | "video"`` + config -> a :class:`TextToMedia` backend; ``seed`` for generators."""
    cfg = cfg or MMAConfig()
    m = _check(modality)
    if m == "image":
        kind, arg = split_spec(cfg.text_to_image)
        if kind == "gallery":
            from .image_gen import GalleryRetriever
            describer = make_media_to_text("image", cfg) if cfg.gallery_self_index else None
            return GalleryRetriever(arg or cfg.gallery, describer=describer)
        from .image_gen import DiffusersImage
        return DiffusersImage(arg, cfg.device, cfg.image_size, cfg.diffusion_steps, cfg.guidance_scale, seed)
    if m == "audio":
        kind, arg = split_spec(cfg.text_to_audio)
        if kind == "piper":
            from .audio import PiperSpeaker
            return PiperSpeaker(arg)
        from .audio import EspeakSpeaker
        return EspeakSpeaker(arg or "en-us", timeout_s=cfg.timeout_s)
    kind, arg = split_spec(cfg.text_to_video)
    if kind == "slideshow":
        from .video import SlideshowVideo
        return SlideshowVideo(make_text_to_media("image", cfg, seed), make_text_to_media("audio", cfg, seed),
                              cfg.video_seconds, cfg.video_fps)
    from .video import DiffusersVideo
    return DiffusersVideo(arg, cfg.device, min(cfg.image_size, 256), cfg.diffusion_steps, cfg.guidance_scale,
                          max(2, int(round(cfg.video_seconds * cfg.video_fps))), cfg.video_fps, seed)
