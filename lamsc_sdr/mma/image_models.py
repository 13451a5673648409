"""Model-backed image -> text: ``transformers`` captioners and OpenAI-compatible vision chat.

- :class:`TransformersCaptioner` loads any image-text-to-text model that ``transformers``'
  ``AutoModelForImageTextToText`` knows (BLIP, GIT, ViT-GPT2 ``vision-encoder-decoder``,
  Florence-2, Pix2Struct...) by hub id or local ``save_pretrained`` directory, plus its
  processor (or image processor + tokenizer for vision-encoder-decoder checkpoints).
- :class:`OpenAIVisionDescriber` posts the image (JPEG, base64 data URL) to
  ``{base_url}/chat/completions`` of any OpenAI-compatible server (OpenAI, vLLM, Ollama,
  llama.cpp server, LM Studio) with a timeout and retries with exponential backoff.
"""
from __future__ import annotations

import base64
import io
import json
import logging
import os
import time
import urllib.error
import urllib.request

import numpy as np

from ..errors import ModelUnavailableError
from .base import MediaToText, TextResult, cached, load_image, require

log = logging.getLogger(__name__)

DEFAULT_OPENAI_URL = "https://api.openai.com/v1"
DEFAULT_PROMPT = ("Describe this image in one or two plain sentences: the main subjects, what they "
                  "are doing, and the background.")


def _load_captioner(model_id: str, device: str):
    require("transformers", f"image-to-text model {model_id!r}", "transformers")
    require("torch", f"image-to-text model {model_id!r}", "torch")
    from transformers import (AutoImageProcessor, AutoModelForImageTextToText, AutoProcessor,
                              AutoTokenizer)
    try:
        model = AutoModelForImageTextToText.from_pretrained(model_id)
    except (OSError, ValueError) as err:
        raise ModelUnavailableError(
            f"cannot load image-to-text model {model_id!r}: {err}. Pass a local directory made with "
            f"save_pretrained(), or a hub id with network access (HF_HUB_OFFLINE unset)") from err
    model.to(device).eval()
    try:
        proc = AutoProcessor.from_pretrained(model_id)
    except (OSError, ValueError, TypeError, KeyError):
        proc = None
    tokenizer = getattr(proc, "tokenizer", None)
    image_proc = getattr(proc, "image_processor", None)
    if image_proc is None:      # AutoProcessor gave an image processor alone (ViT-GPT2 style) or nothing
        image_proc = proc if proc is not None and hasattr(proc, "preprocess") else None
        proc = None
        try:
            image_proc = image_proc or AutoImageProcessor.from_pretrained(model_id)
            tokenizer = tokenizer or AutoTokenizer.from_pretrained(model_id)
        except (OSError, ValueError) as err:
            raise ModelUnavailableError(f"{model_id!r} has no usable image processor/tokenizer: {err}") from err
    gen = model.generation_config
    if getattr(model.config, "is_encoder_decoder", False) and gen.decoder_start_token_id is None:
        gen.decoder_start_token_id = getattr(model.config, "decoder_start_token_id", None) \
            or getattr(tokenizer, "bos_token_id", None)
    if gen.pad_token_id is None and tokenizer is not None:
        gen.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return model, proc, image_proc, tokenizer


class TransformersCaptioner(MediaToText):
    """Image -> caption with a ``transformers`` model (id or local path); greedy decoding."""
    modality = "image"

    def __init__(self, model_id: str, device: str = "cpu", max_new_tokens: int = 40):
        self.model_id, self.device, self.max_new_tokens = model_id, device, max_new_tokens
        self.name = f"transformers:{model_id}"

    def describe(self, media) -> TextResult:
        import torch
        t0 = time.perf_counter()
        img = load_image(media)                                     # (H, W, 3) uint8
        model, proc, image_proc, tok = cached(("captioner", self.model_id, self.device),
                                              lambda: _load_captioner(self.model_id, self.device))
        from PIL import Image
        pil = Image.fromarray(img)
        if proc is not None:
            inputs = proc(images=pil, return_tensors="pt")
        else:
            inputs = image_proc(images=pil, return_tensors="pt")
        inputs = {k: v.to(self.device) for k, v in inputs.items() if hasattr(v, "to")}
        with torch.inference_mode():
            out = model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
        decoder = proc if proc is not None else tok
        text = decoder.batch_decode(out, skip_special_tokens=True)[0].strip()
        return TextResult(text or "(empty caption)", self.name, False,
                          {"latency_s": time.perf_counter() - t0, "tokens": int(out.shape[-1])})


# ------------------------------------------------------------------------------------- HTTP
def post_json(url: str, payload: dict, headers: dict, timeout_s: float, retries: int,
              what: str, max_bytes: int = 8 << 20) -> dict:
    """POST JSON, return the decoded JSON reply. Retries 429/5xx/connection errors with
    exponential backoff (0.5 s, 1 s, 2 s...); raises :class:`ModelUnavailableError` otherwise."""
    body = json.dumps(payload).encode()
    last: Exception | None = None
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(min(8.0, 0.5 * 2 ** (attempt - 1)))
        req = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", **headers})
        try:
            with urllib.request.urlopen(req, timeout=timeout_s) as resp:
                raw = resp.read(max_bytes + 1)
            if len(raw) > max_bytes:
                raise ModelUnavailableError(f"{what}: reply from {url} exceeds {max_bytes} bytes")
            return json.loads(raw)
        except urllib.error.HTTPError as err:
            detail = err.read(2000).decode(errors="replace")
            last = err
            if err.code == 429 or err.code >= 500:
                log.warning("%s: HTTP %s from %s (attempt %d/%d)", what, err.code, url, attempt + 1, retries + 1)
                continue
            raise ModelUnavailableError(f"{what}: HTTP {err.code} from {url}: {detail[:500]}") from err
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as err:
            last = err
            log.warning("%s: %s (attempt %d/%d)", what, err, attempt + 1, retries + 1)
            continue
        except json.JSONDecodeError as err:
            raise ModelUnavailableError(f"{what}: {url} did not answer with JSON") from err
    raise ModelUnavailableError(f"{what}: no answer from {url} after {retries + 1} attempts "
                                f"(last error: {last})") from last


def jpeg_data_url(img: np.ndarray, max_side: int = 768, quality: int = 88) -> str:
    """``img: (H, W, 3) uint8`` -> ``data:image/jpeg;base64,...`` (downscaled to ``max_side``)."""
    from PIL import Image
    pil = Image.fromarray(img)
    pil.thumbnail((max_side, max_side))
    buf = io.BytesIO()
    pil.save(buf, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


class OpenAIVisionDescriber(MediaToText):
    """Image -> text through an OpenAI-compatible ``/chat/completions`` vision model.

    ``base_url``: config ``mma.openai_base_url``, else ``$OPENAI_BASE_URL``, else OpenAI's.
    The key comes from the environment variable named by ``mma.openai_api_key_env``; it is
    required only for api.openai.com (local servers usually need none).
    """
    modality = "image"

    def __init__(self, model: str, base_url: str | None = None, api_key_env: str = "OPENAI_API_KEY",
                 timeout_s: float = 60.0, retries: int = 2, max_tokens: int = 80,
                 prompt: str = DEFAULT_PROMPT):
        self.model = model
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_OPENAI_URL).rstrip("/")
        self.api_key_env, self.timeout_s, self.retries = api_key_env, timeout_s, retries
        self.max_tokens, self.prompt = max_tokens, prompt
        self.name = f"openai:{model}"

    def describe(self, media) -> TextResult:
        t0 = time.perf_counter()
        img = load_image(media)
        key = os.environ.get(self.api_key_env)
        if not key and self.base_url.startswith(DEFAULT_OPENAI_URL):
            raise ModelUnavailableError(f"{self.name}: set ${self.api_key_env} to an API key, or point "
                                        f"mma.openai_base_url at a local OpenAI-compatible server")
        payload = {"model": self.model, "max_tokens": self.max_tokens, "temperature": 0,
                   "messages": [{"role": "user", "content": [
                       {"type": "text", "text": self.prompt},
                       {"type": "image_url", "image_url": {"url": jpeg_data_url(img)}}]}]}
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        reply = post_json(f"{self.base_url}/chat/completions", payload, headers,
                          self.timeout_s, self.retries, self.name)
        try:
            content = reply["choices"][0]["message"]["content"]
            if isinstance(content, list):  # some servers return content parts
                content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            text = str(content).strip()
        except (KeyError, IndexError, TypeError) as err:
            raise ModelUnavailableError(f"{self.name}: unexpected reply from {self.base_url}: "
                                        f"{json.dumps(reply)[:300]}") from err
        if not text:
            raise ModelUnavailableError(f"{self.name}: the server returned an empty description")
        return TextResult(text, self.name, False, {"latency_s": time.perf_counter() - t0,
                                                   "usage": reply.get("usage", {})})
