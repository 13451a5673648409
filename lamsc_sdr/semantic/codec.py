"""``SemanticCodec``: the trained DeepSC-style codec behind a NumPy interface.

    codec = SemanticCodec.load()                       # the shipped checkpoint
    z = codec.encode(["the house is closed."])         # [(n_0,) complex64], unit average power
    text = codec.decode(z_hat, noise_var)              # list[str]

A text of ``n`` tokens becomes ``n * symbols_per_token`` complex symbols; the receiver recovers
``n`` from the symbol count (frames carry the payload length). Within a message the symbols are
block-interleaved (token-major in, symbol-major out), so the symbols of one token are spread
over the frame instead of sitting on adjacent subcarriers. Texts longer than ``max_tokens``
tokens are refused by ``encode``; ``segments(text)`` splits them at word (sentence, if possible)
boundaries into model-sized pieces, ``" ".join(segments)`` giving the text back.

Text is normalized by the tokenizer (NFC, lowercased when the checkpoint says so); byte-level
BPE means nothing is ever unknown (non-ASCII, digits, punctuation all survive a clean channel).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import CheckpointMismatchError, ModelUnavailableError, ShapeError
from .config import SemanticConfig

SHIPPED = Path(__file__).parent / "checkpoints" / "deepsc_europarl.pt"
_WORD = re.compile(r"\s*\S+|\s+$")
_SENT_END = re.compile(r"[.!?;:]['\")\]]*$")


def _interleave(x: np.ndarray, k: int) -> np.ndarray:
    """(n_tok, k) token-major -> (n_tok*k,) symbol-major: all tokens' symbol 0, then symbol 1, ..."""
    return np.ascontiguousarray(x.T).reshape(-1)


def _deinterleave(z: np.ndarray, k: int) -> np.ndarray:
    """(n_tok*k,) symbol-major -> (n_tok, k) token-major (inverse of ``_interleave``)."""
    return z.reshape(k, -1).T


class SemanticCodec:
    """Processing block around a trained :class:`~lamsc_sdr.semantic.model.DeepSC`.

    Attributes: ``config`` (SemanticConfig of the model), ``tokenizer`` (TextTokenizer),
    ``symbols_per_token``, ``max_tokens``, ``symbols_per_segment`` (channel uses of a full segment),
    ``meta`` (checkpoint provenance: corpus hash, training log, versions).
    """

    def __init__(self, model, tokenizer, config: SemanticConfig, meta: dict | None = None, device: str = "cpu"):
        from ..devices import resolve_device
        self.device = resolve_device(device)
        self.model = model.eval().to(self.device)
        self.tokenizer = tokenizer
        self.config = config
        self.meta = meta or {}

    # ---------------------------------------------------------------- loading
    @classmethod
    def load(cls, path: str | Path | None = None, expected: SemanticConfig | None = None,
             device: str = "cpu") -> "SemanticCodec":
        """Load a checkpoint with ``torch.load(weights_only=True, map_location="cpu")`` and move the
        model to ``device`` (auto: CUDA when present | cpu | cuda).

        ``path``: ``None`` or ``"europarl"`` -- the shipped Europarl checkpoint (issue 3);
        ``"lamsc"`` -- the shipped checkpoint adapted to LAM-MSC media descriptions; else a path.

        ``expected``: the run config's semantic section; any model field that differs raises
        :class:`CheckpointMismatchError` naming it. A tokenizer that does not fit the weights,
        or weights that do not fit the recorded config, raise the same error.
        """
        import torch

        from .model import DeepSC
        from .tokenizer import TextTokenizer
        from .train import CHECKPOINT_FORMAT

        from .config import resolve_checkpoint
        path = resolve_checkpoint(None if path is None else str(path))
        if not path.is_file():
            raise ModelUnavailableError(f"semantic checkpoint {path} not found (train one with `lamsc train semantic`)")
        from ..checkpoints import load_torch
        ck = load_torch(path, "semantic")      # SHA-256 sidecar verified, weights_only=True
        if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
            got = ck.get("format") if isinstance(ck, dict) else type(ck).__name__
            raise CheckpointMismatchError(f"{path}: format {got!r}, expected {CHECKPOINT_FORMAT!r}")
        try:
            cfg = SemanticConfig(**ck["model_config"])
        except (TypeError, KeyError) as err:
            raise CheckpointMismatchError(f"{path}: model_config does not fit this lamsc_sdr: {err}") from err
        if expected is not None:
            want = expected.model_dict()
            diff = [f"semantic.{k}: checkpoint {v!r} != config {want[k]!r}"
                    for k, v in cfg.model_dict().items() if k in want and want[k] != v]
            if diff:
                raise CheckpointMismatchError(f"{path} was trained for another config: " + "; ".join(diff))
        tok = TextTokenizer(ck["tokenizer_json"])
        if tok.vocab_size != cfg.vocab_size:
            raise CheckpointMismatchError(f"{path}: tokenizer has {tok.vocab_size} tokens but the model "
                                          f"was built for vocab_size {cfg.vocab_size}")
        if ck.get("tokenizer_sha") not in (None, tok.digest):
            raise CheckpointMismatchError(f"{path}: tokenizer sha {tok.digest} != recorded {ck['tokenizer_sha']}")
        model = DeepSC(cfg)
        state = {k: v.float() if v.is_floating_point() else v for k, v in ck["state_dict"].items()}
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as err:
            raise CheckpointMismatchError(f"{path}: weights do not fit the recorded model config: {err}") from err
        meta = {k: ck.get(k) for k in ("corpus", "training_log", "versions", "run_config", "wall_time_s",
                                       "tokenizer_sha")}
        meta["path"] = str(path)
        return cls(model, tok, cfg, meta, device=device)

    # ---------------------------------------------------------------- sizes
    @property
    def symbols_per_token(self) -> int:
        return self.config.symbols_per_token

    @property
    def max_tokens(self) -> int:
        return self.config.max_tokens

    @property
    def symbols_per_segment(self) -> int:
        """Complex channel uses of a full segment (``max_tokens * symbols_per_token``)."""
        return self.max_tokens * self.symbols_per_token

    def n_tokens(self, text: str) -> int:
        return int(self.tokenizer.encode(_check_text(text, 0)).shape[0])

    def channel_uses(self, text: str) -> int:
        """Complex symbols ``encode`` produces for ``text`` (summed over its segments)."""
        return sum(self.n_tokens(s) for s in self.segments(text)) * self.symbols_per_token

    # ---------------------------------------------------------------- segmentation
    def segments(self, text: str) -> list[str]:
        """Split ``text`` into pieces of at most ``max_tokens`` tokens, in order.

        Cuts after a sentence end when one is in reach, else between words; a single "word"
        longer than a segment (binary garbage, URLs) is cut between characters. The whitespace at
        a cut is dropped (segments start and end like the sentences the model was trained on) and
        :meth:`decode_message` joins segments with one space, so ``" ".join(segments(text))``
        equals the text up to the whitespace at the cuts; no other character is dropped.
        Whitespace is normalized first (runs -> one space, ends stripped); a text that fits is
        returned as one piece; empty text -> ``[""]``.
        """
        text = clean_whitespace(_check_text(text, 0))
        if self.n_tokens(text) <= self.max_tokens:
            return [text]
        words = _WORD.findall(text)
        out: list[str] = []
        cur: list[str] = []
        i = 0
        while i < len(words):
            w = words[i]
            if self.n_tokens(w) > self.max_tokens:           # one overlong word: cut by characters
                if cur:
                    out.append("".join(cur))
                    cur = []
                out.extend(self._split_chars(w))
                i += 1
                continue
            # count the piece as it will be sent (stripped): byte-level BPE codes a word after a
            # space differently, so " two people ..." can be shorter than "two people ..."
            if self.n_tokens("".join(cur + [w]).strip()) <= self.max_tokens:
                cur.append(w)
                i += 1
                continue
            cut = max((j + 1 for j, c in enumerate(cur) if _SENT_END.search(c)), default=0)
            if cut <= len(cur) // 2:   # no sentence end in the second half: cut between words
                cut = len(cur)
            out.append("".join(cur[:cut]))
            cur = cur[cut:]
        if cur:
            out.append("".join(cur))
        pieces = [p for p in (q.strip() for q in out) if p]
        # a remainder after a sentence cut may still grow by the same effect: cut it by characters
        return [q for p in pieces for q in ([p] if self.n_tokens(p) <= self.max_tokens else self._split_chars(p))]

    def _split_chars(self, word: str) -> list[str]:
        pieces = []
        while word:
            lo, hi = 1, len(word)
            while lo < hi:                                   # longest prefix that fits
                mid = (lo + hi + 1) // 2
                if self.n_tokens(word[:mid]) <= self.max_tokens:
                    lo = mid
                else:
                    hi = mid - 1
            pieces.append(word[:lo])
            word = word[lo:]
        return pieces

    # ---------------------------------------------------------------- coding
    def encode(self, texts: Sequence[str]) -> list[np.ndarray]:
        """texts -> one (n_i,) complex64 array each, n_i = tokens_i * symbols_per_token, unit average power.

        Raises ShapeError for a text longer than ``max_tokens`` tokens (use :meth:`segments`)
        or a non-str element. Empty text -> an empty array.
        """
        import torch

        from .train import pad_batch

        texts = [clean_whitespace(_check_text(t, i)) for i, t in enumerate(texts)]
        seqs = self.tokenizer.encode_batch(texts) if texts else []
        for i, s in enumerate(seqs):
            if len(s) > self.max_tokens:
                raise ShapeError(f"texts[{i}] has {len(s)} tokens > max_tokens {self.max_tokens}; "
                                 "split it with SemanticCodec.segments() (encode_message does)")
        out: list[np.ndarray | None] = [None] * len(seqs)
        k = self.symbols_per_token
        nonempty = [i for i, s in enumerate(seqs) if len(s)]
        for i, s in enumerate(seqs):
            if not len(s):
                out[i] = np.zeros(0, np.complex64)
        if nonempty:
            ids, mask = pad_batch([seqs[i] for i in nonempty], self.tokenizer.pad_id)   # (B, T)
            with torch.inference_mode():
                x = self.model.encode(ids.to(self.device), mask.to(self.device)).float().cpu().numpy()  # (B, T, k, 2)
            xc = (x[..., 0] + 1j * x[..., 1]).astype(np.complex64)                      # (B, T, k)
            for b, i in enumerate(nonempty):
                out[i] = _interleave(xc[b, :len(seqs[i])], k)
        return out  # type: ignore[return-value]

    def decode(self, symbols_list: Sequence[np.ndarray], noise_var_list: Sequence,
               equalizer: str = "unbiased") -> list[str]:
        """Equalized symbols + noise variance -> texts.

        Input: symbols_list[i] (n_i,) complex, n_i a multiple of ``symbols_per_token`` and at most
        ``symbols_per_segment``; noise_var_list[i] a float or (n_i,) float (per-symbol noise
        variance). ``equalizer="unbiased"`` (default): ``x_hat = x + noise`` as from ZF or
        ``estimation.equalize(..., unbiased=True)``, nv = ``(err_var + N0) / |h_hat|^2``;
        ``"mmse"``: the biased LMMSE output of ``estimation.equalize(kind="mmse")`` (gain
        ``g = 1 - nv``), converted here to the unbiased form (``x_hat / g``, ``nv / g``).
        Output: list of decoded (normalized) texts; empty symbols -> "".
        """
        if equalizer not in ("unbiased", "mmse"):
            raise ShapeError(f"equalizer must be 'unbiased' or 'mmse', got {equalizer!r}")
        import torch

        if len(symbols_list) != len(noise_var_list):
            raise ShapeError(f"{len(symbols_list)} symbol arrays but {len(noise_var_list)} noise variances")
        k = self.symbols_per_token
        ys, nvs = [], []
        for i, (z, nv) in enumerate(zip(symbols_list, noise_var_list)):
            z = np.asarray(z)
            if z.ndim != 1:
                raise ShapeError(f"symbols_list[{i}] must be 1-D, got shape {z.shape}")
            if z.shape[0] % k or z.shape[0] > self.symbols_per_segment:
                raise ShapeError(f"symbols_list[{i}] has {z.shape[0]} symbols: must be a multiple of "
                                 f"{k} and at most {self.symbols_per_segment}")
            nv = np.broadcast_to(np.asarray(nv, dtype=np.float64), z.shape)
            if not (np.all(np.isfinite(z)) and np.all(np.isfinite(nv))) or np.any(nv < 0):
                raise ShapeError(f"symbols_list[{i}] / noise_var_list[{i}] hold NaN/Inf or negative variance")
            if equalizer == "mmse":
                g = np.clip(1.0 - nv, 1e-6, 1.0)
                z, nv = z / g, nv / g
            ys.append(_deinterleave(z.astype(np.complex64), k))                 # (n_tok, k)
            nvs.append(_deinterleave(nv.astype(np.float32), k))
        out = [""] * len(ys)
        idx = [i for i, y in enumerate(ys) if y.shape[0]]
        if not idx:
            return out
        B, T = len(idx), max(ys[i].shape[0] for i in idx)
        y = np.zeros((B, T, k, 2), np.float32)
        nv = np.ones((B, T, k), np.float32)
        mask = np.zeros((B, T), bool)
        for b, i in enumerate(idx):
            n = ys[i].shape[0]
            y[b, :n, :, 0], y[b, :n, :, 1] = ys[i].real, ys[i].imag
            nv[b, :n] = np.maximum(nvs[i], 1e-9)
            mask[b, :n] = True
        with torch.inference_mode():
            d = self.device
            logits = self.model.decode(torch.from_numpy(y).to(d), torch.from_numpy(nv).to(d),
                                       torch.from_numpy(mask).to(d))
            pred = logits.argmax(-1).cpu().numpy()                              # (B, T)
        for b, i in enumerate(idx):
            out[i] = self.tokenizer.decode(pred[b, :ys[i].shape[0]])
        return out

    # ---------------------------------------------------------------- whole messages
    def encode_message(self, text: str) -> list[np.ndarray]:
        """A message of any length -> one symbol array per segment (in order)."""
        return self.encode(self.segments(text))

    def decode_message(self, symbols_list: Sequence[np.ndarray], noise_var_list: Sequence) -> str:
        """Segments' symbols (in segment-index order) -> the reassembled message (joined by spaces)."""
        return " ".join(t.strip() for t in self.decode(symbols_list, noise_var_list) if t.strip())

    def normalize(self, text: str) -> str:
        """What a clean channel returns for ``text`` (tokenizer normalization: NFC, lowercase)."""
        return self.tokenizer.decode(self.tokenizer.encode(clean_whitespace(_check_text(text, 0))))


def clean_whitespace(text: str) -> str:
    """Runs of whitespace (newlines, tabs, a file's trailing newline) -> one space, ends stripped:
    the tokenizer would otherwise spend a token on them, which decodes as junk ("tomorrow.in")."""
    return " ".join(text.split())


def _check_text(t, i: int) -> str:
    if not isinstance(t, str):
        raise ShapeError(f"texts[{i}] must be str, got {type(t).__name__}"
                         + ("; decode bytes to str first (e.g. .decode('utf-8', 'replace'))"
                            if isinstance(t, (bytes, bytearray)) else ""))
    return t
