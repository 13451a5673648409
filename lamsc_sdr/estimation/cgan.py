"""CGE: the conditional-GAN channel estimator of LAM-MSC (generator, discriminator, estimator).

Complex data are images with real and imaginary parts stacked as *channels* (``torch.stack`` on a
new channel axis; never a reshape that interleaves them).

Conditioning and residual learning. Every slot is first estimated by a *robust* LMMSE
(:func:`~lamsc_sdr.estimation.classical.robust_lmmse`: uniform power-delay profile over the cyclic
prefix widened by the timing uncertainty, flat Doppler spectrum up to a stated maximum, the slot's
own N0 -- statistics a receiver knows without the true profile). The generator learns only the
correction, in units of the slot's noise level::

    h_hat / s = h_rob / s + sigma * G(x),     sigma = sqrt(N0) / s

so its output is O(1) at every SNR (no high-SNR floor: at 30 dB the correction is ~30 dB smaller
than the channel, and it is scaled, not learnt, to be so).

Generator input, per slot (C_in = 8 + 2 x bank size, T, F), built by :func:`make_inputs`:
    0-1  robust LMMSE estimate / s                         (real, imag)
    2-3  received grid / s                                 (real, imag)
    4-5  pilot innovation (h_ls - h_rob) / sqrt(N0) at the pilots, 0 elsewhere  (real, imag)
    6    pilot mask                                        (0/1)
    7    log10(N0 / s^2) / 3                               (constant plane; sigma = 10**(1.5 x))
    8+   (h_bank_i - h_rob) / sqrt(N0)                     (real, imag per bank member)
with ``s = sqrt(mean |h_ls|^2 over the pilots)`` per slot (the pilot power), so the network is
blind to the absolute gain (a capture's receive gain). The *bank* (:class:`Conditioning`) holds
LMMSE estimators for narrower uniform delay spans and Doppler spreads; given their differences
to the robust estimate in noise units, the generator mostly has to learn which candidate (or
blend) the pilots support -- a data-driven model-order selection -- plus what no candidate
captures. All LMMSE statistics are applied to the slot scaled to unit channel power (pilot power
minus N0), so the inputs are invariant to the receive gain.

Architecture (paper: three down-sampling conv blocks, two up-sampling deconv blocks, an output
layer, LeakyReLU), U-Net skips; the 8 x 52 grid is zero-padded to a multiple of 8 (8 x 56)::

    (8, 8, 56) -conv s2-> (w, 4, 28) -conv s2-> (2w, 2, 14) -conv s2-> (4w, 1, 7) ++global mean
    -deconv s2-> (2w, 2, 14) ++skip -deconv s2-> (w, 4, 28) ++skip -output deconv s2-> (2, 8, 56)

The down-sampling kernels are 3 x 5 (time x frequency) and the bottleneck is joined by its mean
over the slot, so every output element can draw on all pilots of the slot. The output layer
starts at zero: an untrained generator is the robust LMMSE.

Discriminator: four conv layers with ReLU on (condition, normalised correction) = (8 + 2, T, F),
the last one giving a patch of logits; trained with BCE-with-logits (the only sigmoid is inside
the loss).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import CheckpointMismatchError, ConfigError, ShapeError
from ..phy.config import FrameConfig
from ..phy.pilots import PilotPattern
from .base import ChannelEstimator

N_IN = 8
CHECKPOINT_FORMAT = "lamsc-cge-2"
ROBUST_DEFAULTS = {"max_doppler_hz": 300.0, "pre_samples": 2.0,
                   "bank_delays": [], "bank_dopplers": [], "bank_pre_samples": 1.0, "bank_exp_rms_ns": []}
DEFAULT_CHECKPOINT = Path(__file__).parent / "checkpoints" / "cge_default.pt"


def _torch():
    import torch
    return torch


def build_models(width: int = 32, slope: float = 0.2, n_in: int = N_IN, gate: bool = False):
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
            # output layer: the free correction (2) and, with ``gate``, per-element logits over
            # {robust, bank_1..bank_K}: a learnt, slot-adaptive blend of the LMMSE candidates
            self.k = (n_in - N_IN) // 2 if gate else 0
            self.out = nn.ConvTranspose2d(2 * w, 2 + (self.k + 1 if self.k else 0), 4, 2, 1)
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
            o = self.out(torch.cat([u, a], 1))[..., :t, :f]  # (B, 2 [+ K + 1], T, F)
            if not self.k:
                return o
            wts = torch.softmax(o[:, 2:], dim=1)[:, 1:]       # (B, K, T, F); weight 0 = robust itself
            cand = x[:, N_IN:N_IN + 2 * self.k].reshape(x.shape[0], self.k, 2, t, f)   # (B, K, 2, T, F)
            return o[:, :2] + (wts[:, :, None] * cand).sum(1)

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


class Conditioning:
    """The conditioning estimators: ``base`` (the robust LMMSE the output is a correction of) and a
    ``bank`` of LMMSE estimators for narrower uniform delay spans and exponential power-delay
    profiles, each at a few Doppler spreads (candidates the
    generator weighs, like a model-order selection). ``n_in``: the generator's input planes."""

    def __init__(self, grid, robust: dict | None = None):
        from .classical import robust_lmmse
        r = {**ROBUST_DEFAULTS, **(robust or {})}
        self.params = r
        self.base = robust_lmmse(grid, r["max_doppler_hz"], r["pre_samples"])
        from . import stats
        from .classical import LMMSEEstimator
        self.bank = [robust_lmmse(grid, fd, r["bank_pre_samples"], d)
                     for d in r["bank_delays"] for fd in r["bank_dopplers"]]
        # exponential power-delay profiles (rms in ns): the decaying shape uniform spans miss
        self.bank += [LMMSEEstimator(stats.robust_time_correlation(fd, grid),
                                     stats.frequency_correlation(f"exp:{rms:g}", grid), None, name=f"exp:{rms:g}")
                      for rms in r.get("bank_exp_rms_ns", []) for fd in r["bank_dopplers"]]
        self.n_in = N_IN + 2 * len(self.bank)


def make_robust(grid, robust: dict | None = None) -> Conditioning:
    """The conditioning estimators (robust LMMSE + bank) with the checkpoint's parameters."""
    return Conditioning(grid, robust)


def make_inputs(y: np.ndarray, pilots: PilotPattern, noise_var, robust=None):
    """Generator inputs and scales.

    Input: y (B, T, F) complex64; noise_var float or (B,); robust: the conditioning estimator
    (:func:`make_robust`; built with the defaults when None).
    Output: x (B, 8, T, F) float32, h_rob (B, T, F) complex64 (robust LMMSE, unnormalised),
    s (B,) float32 (per-slot pilot scale), sigma (B,) float32 (sqrt(N0) / s)."""
    robust = robust or make_robust(pilots.grid)
    b = y.shape[0]
    nv = np.broadcast_to(np.asarray(noise_var, np.float64), (b,))
    nv = np.maximum(nv, 1e-12)
    t, f = pilots.pilot_index
    h_ls = y[:, t, f] / pilots.values[t, f]                                  # (B, P)
    p_pow = np.mean(np.abs(h_ls) ** 2, axis=1)                               # (B,)
    s = np.sqrt(np.maximum(p_pow, 1e-12)).astype(np.float32)
    # robust LMMSE on the slot scaled to unit channel power (its prior's), so gain-invariant
    c = np.sqrt(np.maximum(p_pow - nv, 0.05 * p_pow) + 1e-24)               # (B,) channel rms estimate
    yc = (y / c[:, None, None]).astype(np.complex64)
    h_rob = robust.base.mean_only(yc, pilots, nv / c ** 2)
    h_rob = (h_rob * c[:, None, None]).astype(np.complex64)
    ratio = np.clip(nv / s.astype(np.float64) ** 2, 1e-6, 1e3)
    lvl = np.log10(ratio) / 3.0
    sigma = np.sqrt(ratio).astype(np.float32)
    x = np.zeros((b, robust.n_in, *pilots.grid.shape), np.float32)
    inv_s = (1.0 / s)[:, None, None]
    x[:, 0:2] = complex_to_channels(h_rob * inv_s)
    x[:, 2:4] = complex_to_channels(y * inv_s)
    inno = (h_ls - h_rob[:, t, f]) / np.sqrt(nv)[:, None]                   # (B, P) ~ O(1)
    x[:, 4, t, f] = inno.real
    x[:, 5, t, f] = inno.imag
    x[:, 6] = pilots.mask
    x[:, 7] = lvl[:, None, None]
    rs = (c / np.sqrt(nv))[:, None, None]                                   # channel scale -> noise units
    for i, est in enumerate(robust.bank):
        h_i = est.mean_only(yc, pilots, nv / c ** 2)
        x[:, N_IN + 2 * i: N_IN + 2 * i + 2] = complex_to_channels((h_i - h_rob / c[:, None, None]) * rs)
    return x, h_rob, s, sigma


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


class CGANEstimator(ChannelEstimator):
    """The CGAN generator as a channel estimator (batched, CPU).

    Input:  y (..., T, F) complex64, pilots (must match the checkpoint's), noise_var float or (...,).
    Output: h_hat (..., T, F) complex64; err_var (..., T, F) float32: the validation NMSE of the
    checkpoint at the nearest SNR (interpolated in dB) times the slot's channel power estimate.
    """

    name = "cgan"

    def __init__(self, checkpoint: dict, pilots: PilotPattern, where: str = "<memory>", batch: int = 256):
        torch = _torch()
        check_signature(checkpoint, pilots, where)
        self.pilots = pilots
        self.checkpoint = checkpoint
        model = dict(checkpoint.get("model", {}))
        self._robust = make_robust(pilots.grid, model.pop("robust", None))
        self.gen, _ = build_models(**model)
        if model.get("n_in", N_IN) != self._robust.n_in:
            raise CheckpointMismatchError(f"{where}: generator inputs ({model.get('n_in', N_IN)}) do not match "
                                          f"its conditioning ({self._robust.n_in})")
        try:
            self.gen.load_state_dict(checkpoint["generator"])
        except (KeyError, RuntimeError) as err:
            raise CheckpointMismatchError(f"{where}: generator weights do not fit the model ({err})") from err
        self.gen.eval()
        val = checkpoint.get("validation", {})
        self._snr = np.asarray(val.get("snr_db", [0.0, 30.0]), float)
        self._nmse = np.asarray(val.get("nmse", [1.0, 1e-3]), float)
        self.batch = batch
        self._torch = torch

    @classmethod
    def from_checkpoint(cls, path: str | Path | None, frame: FrameConfig) -> "CGANEstimator":
        path = Path(path) if path else DEFAULT_CHECKPOINT
        return cls(load_checkpoint(path), frame.pilot_pattern, where=str(path))

    def estimate(self, y, pilots, noise_var):
        if pilots != self.pilots:
            check_signature(self.checkpoint, pilots, "cgan")
        torch = self._torch
        lead = y.shape[:-2]
        yb = y.reshape(-1, *pilots.grid.shape)
        nv = np.broadcast_to(np.asarray(noise_var, np.float64), lead).reshape(-1)
        out = np.empty(yb.shape, np.complex64)
        scales = np.empty(yb.shape[0], np.float32)
        with torch.inference_mode():
            for i in range(0, yb.shape[0], self.batch):
                x, _, s, _ = make_inputs(yb[i:i + self.batch], pilots, nv[i:i + self.batch], self._robust)
                hn = self.gen.estimate(torch.from_numpy(x)).numpy()     # (b, 2, T, F) normalised
                out[i:i + self.batch] = channels_to_complex(hn) * s[:, None, None]
                scales[i:i + self.batch] = s
        # error variance: validation NMSE at this SNR x channel power (s^2 - N0 estimates it)
        snr = 10 * np.log10(np.maximum(scales.astype(float) ** 2 - nv, 1e-12) / np.maximum(nv, 1e-12))
        nmse = 10 ** np.interp(snr, self._snr, np.log10(np.maximum(self._nmse, 1e-12)))
        ev = (nmse * np.maximum(scales.astype(float) ** 2 - nv, 0.0))[:, None, None]
        ev = np.broadcast_to(ev, yb.shape).astype(np.float32)
        return out.reshape(y.shape), ev.reshape(y.shape)


def nmse_by_snr(pred: np.ndarray, true: np.ndarray, snr_db: np.ndarray, bins) -> list[float]:
    """NMSE per SNR bin. pred/true (B, T, F) complex, snr_db (B,). Output: one value per bin."""
    out = []
    for s in bins:
        m = np.isclose(snr_db, s)
        if not m.any():
            raise ShapeError(f"no validation slots at {s} dB")
        out.append(float(np.sum(np.abs(pred[m] - true[m]) ** 2) / np.sum(np.abs(true[m]) ** 2)))
    return out


def param_count(module) -> int:
    return int(sum(p.numel() for p in module.parameters()))


def db(x: float) -> float:
    return 10 * math.log10(max(x, 1e-30))
