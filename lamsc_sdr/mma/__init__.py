"""MMA -- multimodal alignment: media -> text at the sender, text -> media at the receiver.

One interface per direction (:class:`MediaToText.describe`, :class:`TextToMedia.render`), a
backend per modality chosen by the ``mma:`` config (:class:`MMAConfig`), built by
:func:`make_media_to_text` / :func:`make_text_to_media`. Offline defaults run from pip packages
and are labelled (``offline_fallback=True``) where they stand in for a generative model.
Heavy libraries load inside the backends, once per process.
"""
from .base import (MediaResult, MediaToText, TextResult, TextToMedia, clear_cache, detect_modality,
                   load_audio, load_image)
from .config import MMAConfig
from .factory import make_media_to_text, make_text_to_media

__all__ = ["MMAConfig", "MediaResult", "MediaToText", "TextResult", "TextToMedia", "clear_cache",
           "detect_modality", "load_audio", "load_image", "make_media_to_text", "make_text_to_media"]
