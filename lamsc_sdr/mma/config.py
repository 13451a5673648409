"""Multimodal alignment configuration section (``mma:`` in the run YAML).

Each backend is a string ``kind`` or ``kind:argument``; the argument is a model id or a local
path (``transformers:/models/blip``, ``diffusers:stabilityai/sd-turbo``, ``whisper:/models/ct2-base``).
Nothing downloads at run time unless the user names a hub id *and* the environment allows it
(``HF_HUB_OFFLINE`` unset); the defaults all run offline from pip-installed packages:

==================  =====================  ===================================================
field               default                choices
==================  =====================  ===================================================
image_to_text       ``offline``            offline | transformers:<id|path> | openai:<model>
audio_to_text       ``whisper``            whisper | whisper:<CTranslate2 dir> | transformers:<id|path>
video_to_text       ``frames``             frames (sampled frames via image_to_text + soundtrack via audio_to_text)
text_to_image       ``gallery``            gallery | diffusers:<id|path>
text_to_audio       ``piper``              piper | piper:<voice.onnx> | espeak
text_to_video       ``slideshow``          slideshow (clip of text_to_image results) | diffusers:<id|path>
==================  =====================  ===================================================
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError

_KINDS = {
    "image_to_text": {"offline": False, "transformers": True, "openai": True},
    "audio_to_text": {"whisper": None, "transformers": True},
    "video_to_text": {"frames": False},
    "text_to_image": {"gallery": None, "diffusers": True},
    "text_to_audio": {"piper": None, "espeak": None},
    "text_to_video": {"slideshow": False, "diffusers": True},
}


def split_spec(spec: str) -> tuple[str, str | None]:
    """``"transformers:/m/blip"`` -> ``("transformers", "/m/blip")``; ``"offline"`` -> ``("offline", None)``."""
    kind, sep, arg = spec.partition(":")
    return kind.strip().lower(), (arg.strip() or None) if sep else None


@dataclass(frozen=True)
class MMAConfig:
    image_to_text: str = "offline"       # offline | transformers:<id or path> | openai:<model>
    audio_to_text: str = "whisper"       # whisper[:<ct2 dir>] | transformers:<id or path>
    video_to_text: str = "frames"        # frames: image_to_text on sampled frames + audio_to_text
    text_to_image: str = "gallery"       # gallery | diffusers:<id or path>
    text_to_audio: str = "piper"         # piper[:<voice.onnx>] | espeak
    text_to_video: str = "slideshow"     # slideshow | diffusers:<id or path>
    gallery: str | None = None           # receiver-side gallery folder (gallery.yaml); None = shipped
    gallery_self_index: bool = True      # also index gallery images by image_to_text's own descriptions
    openai_base_url: str | None = None   # None: $OPENAI_BASE_URL, else https://api.openai.com/v1
    openai_api_key_env: str = "OPENAI_API_KEY"   # name of the environment variable with the key
    timeout_s: float = 60.0              # HTTP timeout per request
    retries: int = 2                     # HTTP retries (429/5xx/connection), exponential backoff
    max_new_tokens: int = 40             # captioners and vision-chat models
    video_frames: int = 4                # frames sampled per video for video_to_text
    asr_beam_size: int = 5
    language: str | None = "en"          # ASR language hint (None: detect)
    image_size: int = 512                # diffusers output size (pixels, square)
    diffusion_steps: int = 20
    guidance_scale: float = 7.5
    video_seconds: float = 4.0           # slideshow / generated clip length
    video_fps: int = 8
    device: str = "cpu"                  # torch device for transformers / diffusers backends

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        for name, kinds in _KINDS.items():
            spec = getattr(self, name)
            if not isinstance(spec, str) or not spec.strip():
                raise ConfigError(f"config key 'mma.{name}': expected a backend string, got {spec!r}")
            kind, arg = split_spec(spec)
            if kind not in kinds:
                raise ConfigError(f"config key 'mma.{name}': unknown backend {kind!r}; "
                                  f"choices: {sorted(kinds)} (as 'kind' or 'kind:<model id or path>')")
            need = kinds[kind]
            if need is True and not arg:
                raise ConfigError(f"config key 'mma.{name}': backend {kind!r} needs a model, "
                                  f"e.g. '{kind}:<model id or local path>'")
            if need is False and arg:
                raise ConfigError(f"config key 'mma.{name}': backend {kind!r} takes no argument, got {spec!r}")
        for name, lo in (("timeout_s", 0.0), ("max_new_tokens", 1), ("video_frames", 1),
                         ("asr_beam_size", 1), ("image_size", 8), ("diffusion_steps", 1),
                         ("video_seconds", 0.0), ("video_fps", 1)):
            value = getattr(self, name)
            bad = value <= lo if isinstance(lo, float) else value < lo
            if bad:
                op = ">" if isinstance(lo, float) else ">="
                raise ConfigError(f"config key 'mma.{name}': must be {op} {lo}, got {value!r}")
        if self.retries < 0:
            raise ConfigError(f"config key 'mma.retries': must be >= 0, got {self.retries!r}")
        if self.image_size % 8:
            raise ConfigError(f"config key 'mma.image_size': must be a multiple of 8, got {self.image_size}")
