"""Training: the experience base, crossed SC training, the ASC mask network, the ASI.

``train_all(TrainConfig)`` (``lamsc train lam-sc``):

1. ``n_images`` random 128x128 crops of the training photographs (``images.training_crops``),
   segmented by the offline segmenter and labelled (``experience.build``); the last
   ``val_fraction`` is held out for validation (ASI accuracy, mask threshold calibration).
2. Crossed SC training (as LAM-MSC's): for ``rounds`` rounds, first the channel encoder/decoder on
   the feature reconstruction loss with the semantic encoder frozen, then the semantic
   encoder/decoder on the image MSE through the frozen channel coder. AWGN at an SNR drawn
   uniformly from ``snr_range`` per image; batches of 64x64 crops (the model is fully
   convolutional), half whole images and half semantic-aware images.
3. The mask network jointly with the frozen SC model: MSE of the recovered image (whole image, or
   the semantic-aware image) + ``rate_weight`` x fraction of positions sent. Its threshold is then
   calibrated on validation whole images: the largest threshold whose SSIM loss against SC
   (at 10 dB, fixed noise) is at most ``max_ssim_loss``.
4. The ASI on the experience base labels (BCE), validation accuracy with a Wilson interval.

Everything is seeded; each stage runs for a wall-clock budget (the run is CPU-only).
"""
from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from ..errors import ConfigError
from ..stats import proportion
from .asi import ASI, AsiConfig, AsiSelector, segment_channels
from .model import LamScCodec, LamScModel, ModelConfig, awgn, normalize_power

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0
    n_images: int = 1200
    val_fraction: float = 0.1
    minutes: float = 18.0            # wall-clock budget of all stages together
    rounds: int = 3
    batch: int = 16
    crop: int = 64
    lr: float = 2e-3
    snr_range: tuple = (0.0, 20.0)
    rate_weight: float = 0.05
    max_ssim_loss: float = 0.008
    threads: int = 1
    resume_sc: str | None = None      # a checkpoint whose SC weights are kept (skips crossed training)


def _timed(seconds: float, desc: str):
    """Yields step numbers until ``seconds`` of wall clock have passed (tqdm bar)."""
    t0 = time.monotonic()
    bar = tqdm(desc=desc, unit="step", leave=False)
    i = 0
    while time.monotonic() - t0 < seconds:
        yield i
        i += 1
        bar.update()
    bar.close()


def _batch(whole: np.ndarray, sa: np.ndarray, rng: np.random.Generator, n: int, crop: int):
    """n random crops, half whole and half semantic-aware. -> (x (n, 3, crop, crop) float, target same)."""
    idx = rng.integers(0, len(whole), n)
    use_sa = rng.random(n) < 0.5
    src = np.where(use_sa[:, None, None, None], sa[idx], whole[idx])
    y, x = rng.integers(0, whole.shape[1] - crop + 1, 2)
    t = torch.from_numpy(np.ascontiguousarray(src[:, y:y + crop, x:x + crop])).permute(0, 3, 1, 2).float() / 255
    return t


def _snr(rng, n, lo_hi):
    return torch.from_numpy(rng.uniform(lo_hi[0], lo_hi[1], n)).float()


def train_sc(model: LamScModel, whole, sa, cfg: TrainConfig, seconds: float, rng, gen) -> list[dict]:
    """Crossed training of the SC parts. Returns per-stage final losses."""
    hist = []
    per_stage = seconds / (2 * cfg.rounds)
    for r in range(cfg.rounds):
        # (a) channel coder on the feature reconstruction loss, semantic encoder frozen
        opt = torch.optim.Adam(list(model.cenc.parameters()) + list(model.cdec.parameters()), lr=cfg.lr)
        loss = None
        for _ in _timed(per_stage * (0.5 if r else 1.0), f"round {r + 1} channel"):
            x = _batch(whole, sa, rng, cfg.batch, cfg.crop)
            with torch.no_grad():
                f = model.enc(x)
            ones = torch.ones_like(f[:, :1])
            f_hat = model.cdec(awgn(normalize_power(model.cenc(f), ones), ones, _snr(rng, len(x), cfg.snr_range), gen))
            loss = F.mse_loss(f_hat, f)
            opt.zero_grad()
            loss.backward()
            opt.step()
        hist.append({"round": r + 1, "stage": "channel", "feature_mse": float(loss)})
        # (b) semantic encoder/decoder on the image loss, channel coder frozen
        opt = torch.optim.Adam(list(model.enc.parameters()) + list(model.dec.parameters()), lr=cfg.lr * (0.5 ** r))
        for p in list(model.cenc.parameters()) + list(model.cdec.parameters()):
            p.requires_grad_(False)
        for _ in _timed(per_stage * (1.5 if r else 1.0), f"round {r + 1} semantic"):
            x = _batch(whole, sa, rng, cfg.batch, cfg.crop)
            x_hat, _ = model(x, _snr(rng, len(x), cfg.snr_range), use_mask=False, gen=gen)
            loss = F.mse_loss(x_hat, x)
            opt.zero_grad()
            loss.backward()
            opt.step()
        for p in list(model.cenc.parameters()) + list(model.cdec.parameters()):
            p.requires_grad_(True)
        hist.append({"round": r + 1, "stage": "semantic", "image_mse": float(loss)})
        log.info("round %d: %s", r + 1, hist[-2:])
    return hist


def ssim_torch(a, b, win: int = 7):
    """Mean SSIM of image batches a, b (B, 3, H, W) in [0, 1], uniform 7x7 window, per channel --
    scikit-image's default measure (the one every result reports), differentiable."""
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    k = torch.ones(3, 1, win, win, dtype=a.dtype) / win ** 2
    mu_a, mu_b = F.conv2d(a, k, groups=3), F.conv2d(b, k, groups=3)
    n = win * win
    cov = n / (n - 1)                                             # sample covariances, as scikit-image
    s_aa = cov * (F.conv2d(a * a, k, groups=3) - mu_a ** 2)
    s_bb = cov * (F.conv2d(b * b, k, groups=3) - mu_b ** 2)
    s_ab = cov * (F.conv2d(a * b, k, groups=3) - mu_a * mu_b)
    s = ((2 * mu_a * mu_b + c1) * (2 * s_ab + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (s_aa + s_bb + c2))
    return s.mean()


def train_mask(model: LamScModel, whole, sa, cfg: TrainConfig, seconds: float, rng, gen) -> dict:
    """The ASC mask net with the SC model frozen: (1 - SSIM) + MSE + rate_weight x sent fraction
    (SSIM, because dark flat regions cost little MSE but much SSIM when dropped)."""
    from .model import MaskNet
    model.masknet = MaskNet(model.cfg)                              # fresh: a resumed net may be collapsed
    model.cfg = dataclasses.replace(model.cfg, threshold=0.5)
    for p in model.parameters():
        p.requires_grad_(False)
    for p in model.masknet.parameters():
        p.requires_grad_(True)
    model.set_black()
    opt = torch.optim.Adam(model.masknet.parameters(), lr=cfg.lr)
    loss = rate = None
    for _ in _timed(seconds, "mask net"):
        x = _batch(whole, sa, rng, cfg.batch, cfg.crop)
        x_hat, mask = model(x, _snr(rng, len(x), cfg.snr_range), use_mask=True, gen=gen)
        rate = mask.mean()
        loss = 1 - ssim_torch(x_hat, x) + F.mse_loss(x_hat, x) + cfg.rate_weight * rate
        opt.zero_grad()
        loss.backward()
        opt.step()
    for p in model.parameters():
        p.requires_grad_(True)
    return {"loss": float(loss.detach()), "sent_fraction": float(rate.detach())}


def calibrate_threshold(codec: LamScCodec, val_whole: np.ndarray, max_loss: float, seed: int) -> dict:
    """Largest mask threshold with mean SSIM(SC+ASC) >= mean SSIM(SC) - max_loss on validation
    whole images at 10 dB."""
    from .metrics import ssim
    from .evaluate import awgn_symbols

    def mean_ssim(use_mask, thr):
        rng = np.random.default_rng(seed)
        vals, uses = [], []
        for img in val_whole:
            s, m = codec.encode(img, use_mask, thr)
            vals.append(ssim(img, codec.decode(awgn_symbols(s, 10.0, rng), m)))
            uses.append(s.size)
        return float(np.mean(vals)), float(np.mean(uses))

    base, base_uses = mean_ssim(False, None)
    best = {"threshold": -1.0, "ssim_loss": 0.0, "uses_ratio": 1.0}     # -1: send every position
    for thr in (0.0, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0):
        s, u = mean_ssim(True, thr)
        if base - s <= max_loss:
            best = {"threshold": thr, "ssim_loss": base - s, "uses_ratio": u / base_uses}
    best["sc_ssim_val"] = base
    return best


def train_asi(eb, train_idx, val_idx, seconds: float, seed: int) -> tuple[AsiSelector, dict]:
    """BCE on the experience base labels; validation per-segment accuracy (Wilson interval)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    k = eb.labels.shape[1]
    xs, vs = zip(*(segment_channels(eb.images[i], eb.masks(i), k) for i in range(len(eb.images))))
    X, V = torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(vs))
    Y = torch.from_numpy(eb.labels.astype(np.float32))
    tr_v = V[torch.from_numpy(np.asarray(train_idx))]
    pos = float(Y[torch.from_numpy(np.asarray(train_idx))][tr_v].mean())
    pos_weight = torch.tensor((1 - pos) / max(pos, 1e-6))         # balance selected vs not
    model = ASI(AsiConfig(max_segments=k))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in _timed(seconds, "ASI"):
        b = torch.from_numpy(rng.choice(train_idx, 32))
        lg = model(X[b], V[b])
        loss = F.binary_cross_entropy_with_logits(lg[V[b]], Y[b][V[b]], pos_weight=pos_weight)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        vi = torch.from_numpy(np.asarray(val_idx))
        pred = model(X[vi], V[vi]) > 0
        y = Y[vi].bool()[V[vi]]
        p = pred[V[vi]]
        ok = p == y
        base = ~y                                                  # "select nothing" baseline
    return AsiSelector(model), {"val_segment_accuracy": proportion(int(ok.sum()), int(ok.numel())),
                                "val_recall_of_selected": proportion(int((p & y).sum()), int(y.sum())),
                                "val_precision": proportion(int((p & y).sum()), int(p.sum())),
                                "val_all_unselected_baseline": proportion(int(base.sum()), int(base.numel())),
                                "train_positive_fraction": pos}


def train_all(cfg: TrainConfig, out_path: str, command: str = "") -> dict:
    """The whole training run; writes the checkpoint (SC + ASC + ASI + meta) to ``out_path``."""
    from . import experience, images
    from .segment import ClassicalSegmenter
    if cfg.n_images < 20:
        raise ConfigError(f"--images: need at least 20 training crops, got {cfg.n_images}")
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    t0 = time.monotonic()
    crops, manifest = images.training_crops(cfg.n_images, cfg.seed)
    cache = Path.home() / ".cache" / "lamsc_sdr" / f"lam_sc_experience_{cfg.seed}_{cfg.n_images}.npz"
    eb = experience.ExperienceBase.load(cache) if cache.is_file() else None
    if eb is None or not np.array_equal(eb.images, crops):
        eb = experience.build(crops, ClassicalSegmenter())
        cache.parent.mkdir(parents=True, exist_ok=True)
        eb.save(cache)
    n_val = max(4, int(cfg.val_fraction * len(crops)))
    tr, va = np.arange(len(crops) - n_val), np.arange(len(crops) - n_val, len(crops))
    sa = np.stack([eb.semantic_aware(i) for i in range(len(crops))])
    prep = time.monotonic() - t0
    budget = max(60.0, cfg.minutes * 60 - prep)
    if cfg.resume_sc:
        prev = LamScCodec.load(cfg.resume_sc)
        model = prev.model
        hist = [{"resumed_from": str(cfg.resume_sc), "history": prev.meta.get("history"),
                 "train_config": prev.meta.get("train_config"), "command": prev.meta.get("command"),
                 "seconds": prev.meta.get("seconds")}]
        shares = (0.0, 0.65, 0.3)
    else:
        model = LamScModel(ModelConfig())
        shares = (0.72, 0.18, 0.07)
        hist = train_sc(model, crops[tr], sa[tr], cfg, shares[0] * budget, rng, gen)
    mask_info = train_mask(model, crops[tr], sa[tr], cfg, shares[1] * budget, rng, gen)
    codec = LamScCodec(model)
    cal = calibrate_threshold(codec, crops[va][:48], cfg.max_ssim_loss, cfg.seed)
    model.cfg = dataclasses.replace(model.cfg, threshold=cal["threshold"])
    selector, asi_info = train_asi(eb, tr, va, shares[2] * budget, cfg.seed)
    meta = {"train_config": dataclasses.asdict(cfg), "command": command, "history": hist, "mask": mask_info,
            "threshold_calibration": cal, "asi": asi_info, "experience_base": eb.meta,
            "training_images": {k: manifest[k] for k in ("sources", "n_images", "note", "seed")},
            "training_image_sha256": manifest["image_sha256"], "seconds": round(time.monotonic() - t0, 1)}
    codec.meta = meta
    codec.save(out_path, meta, extra=selector.state())
    return meta
