"""Multimodal alignment configuration section (``mma:`` in the run YAML)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MMAConfig:
    image_to_text: str = "offline"       # offline | transformers:<id or path> | openai:<model>
    audio_to_text: str = "whisper"
    text_to_image: str = "gallery"
    text_to_audio: str = "piper"
    text_to_video: str = "slideshow"
