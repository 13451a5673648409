"""CGE: the conditional-GAN channel estimator of LAM-MSC (generator, discriminator, estimator).

Complex data are images with real and imaginary parts stacked as *channels* (``torch.stack`` on a
new channel axis; never a reshape that interleaves them).

Conditioning and residual learning. Every slot is first estimated by the *adaptive* LMMSE
(:class:`~lamsc_sdr.estimation.adaptive.AdaptiveLMMSEEstimator`: the power-delay profile and Doppler
of the link fitted to the pilots of many slots -- what a genie knows, estimated). The generator
learns only the correction, in units of the slot's noise level::

    h_hat / s = h_est / s + sigma * G(x),     sigma = sqrt(N0) / s

so its output is O(1) at every SNR, and an untrained generator (output layer starts at zero) is the
adaptive LMMSE itself.

Generator input, per slot (8, T, F), built by :func:`make_inputs`:
    0-1  adaptive LMMSE estimate / s                       (real, imag)
    2-3  received grid / s                                 (real, imag)
    4-5  pilot innovation (h_ls - h_est) / sqrt(N0) at the pilots, 0 elsewhere  (real, imag)
    6    pilot mask                                        (0/1)
    7    log10(N0 / s^2) / 3                               (constant plane; sigma = 10**(1.5 x))
    8-11 optional (checkpoint model ``n_in: 12``): the conditioning's fitted statistics, the
         frequency correlation r_f(column lag) and time correlation r_t(row lag) (real, imag)
with ``s = sqrt(mean |h_ls|^2 over the pilots)`` per slot (the pilot power), so the network is
blind to the absolute gain (a capture's receive gain).

Architecture (paper: three down-sampling conv blocks, two up-sampling deconv blocks, an output
layer, LeakyReLU), U-Net skips; the 8 x 52 grid is zero-padded to a multiple of 8 (8 x 56)::

    (8, 8, 56) -conv s2-> (w, 4, 28) -conv s2-> (2w, 2, 14) -conv s2-> (4w, 1, 7) ++global mean
    -deconv s2-> (2w, 2, 14) ++skip -deconv s2-> (w, 4, 28) ++skip -output deconv s2-> (2, 8, 56)

Inference runs the generator through ONNX Runtime on CPU when it is installed (the exported graph
is stored in the checkpoint; ``backend="auto"``), else through PyTorch (CPU or CUDA).

Discriminator: four conv layers with ReLU on (condition, normalised correction) = (8 + 2, T, F),
the last one giving a patch of logits; trained with BCE-with-logits (the only sigmoid is inside
the loss).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..devices import resolve_device
from ..errors import CheckpointMismatchError, ConfigError
from ..phy.config import FrameConfig
from ..phy.pilots import PilotPattern
from .base import ChannelEstimator
from .classical import ls_at_pilots

N_IN = 8
N_IN_STATS = 12          # + the fitted statistics (r_f, r_t) as planes
CHECKPOINT_FORMAT = "lamsc-cge-3"
DEFAULT_CHECKPOINT = Path(__file__).parent / "checkpoints" / "cge_default.pt"


def _torch():
    import torch
    return torch


def build_models(width: int = 8, slope: float = 0.2, n_in: int = N_IN):
    """Generator and discriminator modules (torch is imported here, not at module import)."""
    torch = _torch()
    nn = torch.nn

    class Generator(nn.Module):
        """x: (B, 8, T, F) float32 -> (B, 2, T, F) float32: the normalised correction ``G(x)``;
        the normalised estimate is ``x[:, 0:2] + sigma * G(x)`` (:meth:`estimate`)."""

        def __init__(self):
            super().__init__()
            w = width
            act = lambda: nn.LeakyReLU(slope)  # noqa: E731
            k, pd = (3, 5), (1, 2)                          # wider in frequency: receptive field
            self.d1 = nn.Sequential(nn.Conv2d(n_in, w, k, 2, pd), act())
            self.d2 = nn.Sequential(nn.Conv2d(w, 2 * w, k, 2, pd), nn.BatchNorm2d(2 * w), act())
            self.d3 = nn.Sequential(nn.Conv2d(2 * w, 4 * w, k, 2, pd), nn.BatchNorm2d(4 * w), act())
            # bottleneck + its global mean (the whole slot's context, what LMMSE averages over)
            self.u1 = nn.Sequential(nn.ConvTranspose2d(8 * w, 2 * w, 4, 2, 1), nn.BatchNorm2d(2 * w), act())
            self.u2 = nn.Sequential(nn.ConvTranspose2d(4 * w, w, 4, 2, 1), nn.BatchNorm2d(w), act())
            self.out = nn.ConvTranspose2d(2 * w, 2, 4, 2, 1)
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

        @staticmethod
        def sigma(x):
            """Per-slot noise std relative to the pilot scale, from input plane 7. (B, 1, 1, 1)."""
            return torch.pow(10.0, 1.5 * x[:, 7:8, :1, :1])

        def estimate(self, x):
            """x (B, 8, T, F) -> normalised channel estimate (B, 2, T, F)."""
            return x[:, 0:2] + self.sigma(x) * self(x)

        def forward(self, x):
            t, f = x.shape[-2:]
            tp, fp = -t % 8, -f % 8
            xp = nn.functional.pad(x, (0, fp, 0, tp))        # (B, 8, T', F') multiples of 8
            a = self.d1(xp)                                   # (B, w, T'/2, F'/2)
            b = self.d2(a)                                    # (B, 2w, T'/4, F'/4)
            c = self.d3(b)                                    # (B, 4w, T'/8, F'/8)
            c = torch.cat([c, c.mean(dim=(2, 3), keepdim=True).expand_as(c)], 1)   # (B, 8w, T'/8, F'/8)
            u = self.u1(c)                                    # (B, 2w, T'/4, F'/4)
            u = self.u2(torch.cat([u, b], 1))                 # (B, w, T'/2, F'/2)
            return self.out(torch.cat([u, a], 1))[..., :t, :f]  # (B, 2, T, F)

    class Discriminator(nn.Module):
        """(cond (B, 8, T, F), correction (B, 2, T, F)) -> logits (B, 1, T/4, F/4) (no sigmoid)."""

        def __init__(self):
            super().__init__()
            w = width
            self.net = nn.Sequential(
                nn.Conv2d(n_in + 2, w, 3, 1, 1), nn.ReLU(),
                nn.Conv2d(w, 2 * w, 3, 2, 1), nn.ReLU(),
                nn.Conv2d(2 * w, 2 * w, 3, 2, 1), nn.ReLU(),
                nn.Conv2d(2 * w, 1, 3, 1, 1))

        def forward(self, cond, h):
            return self.net(torch.cat([cond, h], 1))

    return Generator(), Discriminator()


def complex_to_channels(z):
    """(..., T, F) complex -> (..., 2, T, F) real: real and imaginary parts as channels."""
    torch = _torch()
    if isinstance(z, np.ndarray):
        return np.stack([z.real, z.imag], axis=-3).astype(np.float32)
    return torch.stack([z.real, z.imag], dim=-3)


def channels_to_complex(x):
    """(..., 2, T, F) real -> (..., T, F) complex."""
    if isinstance(x, np.ndarray):
        return (x[..., 0, :, :] + 1j * x[..., 1, :, :]).astype(np.complex64)
    return _torch().complex(x[..., 0, :, :], x[..., 1, :, :])


def make_conditioning(pilots: PilotPattern, params: dict | None = None, track: bool = True):
    """The conditioning estimator: adaptive LMMSE (``params``: its tracker settings from the checkpoint;
    ``track=False``: statistics from each call alone, as in training batches)."""
    from .adaptive import AdaptiveLMMSEEstimator
    return AdaptiveLMMSEEstimator(pilots, track=track, **dict(params or {}))


def make_inputs(y: np.ndarray, pilots: PilotPattern, noise_var, cond, n_in: int = N_IN):
    """Generator inputs and scales.

    Input: y (B, T, F) complex64; noise_var float or (B,); cond: the conditioning estimator
    (:func:`make_conditioning`); ``n_in``: 8, or 12 to add the fitted statistics as planes
    (:data:`N_IN_STATS`: 8-9 the fitted frequency correlation ``r_f`` at subcarrier lag = column,
    10-11 the time correlation ``r_t`` at symbol lag = row, real and imaginary parts).
    Output: x (B, n_in, T, F) float32, h_est (B, T, F) complex64 (adaptive LMMSE, unnormalised),
    s (B,) float32 (per-slot pilot scale), sigma (B,) float32 (sqrt(N0) / s)."""
    b = y.shape[0]
    if n_in not in (N_IN, N_IN_STATS):
        raise ConfigError(f"CGE generator inputs: expected {N_IN} or {N_IN_STATS} planes, got {n_in}")
    nv = np.maximum(np.broadcast_to(np.asarray(noise_var, np.float64), (b,)), 1e-12)
    t, f = pilots.pilot_index
    h_ls = ls_at_pilots(y, pilots)                                           # (B, P) complex64
    h_est, _, _ = cond.from_pilots(h_ls, nv, error=False)                   # (B, N) complex64
    h_est = h_est.reshape(y.shape)
    p_pow = np.einsum("bp,bp->b", h_ls.real, h_ls.real, dtype=np.float64)
    p_pow += np.einsum("bp,bp->b", h_ls.imag, h_ls.imag, dtype=np.float64)
    s = np.sqrt(np.maximum(p_pow / h_ls.shape[1], 1e-12)).astype(np.float32)   # (B,)
    ratio = np.clip(nv / s.astype(np.float64) ** 2, 1e-6, 1e3)
    x = np.empty((b, n_in, *pilots.grid.shape), np.float32)
    inv_s = (1.0 / s)[:, None, None]
    np.multiply(h_est.real, inv_s, out=x[:, 0])
    np.multiply(h_est.imag, inv_s, out=x[:, 1])
    np.multiply(y.real, inv_s, out=x[:, 2])
    np.multiply(y.imag, inv_s, out=x[:, 3])
    inno = (h_ls - h_est[:, t, f]) * (1.0 / np.sqrt(nv)).astype(np.float32)[:, None]   # (B, P) ~ O(1)
    x[:, 4:6] = 0.0
    x[:, 4, t, f] = inno.real
    x[:, 5, t, f] = inno.imag
    x[:, 6] = pilots.mask
    x[:, 7] = (np.log10(ratio) / 3.0)[:, None, None]
    if n_in == N_IN_STATS:
        r_f, r_t = cond.tracker.correlations                                  # (F,), (T,)
        x[:, 8] = r_f.real[None, None, :]
        x[:, 9] = r_f.imag[None, None, :]
        x[:, 10] = r_t.real[None, :, None]
        x[:, 11] = r_t.imag[None, :, None]
    return x, h_est, s, np.sqrt(ratio).astype(np.float32)


def pilot_signature(pilots: PilotPattern) -> dict:
    """What a checkpoint must match: grid numerology and the pilot pattern."""
    g = pilots.grid
    return {"fft_size": g.fft_size, "cp_len": g.cp_len, "n_symbols": g.n_symbols, "guard_left": g.guard_left,
            "guard_right": g.guard_right, "dc_null": g.dc_null, "kind": pilots.kind,
            "time_spacing": pilots.time_spacing, "freq_spacing": pilots.freq_spacing, "shift": pilots.shift,
            "offset": pilots.offset}


def load_checkpoint(path: str | Path) -> dict:
    """Load a CGE checkpoint safely (``weights_only=True``); clear errors for missing/corrupt files."""
    torch = _torch()
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"estimator.checkpoint: CGE checkpoint not found: {path}")
    from ..checkpoints import load_torch
    ck = load_torch(path, "CGE")      # SHA-256 sidecar verified, weights_only=True
    if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointMismatchError(f"{path}: not a CGE checkpoint (format {CHECKPOINT_FORMAT!r} expected)")
    return ck


def check_signature(ck: dict, pilots: PilotPattern, where: str) -> None:
    want = pilot_signature(pilots)
    have = ck.get("signature", {})
    diff = {k: (have.get(k), v) for k, v in want.items() if have.get(k) != v}
    if diff:
        detail = ", ".join(f"{k}: checkpoint {a!r} vs frame {b!r}" for k, (a, b) in diff.items())
        raise CheckpointMismatchError(f"{where}: CGE checkpoint was trained for another frame layout ({detail}); "
                                      "retrain with `lamsc train cge` for this frame, or pick another estimator "
                                      "(--set estimator.kind=lmmse)")


def export_onnx(gen, grid_shape, n_in: int = N_IN) -> bytes | None:
    """The generator ``G`` as an ONNX graph (dynamic batch), or None when ``onnx`` is missing."""
    try:
        import io

        import onnx  # noqa: F401  (the exporter needs it)
    except ImportError:
        return None
    torch = _torch()
    import copy
    g = copy.deepcopy(gen).to("cpu").eval()
    f = io.BytesIO()
    x = torch.zeros(2, n_in, *grid_shape)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(g, (x,), f, input_names=["x"], output_names=["g"], dynamic_axes={"x": {0: "batch"}},
                          dynamo=False, opset_version=17)
    return f.getvalue()


def onnx_session(model: bytes, threads: int = 1):
    """An ONNX Runtime CPU session (``threads`` intra-op threads) or None without onnxruntime."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


class CGANEstimator(ChannelEstimator):
    """The CGAN generator as a channel estimator (batched), on the adaptive-LMMSE conditioning.

    Input:  y (..., T, F) complex64, pilots (must match the checkpoint's), noise_var float or (...,).
    Output: h_hat (..., T, F) complex64; err_var (..., T, F) float32: the validation NMSE of the
    checkpoint at the nearest SNR (interpolated in dB) times the slot's channel power estimate.

    ``backend``: ``auto`` (ONNX Runtime on CPU when available, else PyTorch), ``onnx`` or ``torch``;
    ``device``: ``auto`` | ``cpu`` | ``cuda`` for the PyTorch path (``auto`` with a GPU uses PyTorch
    on CUDA). The conditioning statistics are tracked across calls (one link); ``reset()`` forgets them.
    """

    name = "cgan"

    def __init__(self, checkpoint: dict, pilots: PilotPattern, where: str = "<memory>", batch: int = 1024,
                 backend: str = "auto", device: str = "auto"):
        torch = _torch()
        check_signature(checkpoint, pilots, where)
        if backend not in ("auto", "onnx", "torch"):
            raise ConfigError(f"estimator.backend: expected auto, onnx or torch, got {backend!r}")
        self.pilots = pilots
        self.checkpoint = checkpoint
        model = dict(checkpoint.get("model", {}))
        self._cond = make_conditioning(pilots, model.pop("conditioning", None))
        self.device = resolve_device(device)
        self.gen, _ = build_models(**model)
        self.n_in = int(model.get("n_in", N_IN))
        try:
            self.gen.load_state_dict(checkpoint["generator"])
        except (KeyError, RuntimeError, TypeError) as err:
            raise CheckpointMismatchError(f"{where}: generator weights do not fit the model ({err})") from err
        self.gen.eval().to(self.device)
        self._session = None
        if backend != "torch" and self.device == "cpu":
            onnx_bytes = checkpoint.get("onnx") or export_onnx(self.gen, pilots.grid.shape, self.n_in)
            self._session = onnx_session(onnx_bytes) if onnx_bytes else None
            if self._session is None and backend == "onnx":
                raise ConfigError("estimator.backend onnx: onnxruntime (and onnx to export) are not installed")
        self.backend = "onnx" if self._session is not None else "torch"
        self._gain = checkpoint.get("gain")                # correction gain per slot SNR (None: 1)
        val = checkpoint.get("validation", {})
        self._snr = np.asarray(val.get("snr_db", [0.0, 30.0]), float)
        self._nmse = np.asarray(val.get("nmse", [1.0, 1e-3]), float)
        self.batch = batch
        self._torch = torch

    @classmethod
    def from_checkpoint(cls, path: str | Path | None, frame: FrameConfig, **kw) -> "CGANEstimator":
        path = Path(path) if path else DEFAULT_CHECKPOINT
        return cls(load_checkpoint(path), frame.pilot_pattern, where=str(path), **kw)

    def reset(self) -> None:
        """Forget the tracked channel statistics (a new link)."""
        self._cond.reset()

    def correction(self, x: np.ndarray) -> np.ndarray:
        """``G(x)``: x (B, 8, T, F) float32 -> (B, 2, T, F) float32, on the chosen backend."""
        if self._session is not None:
            return self._session.run(None, {"x": x})[0]
        torch = self._torch
        with torch.inference_mode():
            return self.gen(torch.from_numpy(x).to(self.device)).float().cpu().numpy()

    def estimate(self, y, pilots, noise_var):
        if pilots != self.pilots:
            check_signature(self.checkpoint, pilots, "cgan")
            raise CheckpointMismatchError("cgan: built for another pilot pattern")
        lead = y.shape[:-2]
        yb = y.reshape(-1, *pilots.grid.shape)
        nv = np.broadcast_to(np.asarray(noise_var, np.float64), lead).reshape(-1)
        out = np.empty(yb.shape, np.complex64)
        scales = np.empty(yb.shape[0], np.float32)
        for i in range(0, yb.shape[0], self.batch):
            sl = slice(i, i + self.batch)
            x, h_est, s, sigma = make_inputs(yb[sl], pilots, nv[sl], self._cond, self.n_in)
            g = self.correction(x)                                               # (b, 2, T, F) noise units
            k = (gain_at(self._gain, -20 * np.log10(sigma)) * sigma * s)[:, None, None]   # (b, 1, 1)
            o = out[sl]
            o.real = g[:, 0]
            o.imag = g[:, 1]
            o *= k
            o += h_est                                      # h_est + gain * sqrt(N0) * G(x)
            scales[sl] = s
        # error variance: validation NMSE at this SNR x channel power (s^2 - N0 estimates it)
        snr = 10 * np.log10(np.maximum(scales.astype(float) ** 2 - nv, 1e-12) / np.maximum(nv, 1e-12))
        nmse = 10 ** np.interp(snr, self._snr, np.log10(np.maximum(self._nmse, 1e-12)))
        ev = (nmse * np.maximum(scales.astype(float) ** 2 - nv, 0.0))[:, None, None]
        ev = np.broadcast_to(ev, yb.shape).astype(np.float32)
        return out.reshape(y.shape), ev.reshape(y.shape)


GAIN_SNR_DB = tuple(float(v) for v in range(-5, 45, 5))


def correction_gain(corr, resid, slot_snr_db) -> dict:
    """Least-squares gain of the generator's correction per slot-SNR bin (``GAIN_SNR_DB``, nearest
    centre), clipped to [0, 1]: ``g = Re<c, r> / |c|^2`` with ``c`` the correction and ``r`` the
    conditioning's error (true - conditioning). A bin without slots (or without correction) gets 0:
    there the estimator is its conditioning. Input: corr, resid (B, T, F) complex, slot_snr_db (B,).
    Output: {"snr_db": [...], "gain": [...]}."""
    centres = np.asarray(GAIN_SNR_DB)
    idx = np.argmin(np.abs(slot_snr_db[:, None] - centres[None, :]), axis=1)
    num = np.real(np.sum(np.conj(corr) * resid, axis=(1, 2)))
    den = np.sum(np.abs(corr) ** 2, axis=(1, 2))
    n_b = np.bincount(idx, num, centres.size)
    d_b = np.bincount(idx, den, centres.size)
    gain = np.where(d_b > 0, np.clip(n_b / np.maximum(d_b, 1e-30), 0.0, 1.0), 0.0)
    return {"snr_db": centres.tolist(), "gain": [float(g) for g in gain]}


def gain_at(gain: dict | None, slot_snr_db: np.ndarray) -> np.ndarray:
    """The correction gain at each slot's SNR (dB), interpolated; 1 without a table. (B,) float32."""
    if not gain:
        return np.ones(np.shape(slot_snr_db), np.float32)
    return np.interp(slot_snr_db, gain["snr_db"], gain["gain"]).astype(np.float32)


def param_count(module) -> int:
    return int(sum(p.numel() for p in module.parameters()))


def db(x: float) -> float:
    return 10 * math.log10(max(x, 1e-30))
