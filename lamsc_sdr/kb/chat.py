"""ChatModel: one call, ``chat(messages, max_tokens, temperature) -> str``, many backends.

- :class:`OpenAIChat`: any OpenAI-compatible ``/v1/chat/completions`` server (GPT-4, vLLM, Ollama,
  llama.cpp server); base URL and key from config or ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY``;
  timeouts; retries with exponential backoff on network errors, 429 and 5xx. urllib only.
- :class:`TransformersChat`: a local causal LM by path or hub id (``gguf_file=`` for GGUF),
  loaded with ``local_files_only=True`` -- nothing is downloaded. Greedy when temperature is 0.
- :class:`CT2Chat`: a CTranslate2 model folder (int8 on CPU): the fast offline runtime.
- :func:`make_chat_model`: a backend from a spec string (``offline``, ``transformers:PATH``,
  ``openai:MODEL``), cached so a model is loaded once per process.

``messages`` is a list of ``{"role": "system"|"user"|"assistant", "content": str}``.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from pathlib import Path

from ..errors import ConfigError, ModelUnavailableError

log = logging.getLogger(__name__)
Messages = list[dict[str, str]]


class ChatModel(ABC):
    """One call: a chat conversation in, the assistant's reply text out."""

    name: str = "chat"

    @abstractmethod
    def chat(self, messages: Messages, max_tokens: int = 96, temperature: float = 0.0) -> str:
        """Reply to ``messages``; ``temperature == 0`` means greedy (deterministic) decoding."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


def _check_messages(messages: Messages) -> None:
    if not isinstance(messages, list) or not messages:
        raise ValueError("messages: expected a non-empty list of {'role', 'content'} dicts")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant") \
                or not isinstance(m.get("content"), str):
            raise ValueError(f"messages[{i}]: expected {{'role': system|user|assistant, 'content': str}}")


# ------------------------------------------------------------------------------------ HTTP


class OpenAIChat(ChatModel):
    """OpenAI-compatible chat completions over HTTP.

    Retries ``retries`` times on connection errors, timeouts, HTTP 429 and 5xx, sleeping
    ``backoff_s * 2**attempt`` between tries; other HTTP errors fail at once.
    """

    def __init__(self, model: str, base_url: str | None = None, api_key: str | None = None,
                 timeout_s: float = 30.0, retries: int = 3, backoff_s: float = 0.5):
        if not model:
            raise ConfigError("kb.llm: openai backend needs a model name, e.g. openai:gpt-4o")
        self.model = model
        self.name = f"openai:{model}"
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1").rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "")
        self.timeout_s, self.retries, self.backoff_s = float(timeout_s), int(retries), float(backoff_s)

    def chat(self, messages: Messages, max_tokens: int = 96, temperature: float = 0.0) -> str:
        _check_messages(messages)
        body = json.dumps({"model": self.model, "messages": messages, "max_tokens": int(max_tokens),
                           "temperature": float(temperature)}).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        url = f"{self.base_url}/chat/completions"
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            req = urllib.request.Request(url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                    data = json.loads(resp.read().decode("utf-8"))
                return str(data["choices"][0]["message"]["content"] or "").strip()
            except urllib.error.HTTPError as err:
                last = err
                if err.code != 429 and err.code < 500:
                    detail = err.read()[:300].decode("utf-8", "replace")
                    raise ModelUnavailableError(f"{url}: HTTP {err.code} {err.reason}: {detail}") from err
            except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
                last = err
            except (KeyError, IndexError, TypeError, ValueError) as err:
                raise ModelUnavailableError(f"{url}: not an OpenAI chat completion response ({err})") from err
            log.debug("chat attempt %d/%d failed: %s", attempt + 1, self.retries + 1, last)
        raise ModelUnavailableError(f"{url}: no answer after {self.retries + 1} tries ({last})") from last


# ------------------------------------------------------------------------------- local models


def _set_threads(threads: int | None) -> int:
    import torch
    n = threads or min(4, os.cpu_count() or 1)
    torch.set_num_threads(n)
    return n


class TransformersChat(ChatModel):
    """A local ``transformers`` causal LM (folder or cached hub id; GGUF with ``gguf_file``)."""

    def __init__(self, path: str, gguf_file: str | None = None, threads: int | None = None, dtype: str = "auto"):
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as err:
            raise ModelUnavailableError("transformers backend needs torch and transformers "
                                        "(pip install 'lamsc_sdr[ml]')") from err
        self.name = f"transformers:{path}" + (f"#{gguf_file}" if gguf_file else "")
        p = Path(path).expanduser()
        if p.is_file() and p.suffix == ".gguf":
            path, gguf_file = str(p.parent), p.name
        _set_threads(threads)
        kw = {"local_files_only": True}
        if gguf_file:
            kw["gguf_file"] = gguf_file
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path, **kw)
            torch_dtype = {"auto": "auto", "float32": torch.float32, "bfloat16": torch.bfloat16}[dtype]
            self.model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype, **kw)
        except (OSError, ValueError) as err:
            raise ModelUnavailableError(f"cannot load a causal LM from {path!r} without downloading: {err}") from err
        self.model.eval()
        self._lock = threading.Lock()

    def _prompt_ids(self, messages: Messages):
        tok = self.tokenizer
        if getattr(tok, "chat_template", None):
            return tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                           return_dict=True)["input_ids"]
        text = "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant:"
        return tok(text, return_tensors="pt")["input_ids"]

    def chat(self, messages: Messages, max_tokens: int = 96, temperature: float = 0.0) -> str:
        import torch
        _check_messages(messages)
        ids = self._prompt_ids(messages)                      # (1, T) int64
        kw = {"max_new_tokens": int(max_tokens), "use_cache": True,
              "pad_token_id": self.tokenizer.pad_token_id or self.tokenizer.eos_token_id}
        if temperature > 0:
            kw.update(do_sample=True, temperature=float(temperature))
        else:
            kw.update(do_sample=False)
        with self._lock, torch.inference_mode():
            out = self.model.generate(ids, attention_mask=torch.ones_like(ids), **kw)  # (1, T + new)
        return self.tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True).strip()


class CT2Chat(ChatModel):
    """A CTranslate2 causal LM folder with a ChatML tokenizer (Qwen2.5): int8 on CPU."""

    END_TOKENS = ["<|im_end|>", "<|endoftext|>"]

    def __init__(self, model_dir: str | Path, threads: int | None = None, compute_type: str = "int8"):
        try:
            import ctranslate2
            from tokenizers import Tokenizer
        except ImportError as err:
            raise ModelUnavailableError("CTranslate2 runtime needs ctranslate2 and tokenizers") from err
        model_dir = Path(model_dir)
        self.name = f"ct2:{model_dir.name}"
        n = threads or min(4, os.cpu_count() or 1)
        self.generator = ctranslate2.Generator(str(model_dir), device="cpu", compute_type=compute_type,
                                               intra_threads=n)
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._lock = threading.Lock()

    @staticmethod
    def _chatml(messages: Messages) -> str:
        return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages) + \
            "<|im_start|>assistant\n"

    def chat(self, messages: Messages, max_tokens: int = 96, temperature: float = 0.0) -> str:
        _check_messages(messages)
        # special tokens inside message contents would be read as control tokens: defuse them
        safe = [{"role": m["role"], "content": m["content"].replace("<|", "< |")} for m in messages]
        ids = self.tokenizer.encode(self._chatml(safe)).ids
        toks = [self.tokenizer.id_to_token(i) for i in ids]
        kw = {"sampling_topk": 1} if temperature <= 0 else {"sampling_topk": 50, "sampling_temperature": temperature}
        with self._lock:
            res = self.generator.generate_batch([toks], max_length=int(max_tokens), include_prompt_in_result=False,
                                                end_token=self.END_TOKENS, **kw)
        return self.tokenizer.decode(res[0].sequences_ids[0], skip_special_tokens=True).strip()


# -------------------------------------------------------------------------------- factory

_CACHE: dict[tuple, ChatModel] = {}
_CACHE_LOCK = threading.Lock()


def offline_chat(threads: int | None = None, runtime: str = "auto", model: str | None = None) -> ChatModel:
    """The offline default (Qwen2.5-Coder-0.5B-Instruct from the pip chunks), prepared on first use.

    ``runtime``: ``ct2`` (CTranslate2 int8, fastest), ``transformers`` (bfloat16 folder) or
    ``auto`` (ct2 when installed). ``model``: a key of :data:`offline.MODELS` (default qwen0.5b).
    """
    from . import offline
    model = model or offline.DEFAULT
    if runtime not in ("auto", "ct2", "transformers"):
        raise ConfigError(f"kb.runtime: expected auto, ct2 or transformers, got {runtime!r}")
    if runtime in ("auto", "ct2"):
        try:
            import ctranslate2  # noqa: F401
            return CT2Chat(offline.prepare_ct2(model=model), threads=threads)
        except ImportError:
            if runtime == "ct2":
                raise ModelUnavailableError("kb.runtime ct2: pip install ctranslate2") from None
    return TransformersChat(str(offline.prepare_hf(model=model)), threads=threads, dtype="bfloat16")


def make_chat_model(spec: str, *, base_url: str | None = None, api_key: str | None = None,
                    timeout_s: float = 30.0, retries: int = 3, threads: int | None = None,
                    runtime: str = "auto") -> ChatModel:
    """A chat model for ``spec``; local models are cached for the life of the process."""
    if not isinstance(spec, str) or not spec:
        raise ConfigError(f"kb.llm: expected offline | transformers:<path> | openai:<model>, got {spec!r}")
    kind, _, arg = spec.partition(":")
    if kind == "openai":
        return OpenAIChat(arg, base_url=base_url, api_key=api_key, timeout_s=timeout_s, retries=retries)
    key = (kind, arg, threads, runtime)
    with _CACHE_LOCK:
        if key not in _CACHE:
            if kind == "offline":
                _CACHE[key] = offline_chat(threads=threads, runtime=runtime, model=arg or None)
            elif kind == "transformers":
                if not arg:
                    raise ConfigError("kb.llm: transformers backend needs a path, e.g. transformers:/models/qwen")
                path, _, gguf = arg.partition("#")
                _CACHE[key] = TransformersChat(path, gguf_file=gguf or None, threads=threads)
            else:
                raise ConfigError(f"kb.llm: unknown backend {kind!r}; expected offline, rules, "
                                  f"transformers:<path> or openai:<model>")
        return _CACHE[key]
