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
from .model import LamScCodec, LamScModel, ModelConfig, awgn, normalize_power, support_of

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
    stages: str = "sc,asc,calibrate,asi"
    device: str = "cpu"
    pool: bool = False                # crops made on the device from the training pool (no experience base)
    width: int = 32
    depth: int = 0
    finetune_decoder: bool = True     # asc stage: the semantic decoder learns to inpaint unsent positions
    asi_from: str | None = None       # copy the ASI from this checkpoint when the asi stage is skipped


def _timed(seconds: float, desc: str):
    """Yields step numbers until ``seconds`` of wall clock have passed (tqdm bar)."""
    t0 = time.monotonic()
    bar = tqdm(desc=desc, unit="step", leave=False, mininterval=5)
    i = 0
    while time.monotonic() - t0 < seconds:
        yield i
        i += 1
        bar.update()
    bar.close()


def _snr(gen, n, lo_hi, device):
    return lo_hi[0] + (lo_hi[1] - lo_hi[0]) * torch.rand(n, generator=gen, device=device)


def train_sc(model: LamScModel, sampler, cfg: TrainConfig, seconds: float, gen) -> list[dict]:
    """Crossed training of the SC parts on ``sampler.batch()`` inputs (whole and semantic-aware
    images, sent whole). Returns per-stage final losses and step counts."""
    hist = []
    dev = cfg.device
    per_stage = seconds / (2 * cfg.rounds)
    for r in range(cfg.rounds):
        # (a) channel coder on the feature reconstruction loss, semantic encoder frozen
        opt = torch.optim.Adam(list(model.cenc.parameters()) + list(model.cdec.parameters()), lr=cfg.lr)
        loss, steps = None, 0
        for steps in _timed(per_stage * (0.5 if r else 1.0), f"round {r + 1} channel"):
            x, _ = sampler.batch()
            with torch.no_grad():
                f = model.enc(x)
            ones = torch.ones_like(f[:, :1])
            f_hat = model.cdec(awgn(normalize_power(model.cenc(f), ones), ones, _snr(gen, len(x), cfg.snr_range, dev),
                                    gen))
            loss = F.mse_loss(f_hat, f)
            opt.zero_grad()
            loss.backward()
            opt.step()
        hist.append({"round": r + 1, "stage": "channel", "feature_mse": float(loss.detach()), "steps": steps + 1})
        # (b) semantic encoder/decoder on the image loss, channel coder frozen
        opt = torch.optim.Adam(list(model.enc.parameters()) + list(model.dec.parameters()), lr=cfg.lr * (0.5 ** r))
        for p in list(model.cenc.parameters()) + list(model.cdec.parameters()):
            p.requires_grad_(False)
        for steps in _timed(per_stage * (1.5 if r else 1.0), f"round {r + 1} semantic"):
            x, _ = sampler.batch()
            x_hat, _ = model(x, _snr(gen, len(x), cfg.snr_range, dev), use_mask=False, gen=gen)
            loss = F.mse_loss(x_hat, x)
            opt.zero_grad()
            loss.backward()
            opt.step()
        for p in list(model.cenc.parameters()) + list(model.cdec.parameters()):
            p.requires_grad_(True)
        hist.append({"round": r + 1, "stage": "semantic", "image_mse": float(loss.detach()), "steps": steps + 1})
        log.info("round %d: %s", r + 1, hist[-2:])
        print(f"SC round {r + 1}: {hist[-2:]}", flush=True)
    return hist


def ssim_torch(a, b, win: int = 7):
    """Mean SSIM of image batches a, b (B, 3, H, W) in [0, 1], uniform 7x7 window, per channel --
    scikit-image's default measure (the one every result reports), differentiable."""
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    k = torch.ones(3, 1, win, win, dtype=a.dtype, device=a.device) / win ** 2
    mu_a, mu_b = F.conv2d(a, k, groups=3), F.conv2d(b, k, groups=3)
    n = win * win
    cov = n / (n - 1)                                             # sample covariances, as scikit-image
    s_aa = cov * (F.conv2d(a * a, k, groups=3) - mu_a ** 2)
    s_bb = cov * (F.conv2d(b * b, k, groups=3) - mu_b ** 2)
    s_ab = cov * (F.conv2d(a * b, k, groups=3) - mu_a * mu_b)
    s = ((2 * mu_a * mu_b + c1) * (2 * s_ab + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (s_aa + s_bb + c2))
    return s.mean()


def _image_loss(x_hat, x):
    return 1 - ssim_torch(x_hat, x) + F.mse_loss(x_hat, x)


def fill_error(f):
    """Per-position importance target of the ASC mask net: how badly the 8 neighbours predict a
    position's features (squared error of their mean, averaged over channels), divided by the
    batch mean. f (B, C, s, s) -> (B, 1, s, s) >= 0. Positions the receiver's neighbour fill
    recovers well score low and are dropped first."""
    c = f.shape[1]
    k = torch.ones(1, 1, 3, 3, dtype=f.dtype, device=f.device)
    k[0, 0, 1, 1] = 0
    cnt = F.conv2d(torch.ones_like(f[:, :1]), k, padding=1)
    avg = F.conv2d(f, k.expand(c, 1, 3, 3), padding=1, groups=c) / cnt
    err = ((f - avg) ** 2).mean(1, keepdim=True)
    return err / err.mean().clamp(min=1e-12)


def top_fraction(score, keep):
    """0/1 mask keeping the ``keep`` (B,) fraction of positions with the highest ``score``
    (B, 1, s, s) in each image."""
    flat = score.flatten(1)
    order = flat.argsort(dim=1, descending=True)
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(flat.shape[1], device=flat.device).expand_as(order))
    return (ranks < (keep[:, None] * flat.shape[1]).ceil()).float().view_as(score)


def train_asc(model: LamScModel, sampler, cfg: TrainConfig, seconds: float, gen) -> dict:
    """The ASC mask net with the SC encoder and channel coder frozen; with ``finetune_decoder``
    the semantic decoder learns to inpaint unsent positions. Each batch in thirds: (A) sent
    whole (SC: keeps the no-mask quality), (B) random masks (each image drops a fraction drawn
    from U(0, 0.8) of its positions), (C) the mask net's own ranking: each image keeps a fraction
    U(0.3, 1) of its highest-scoring positions. B and C use the semantic-aware support rule.
    Decoder loss per part: (1 - SSIM) + MSE. The mask net regresses :func:`fill_error` (MSE on
    its pre-ReLU output). (Trained end to end on reconstruction + ``rate_weight`` x sent fraction
    through a straight-through mask, it collapsed to sending nothing in our runs.)"""
    from .model import MaskNet
    dev = cfg.device
    model.masknet = MaskNet(model.cfg).to(dev)                      # fresh: a resumed net may be collapsed
    model.cfg = dataclasses.replace(model.cfg, threshold=0.5)
    for p in model.parameters():
        p.requires_grad_(False)
    groups = [{"params": list(model.masknet.parameters()), "lr": cfg.lr}]
    if cfg.finetune_decoder:
        groups.append({"params": list(model.dec.parameters()), "lr": cfg.lr * 0.25})
    for g in groups:
        for p in g["params"]:
            p.requires_grad_(True)
    model.set_black()
    opt = torch.optim.Adam(groups)
    out = {}
    steps = 0
    for steps in _timed(seconds, "ASC mask net" + (" + decoder" if cfg.finetune_decoder else "")):
        x, region = sampler.batch()
        n = len(x)
        snr = _snr(gen, n, cfg.snr_range, dev)
        k = n // 3
        with torch.no_grad():
            f = model.enc(x[2 * k:])
            target = fill_error(f)
        pre = model.masknet.pre(f)
        lm = F.mse_loss(pre, target)
        loss = lm
        if cfg.finetune_decoder:
            la = _image_loss(model(x[:k], snr[:k], gen=gen)[0], x[:k])
            s = f.shape[-1]
            keep = torch.rand(k, 1, 1, 1, generator=gen, device=dev) * 0.8
            drop = (torch.rand(k, 1, s, s, generator=gen, device=dev) >= keep).float()
            lb = _image_loss(model(x[k:2 * k], snr[k:2 * k], gen=gen, region=region[k:2 * k], drop=drop)[0],
                             x[k:2 * k])
            keep_c = 0.3 + 0.7 * torch.rand(n - 2 * k, generator=gen, device=dev)
            own = top_fraction(F.relu(pre.detach()), keep_c)
            lc = _image_loss(model(x[2 * k:], snr[2 * k:], gen=gen, region=region[2 * k:], drop=own)[0], x[2 * k:])
            loss = loss + la + lb + lc
        opt.zero_grad()
        loss.backward()
        opt.step()
        out = {"loss": float(loss.detach()), "mask_net_mse": float(lm.detach())}
    for p in model.parameters():
        p.requires_grad_(True)
    print(f"ASC: {steps + 1} steps, {out}", flush=True)
    return {**out, "steps": steps + 1, "finetune_decoder": cfg.finetune_decoder,
            "objective": "mask net regresses the neighbour-fill error; decoder inpaints random and ranked masks"}


def calibrate_threshold(codec: LamScCodec, val_whole: np.ndarray, max_loss: float, seed: int,
                        snrs=(0.0, 10.0, 20.0)) -> dict:
    """The mask threshold sending the fewest channel uses (payload + side information bits)
    whose mean SSIM loss against SC (no mask) on validation whole images stays within
    ``max_loss`` at every SNR in ``snrs`` (fixed noise). Candidates: quantiles of the mask net's
    output on validation (sent fractions 0.995 ... 0.3)."""
    from .evaluate import awgn_symbols
    from .metrics import ssim
    from .model import SEND_ALL, mask_to_bits

    with torch.inference_mode():
        scores = torch.cat([codec.model.masknet.pre(codec.model.enc(codec.to_tensor(img))).flatten()
                            for img in val_whole]).numpy()
    qs = np.r_[0.005, 0.01, 0.02, 0.03, 0.04, np.arange(0.05, 0.71, 0.05)]
    cands = sorted({round(float(np.quantile(scores, q)), 6) for q in qs})

    def run(use_mask, thr):
        vals, uses = [], []
        for snr in snrs:
            rng = np.random.default_rng(seed)
            v = []
            for img in val_whole:
                s, m, a = codec.encode(img, use_mask, thr, with_scale=True)
                v.append(ssim(img, codec.decode(awgn_symbols(s, snr, rng), m, scale=a)))
                if snr == snrs[0]:
                    uses.append(s.size + (0 if m.all() else mask_to_bits(m, None, a).size))
            vals.append(float(np.mean(v)))
        return np.asarray(vals), float(np.mean(uses))

    base, base_uses = run(False, None)
    best = {"threshold": SEND_ALL, "ssim_loss": [0.0] * len(snrs), "uses_ratio": 1.0}
    sweep = []
    for thr in tqdm(cands, desc="calibrate", leave=False):
        v, u = run(True, thr)
        loss = base - v
        sweep.append({"threshold": thr, "ssim_loss": loss.round(5).tolist(), "uses_ratio": u / base_uses})
        if loss.max() <= max_loss and u / base_uses < best["uses_ratio"]:
            best = dict(sweep[-1])
    best.update(sc_ssim_val=base.round(5).tolist(), snrs=list(snrs), max_loss=max_loss, n=len(val_whole),
                sweep=sweep)
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


def _sc_ssim_val(model, val_whole, device) -> float:
    """Mean SSIM of SC (no mask) on validation images at 10 dB (the training curve)."""
    with torch.no_grad():
        x = torch.from_numpy(val_whole).to(device).permute(0, 3, 1, 2).float() / 255
        g = torch.Generator(device=device).manual_seed(7)
        x_hat, _ = model(x, torch.full((len(x),), 10.0, device=device), gen=g)
        return float(ssim_torch(x_hat, x))


def train_all(cfg: TrainConfig, out_path: str, command: str = "") -> dict:
    """The whole training run; writes the checkpoint (SC + ASC + ASI + meta) to ``out_path``.

    ``cfg.stages`` (comma list): ``sc`` (crossed SC training; skipped with ``resume_sc``), ``asc``
    (mask net, decoder fine-tuned to inpaint), ``calibrate`` (mask threshold on validation),
    ``asi`` (else the ASI is copied from ``asi_from`` / the resumed / the shipped checkpoint).
    ``cfg.pool``: crops are made on ``cfg.device`` from the training pool with random regions as
    semantic-aware inputs (no experience base; for the GPU); otherwise fixed crops and the
    experience base's semantic-aware images."""
    from . import experience, images
    from .model import DEFAULT_CHECKPOINT
    from .pool import ArraySampler, PoolSampler
    from .segment import ClassicalSegmenter
    stages = {x.strip() for x in cfg.stages.split(",") if x.strip()}
    if not stages <= {"sc", "asc", "calibrate", "asi"}:
        raise ConfigError(f"--stages: choose from sc, asc, calibrate, asi; got {cfg.stages!r}")
    if cfg.n_images < 20:
        raise ConfigError(f"--images: need at least 20 training crops, got {cfg.n_images}")
    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA device here")
    if cfg.pool and "asi" in stages:
        raise ConfigError("--pool trains without the experience base: drop the asi stage (--stages sc,asc,...)")
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    dev = cfg.device
    if dev.startswith("cuda"):
        torch.backends.cudnn.benchmark = True
    gen = torch.Generator(device=dev).manual_seed(cfg.seed)
    t0 = time.monotonic()
    eb = None
    if cfg.pool:
        # validation: 48 CPU crops of another seed (not among the device's training crops)
        crops, manifest = images.training_crops(48, cfg.seed + 1)
        va = np.arange(len(crops))
        manifest["image_sha256"] = []
        sampler = PoolSampler(images.load_sources("train"), cfg.n_images, cfg.batch, cfg.crop, gen, dev)
        data_note = (f"{len(sampler.crops)} random 128x128 crops of the training pool made on {dev}; "
                     "semantic-aware inputs: random smooth regions (pool.random_regions)")
    else:
        crops, manifest = images.training_crops(cfg.n_images, cfg.seed)
        n_val = max(4, int(cfg.val_fraction * len(crops)))
        tr, va = np.arange(len(crops) - n_val), np.arange(len(crops) - n_val, len(crops))
        cache = Path.home() / ".cache" / "lamsc_sdr" / f"lam_sc_experience_{cfg.seed}_{cfg.n_images}.npz"
        eb = experience.ExperienceBase.load(cache) if cache.is_file() else None
        if eb is None or not np.array_equal(eb.images, crops):
            eb = experience.build(crops, ClassicalSegmenter())
            cache.parent.mkdir(parents=True, exist_ok=True)
            eb.save(cache)
        sa = np.stack([eb.semantic_aware(i) for i in range(len(crops))])
        sampler = ArraySampler(crops[tr], sa[tr], rng, cfg.batch, cfg.crop, dev)
        data_note = "fixed crops; semantic-aware inputs from the experience base"
    prep = time.monotonic() - t0
    budget = max(30.0, cfg.minutes * 60 - prep)
    if cfg.resume_sc:
        prev = LamScCodec.load(cfg.resume_sc)
        model = prev.model
        hist = [{"resumed_from": str(cfg.resume_sc), "history": prev.meta.get("history"),
                 "train_config": prev.meta.get("train_config"), "command": prev.meta.get("command"),
                 "seconds": prev.meta.get("seconds"), "mask": prev.meta.get("mask")}]
        stages.discard("sc")
    else:
        model = LamScModel(ModelConfig(width=cfg.width, depth=cfg.depth))
        hist = []
    model.to(dev)
    w = {"sc": 0.72, "asc": 0.25, "asi": 0.07}
    total = sum(w[k] for k in stages if k in w) or 1.0
    if "sc" in stages:
        hist += train_sc(model, sampler, cfg, w["sc"] / total * budget, gen)
    mask_info = None
    if "asc" in stages:
        mask_info = train_asc(model, sampler, cfg, w["asc"] / total * budget, gen)
    model.set_black()
    val_ssim = _sc_ssim_val(model, crops[va][:48], dev)
    print(f"validation SC SSIM at 10 dB: {val_ssim:.4f}", flush=True)
    model.to("cpu")
    codec = LamScCodec(model)
    cal = None
    if "calibrate" in stages:
        cal = calibrate_threshold(codec, crops[va][:48], cfg.max_ssim_loss, cfg.seed)
        model.cfg = dataclasses.replace(model.cfg, threshold=cal["threshold"])
    asi_info: dict = {}
    if "asi" in stages:
        selector, asi_info = train_asi(eb, tr, va, w["asi"] / total * budget, cfg.seed)
        asi_state = selector.state()
    else:
        src = cfg.asi_from or cfg.resume_sc or DEFAULT_CHECKPOINT
        donor = LamScCodec.load(src)
        asi_state = donor.asi_state
        asi_info = {"copied_from": str(src), **(donor.meta.get("asi") or {})}
    meta = {"train_config": dataclasses.asdict(cfg), "command": command, "history": hist, "mask": mask_info,
            "threshold_calibration": cal, "asi": asi_info, "validation_sc_ssim_10db": val_ssim,
            "experience_base": eb.meta if eb is not None else None, "data": data_note,
            "training_images": {k: manifest[k] for k in ("sources", "n_images", "note", "seed")},
            "training_image_sha256": manifest["image_sha256"], "device": dev,
            "seconds": round(time.monotonic() - t0, 1)}
    codec.meta = meta
    codec.save(out_path, meta, extra=asi_state)
    return meta
