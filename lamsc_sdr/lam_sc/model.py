"""The SC model with ASC: semantic encoder/decoder, channel encoder/decoder, mask network, and the
numpy-facing :class:`LamScCodec` that the link, the evaluation and the benchmark use.

Shapes for a 128x128 image (every block is fully convolutional, so training can use smaller crops):

* :class:`SemanticEncoder`: (B, 3, 128, 128) float in [0, 1] -> conv5 (valid) + ReLU + maxpool2 ->
  (B, 32, 62, 62) -> conv5 (valid) + maxpool2 -> features (B, 32, 29, 29): 26,912 values
  (the paper's example: 32x26x26 = 21,632).
* :class:`MaskNet` (ASC): features -> conv3 + ReLU -> conv3 + ReLU -> (B, 1, 29, 29) >= 0;
  the 0/1 mask is ``m > 0.5`` (straight-through gradient). A masked position's 32 values are not
  sent; the receiver fills them from unmasked neighbours (normalized 3x3 averaging) or, with none
  near, with the features of a black image.
* channel encoder (:class:`PositionMLP`): per-position MLP 32 -> 64 -> 32 reals = 16 complex
  symbols per sent position, normalized to unit average power over the sent symbols; channel
  decoder: the same shape, 32 -> 64 -> 32. Channel uses of an image = 16 x sent positions (plus the mask as side
  information, counted by the link and the evaluation).
* :class:`SemanticDecoder`: (B, 32, 29, 29) -> upsample2 + deconv5 + ReLU -> (B, 32, 62, 62) ->
  upsample2 + deconv5 + sigmoid -> (B, 3, 128, 128).
"""
from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..errors import CheckpointMismatchError, ConfigError, ShapeError
from . import SIZE

CHECKPOINT_DIR = Path(__file__).parent / "checkpoints"
DEFAULT_CHECKPOINT = CHECKPOINT_DIR / "lam_sc_128.pt"


@dataclass(frozen=True)
class ModelConfig:
    width: int = 32            # channels of both encoder blocks
    features: int = 32         # feature channels per position (= 2 x symbols per position)
    hidden: int = 64           # channel coder MLP width
    mask_hidden: int = 16
    threshold: float = 0.5     # mask = net output > threshold (SEND_ALL: every position)
    depth: int = 0             # extra conv3 + ReLU layers inside encoder block 2 and decoder block 1

    @property
    def symbols_per_position(self) -> int:
        return self.features // 2


def feature_side(size: int = SIZE) -> int:
    """Spatial side of the features for a ``size`` x ``size`` input: ((size-4)/2 - 4)/2."""
    s = ((size - 4) // 2 - 4) // 2
    if ((s * 2 + 4) * 2 + 4) != size:
        raise ShapeError(f"image side {size} does not invert exactly through the encoder and decoder (e.g. 128 or 64 do)")
    return s


class SemanticEncoder(nn.Module):
    """x (B, 3, S, S) in [0, 1] -> f (B, features, s, s), s = feature_side(S)."""

    def __init__(self, c: ModelConfig):
        super().__init__()
        self.conv1 = nn.Conv2d(3, c.width, 5)
        self.extra = _extra(c)
        self.conv2 = nn.Conv2d(c.width, c.features, 5)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x - 0.5)), 2)      # (B, W, S/2-2, ...)
        return F.max_pool2d(self.conv2(self.extra(x)), 2)    # (B, C, s, s)


def _extra(c: ModelConfig) -> nn.Sequential:
    """``c.depth`` x (conv3 + ReLU) at width ``c.width`` (empty for depth 0, so checkpoints of the
    two-layer model load unchanged). Replicate padding keeps a black area's features exactly
    those of a black image up to the frame's edge; each layer widens the receptive field by 4 px."""
    return nn.Sequential(*[m for _ in range(c.depth)
                           for m in (nn.Conv2d(c.width, c.width, 3, padding=1, padding_mode="replicate"), nn.ReLU())])


class SemanticDecoder(nn.Module):
    """f (B, features, s, s) -> x (B, 3, S, S) in [0, 1]."""

    def __init__(self, c: ModelConfig):
        super().__init__()
        self.deconv1 = nn.ConvTranspose2d(c.features, c.width, 5)
        self.extra = _extra(c)
        self.deconv2 = nn.ConvTranspose2d(c.width, 3, 5)

    def forward(self, f):
        x = self.extra(F.relu(self.deconv1(F.interpolate(f, scale_factor=2, mode="nearest"))))
        return torch.sigmoid(self.deconv2(F.interpolate(x, scale_factor=2, mode="nearest")))


class PositionMLP(nn.Module):
    """The channel encoder and the channel decoder: a per-position MLP (1x1 convs) C -> hidden -> C.

    Encoder: f (B, C, s, s) -> z (B, C, s, s) reals, channels [0:C/2] real and [C/2:C] imaginary
    parts of C/2 complex symbols per position. Decoder: received y (B, C, s, s) -> f_hat."""

    def __init__(self, c: ModelConfig):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(c.features, c.hidden, 1), nn.ReLU(), nn.Conv2d(c.hidden, c.features, 1))

    def forward(self, x):
        return self.net(x)


class MaskNet(nn.Module):
    """ASC. f (B, C, s, s) -> m (B, 1, s, s) >= 0 (two conv layers, each followed by ReLU).
    ``pre(f)`` is the second layer before its ReLU (for the training gradient)."""

    def __init__(self, c: ModelConfig):
        super().__init__()
        self.conv1 = nn.Conv2d(c.features, c.mask_hidden, 3, padding=1)
        self.conv2 = nn.Conv2d(c.mask_hidden, 1, 3, padding=1)
        nn.init.constant_(self.conv2.bias, 1.0)               # start by sending everything

    def pre(self, f):
        return self.conv2(F.relu(self.conv1(f)))

    def forward(self, f):
        return F.relu(self.pre(f))


SEND_ALL = -1e9                 # a threshold below every score: the mask sends every position


def hard_mask(pre, threshold: float, temperature: float = 1.0):
    """0/1 mask ``pre > threshold`` (B, 1, s, s) float: the same as ``relu(pre) > threshold`` for
    thresholds >= 0; a negative threshold also ranks the positions the ReLU would tie at 0.
    Backward: straight-through with a sigmoid surrogate around the threshold, so that a position
    switched off (ReLU at 0) still
    receives a gradient and the mask cannot die."""
    hard = (pre > threshold).to(pre.dtype)
    soft = torch.sigmoid((pre - max(threshold, 0.0)) / temperature)
    return hard + soft - soft.detach()


def normalize_power(z, mask):
    """Unit average power over the sent symbols. z (B, C, s, s), mask (B, 1, s, s) -> z scaled."""
    half = z.shape[1] // 2
    p = ((z[:, :half] ** 2 + z[:, half:] ** 2) * mask).sum((1, 2, 3)) / (mask.sum((1, 2, 3)) * half).clamp(min=1)
    return z / p.clamp(min=1e-12).sqrt()[:, None, None, None]


def sent_scale(z, mask):
    """RMS symbol amplitude of the sent positions of ``z`` (normalized over all positions):
    (B,). The sender divides the sent symbols by it (unit power on air) and sends it as side
    information; the receiver multiplies it back, so the channel decoder sees SC's scale."""
    half = z.shape[1] // 2
    p = ((z[:, :half] ** 2 + z[:, half:] ** 2) * mask).sum((1, 2, 3)) / (mask.sum((1, 2, 3)) * half).clamp(min=1)
    return p.clamp(min=1e-12).sqrt()


def awgn(z, mask, snr_db, gen=None, scale=None):
    """y = z + n on the sent positions, n ~ CN(0, 10^(-snr/10)) (Es = 1) times ``scale`` (B,)
    (the receiver's rescaling of unit-power symbols, :func:`sent_scale`); unsent positions stay 0.
    z (B, C, s, s); mask (B, 1, s, s); snr_db (B,) tensor."""
    n0 = 10 ** (-snr_db / 10)
    std = (n0 / 2).sqrt() if scale is None else (n0 / 2).sqrt() * scale
    noise = torch.randn(z.shape, generator=gen, dtype=z.dtype, device=z.device) * std[:, None, None, None]
    return (z + noise) * mask


def fill_masked(f, mask, black, iters: int = 3):
    """Receiver-side fill of unsent positions: normalized 3x3 averaging of known neighbours,
    ``iters`` times; what stays unknown gets ``black`` (C,). f (B, C, s, s), mask (B, 1, s, s)."""
    known = mask
    out = f * mask
    k = torch.ones(1, 1, 3, 3, dtype=f.dtype, device=f.device)
    for _ in range(iters):
        num = F.conv2d(out, k.expand(f.shape[1], 1, 3, 3), padding=1, groups=f.shape[1])
        den = F.conv2d(known, k, padding=1)
        avg = num / den.clamp(min=1e-6)
        grow = (den > 0).to(f.dtype)
        out = out * known + avg * grow * (1 - known)
        known = torch.maximum(known, grow)
    return out * known + black.view(1, -1, 1, 1) * (1 - known)


class LamScModel(nn.Module):
    """All trainable parts. ``forward(x, snr_db, use_mask)`` -> (x_hat, mask) for training."""

    def __init__(self, c: ModelConfig = ModelConfig()):
        super().__init__()
        self.cfg = c
        self.enc, self.dec = SemanticEncoder(c), SemanticDecoder(c)
        self.cenc, self.cdec = PositionMLP(c), PositionMLP(c)          # channel encoder, decoder
        self.masknet = MaskNet(c)
        self.register_buffer("black", torch.zeros(c.features))

    def mask_of(self, f, use_mask: bool, threshold: float | None = None):
        if not use_mask:
            return torch.ones_like(f[:, :1])
        return hard_mask(self.masknet.pre(f), self.cfg.threshold if threshold is None else threshold)

    def forward(self, x, snr_db, use_mask: bool = False, gen=None, region=None, drop=None):
        """x (B, 3, S, S) in [0, 1]; snr_db (B,) -> x_hat (B, 3, S, S), mask (B, 1, s, s) of the
        sent positions. ``drop`` (B, 1, s, s) 0/1: further positions not sent (random masks in
        training). ``region`` (B, 1, S, S) 0/1: the semantic-aware image's selected pixels;
        positions whose receptive field misses it are not sent and are filled with the exact
        features of black (the receiver knows them from the side information)."""
        f = self.enc(x)
        mask = self.mask_of(f, use_mask)
        if drop is not None:
            mask = mask * drop
        sup = None
        if region is not None:
            sup = support_of(region, self.cfg.depth)
            mask = mask * sup
        z = normalize_power(self.cenc(f), torch.ones_like(mask))
        masked = use_mask or drop is not None or region is not None
        y = awgn(z, mask, snr_db, gen, scale=sent_scale(z, mask) if masked else None)
        f_hat = self.cdec(y)
        if sup is not None:
            known = mask + (1 - sup)
            f_hat = fill_masked(f_hat * mask + self.black.view(1, -1, 1, 1) * (1 - sup), known, self.black)
        elif use_mask or drop is not None:
            f_hat = fill_masked(f_hat, mask, self.black)
        return self.dec(f_hat), mask

    @torch.no_grad()
    def set_black(self, size: int = 64) -> None:
        """The fill for positions with no known neighbour: features of an all-black image."""
        f = self.enc(torch.zeros(1, 3, size, size, device=self.black.device))
        s = f.shape[-1] // 2
        self.black.copy_(f[0, :, s, s])


def support_of(region, depth: int = 0):
    """region (B, 1, S, S) 0/1 float -> (B, 1, s, s): 1 where a feature position's receptive
    field ((16 + 4 depth) px square, stride 4) touches the region."""
    if depth:
        region = F.pad(region, (2 * depth,) * 4)
    return F.max_pool2d(region, 16 + 4 * depth, 4)


def receptive_support(region: np.ndarray, depth: int = 0):
    """(S, S) bool -> (s, s) float tensor: 1 where a feature position's receptive field touches
    the region (see :func:`support_of`)."""
    r = torch.from_numpy(np.ascontiguousarray(region, dtype=np.float32))[None, None]
    return support_of(r, depth)[0, 0]


def support_map(region: np.ndarray, depth: int = 0) -> np.ndarray:
    """(S, S) bool selected region -> (s, s) bool: positions whose receptive field touches it."""
    return receptive_support(region, depth).numpy() > 0


def mask_to_bits(mask: np.ndarray, support: np.ndarray | None = None, scale: float | None = None) -> np.ndarray:
    """Side information: the (s, s) bool mask (preceded by the (s, s) support map for a
    semantic-aware image), packed and zlib-compressed, then the symbol scale as 16 float16 bits
    when given. Output (n,) uint8 bits."""
    planes = [np.asarray(mask, bool).ravel()]
    if support is not None:
        planes.insert(0, np.asarray(support, bool).ravel())
    raw = zlib.compress(np.packbits(np.concatenate(planes)).tobytes(), 9)
    bits = np.unpackbits(np.frombuffer(raw, np.uint8))
    if scale is None:
        return bits
    return np.concatenate([bits, np.unpackbits(np.frombuffer(np.float16(scale).tobytes(), np.uint8))])


def bits_to_mask(bits: np.ndarray, side: int, with_support: bool = False, with_scale: bool = False):
    """Inverse of :func:`mask_to_bits` (ShapeError when the bits do not decode): the (s, s) mask,
    or (support, mask) with ``with_support``; plus the scale last with ``with_scale``."""
    bits = np.asarray(bits, np.uint8)
    scale = None
    if with_scale:
        scale = float(np.frombuffer(np.packbits(bits[-16:]).tobytes(), np.float16)[0])
        bits = bits[:-16]
    try:
        raw = zlib.decompress(np.packbits(bits).tobytes())
    except zlib.error as err:
        raise ShapeError(f"mask side information does not decode: {err}") from err
    n = side * side * (2 if with_support else 1)
    m = np.unpackbits(np.frombuffer(raw, np.uint8))[:n]
    if m.size != n:
        raise ShapeError(f"mask side information holds {m.size} bits, expected {n}")
    planes = m.reshape(-1, side, side).astype(bool)
    out = (planes[0], planes[1]) if with_support else (planes[0],)
    return (*out, scale) if with_scale else (out if with_support else out[0])


class LamScCodec:
    """Numpy face of the model (inference only, CPU).

    ``encode(img, use_mask)`` -> (symbols (n,) complex64 unit average power, mask (s, s) bool)
    (``with_scale=True``: and the symbol scale, float);
    ``decode(symbols, mask, support=None, scale=None)`` -> (S, S, 3) uint8. ``img``: (S, S, 3) uint8.
    """

    def __init__(self, model: LamScModel, meta: dict | None = None, path: str | None = None):
        self.model = model.eval()
        self.meta = meta or {}
        self.path = path

    @property
    def cfg(self) -> ModelConfig:
        return self.model.cfg

    @staticmethod
    def to_tensor(img: np.ndarray):
        a = np.asarray(img)
        if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8:
            raise ShapeError(f"image must be (S, S, 3) uint8, got {a.shape} {a.dtype}")
        return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None].float() / 255.0

    @torch.inference_mode()
    def encode(self, img: np.ndarray, use_mask: bool = False, threshold: float | None = None,
               support: np.ndarray | None = None, with_scale: bool = False):
        """``support`` (S, S) bool: the semantic-aware image's selected region; positions whose
        receptive field holds none of it carry only black and are not sent either.
        ``with_scale``: also return the float16-exact :func:`sent_scale` (1.0 when every position
        is sent), which ``decode(..., scale=)`` needs to restore SC's symbol scale."""
        x = self.to_tensor(img)
        feature_side(x.shape[-1])
        f = self.model.enc(x)
        mask = (self.model.mask_of(f, use_mask, threshold) > 0.5).float()
        if support is not None:
            mask = mask * receptive_support(support, self.cfg.depth)[None, None]
        z = normalize_power(self.model.cenc(f), torch.ones_like(mask))       # SC's normalization
        a = float(np.float16(sent_scale(z, mask)[0])) if not bool(mask.all()) else 1.0
        z = z[0] / a                                                        # (C, s, s), unit power sent
        half = z.shape[0] // 2
        sel = mask[0, 0].bool()
        sym = torch.complex(z[:half][:, sel], z[half:][:, sel]).T.reshape(-1)  # position-major
        out = sym.numpy().astype(np.complex64), sel.numpy()
        return (*out, a) if with_scale else out

    @torch.inference_mode()
    def decode(self, symbols: np.ndarray, mask: np.ndarray, size: int = SIZE, fill: str = "neighbours",
               support: np.ndarray | None = None, scale: float | None = None) -> np.ndarray:
        """``fill`` for unsent positions: ``neighbours`` (whole images) or ``black`` (all unsent
        positions black). ``support`` (s, s) bool (a semantic-aware image's :func:`support_map`,
        sent as side information): unsent positions outside it get the exact features of black,
        unsent ones inside it (dropped by the ASC mask) the neighbour fill. ``scale``: the
        sender's :func:`sent_scale` (received symbols are multiplied by it)."""
        side = feature_side(size)
        mask = np.asarray(mask, bool)
        half = self.cfg.symbols_per_position
        if mask.shape != (side, side):
            raise ShapeError(f"mask must be ({side}, {side}), got {mask.shape}")
        if np.asarray(symbols).size != int(mask.sum()) * half:
            raise ShapeError(f"{np.asarray(symbols).size} symbols for {int(mask.sum())} sent positions "
                             f"x {half} symbols")
        s = torch.from_numpy(np.asarray(symbols, np.complex64) * np.float32(scale or 1.0)).reshape(-1, half).T
        y = torch.zeros(1, 2 * half, side, side)
        m = torch.from_numpy(mask)
        y[0, :half][:, m] = s.real
        y[0, half:][:, m] = s.imag
        mt = m.float()[None, None]
        f_hat = self.model.cdec(y)
        black = self.model.black.view(1, -1, 1, 1)
        if support is not None:
            st = torch.from_numpy(np.asarray(support, bool)).float()[None, None]
            f_hat = fill_masked(f_hat * mt + black * (1 - st), torch.maximum(mt, 1 - st), self.model.black)
        elif fill == "black":
            f_hat = f_hat * mt + black * (1 - mt)
        elif not mask.all():
            f_hat = fill_masked(f_hat, mt, self.model.black)
        x = self.model.dec(f_hat)[0].permute(1, 2, 0).numpy()
        return np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)

    def save(self, path: str | Path, meta: dict, extra: dict | None = None) -> None:
        """Checkpoint: format tag, model config, weights, ``meta`` (training config, command,
        history), ``config`` (the resolved training + model config), ``versions``, and ``extra``
        (the ASI's weights); then the SHA-256 sidecar (``checkpoints.sign``)."""
        from ..checkpoints import sign
        from ..provenance import provenance
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        prov = provenance()
        ck = {"format": "lamsc-lam-sc-1", "model_config": asdict(self.cfg), "state_dict": self.model.state_dict(),
              "meta": {**meta, "provenance": prov}, "versions": prov["versions"],
              "config": {"train": meta.get("train_config", {}), "model": asdict(self.cfg)}, **(extra or {})}
        torch.save(ck, path)
        sign(path, checkpoint=ck)

    @classmethod
    def load(cls, path: str | Path | None = None) -> "LamScCodec":
        from ..checkpoints import load_torch
        p = Path(path) if path else DEFAULT_CHECKPOINT
        if not p.is_file():
            raise ConfigError(f"LAM-SC checkpoint not found: {p} (train one: lamsc train lam-sc)")
        ck = load_torch(p, "LAM-SC")               # SHA-256 sidecar verified, weights_only=True
        if not isinstance(ck, dict) or ck.get("format") != "lamsc-lam-sc-1":
            raise CheckpointMismatchError(f"{p}: not a LAM-SC checkpoint (format {ck.get('format') if isinstance(ck, dict) else None!r})")
        try:
            model = LamScModel(ModelConfig(**ck["model_config"]))
            model.load_state_dict(ck["state_dict"])
        except (TypeError, RuntimeError) as err:
            raise CheckpointMismatchError(f"{p}: weights do not fit the model: {str(err)[:200]}") from err
        codec = cls(model, ck.get("meta", {}), str(p))
        codec.asi_state = {k: ck[k] for k in ("asi_config", "asi_state_dict") if k in ck}
        return codec

    def selector(self):
        """The ASI trained with this checkpoint (ConfigError when it has none)."""
        from .asi import AsiSelector
        if not getattr(self, "asi_state", None):
            raise ConfigError(f"{self.path}: this checkpoint has no ASI weights")
        return AsiSelector.from_state(self.asi_state)
