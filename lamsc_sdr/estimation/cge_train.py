"""Training of the CGE (conditional-GAN channel estimator): config, loop, validation, checkpoint.

Loss (pix2pix-style, as the LAM-MSC CGE): discriminator ``BCEWithLogits(D(c, h), 1) +
BCEWithLogits(D(c, G(c)), 0)``; generator ``adv_weight * BCEWithLogits(D(c, G(c)), 1) +
l1_weight * L1(G(c), r)`` with ``l1_weight = 100``, where ``r = (h - h_rob) / sqrt(N0)`` is the
correction the generator must add to the adaptive LMMSE estimate, in units of the slot's noise
level (see :mod:`.cgan`). That normalisation makes every SNR weigh alike in the loss -- the goal
is NMSE at every SNR, not at low SNR only -- and the discriminator judges (condition, correction).
"""
from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from ..config_base import from_mapping, read_yaml_mapping, to_dict
from ..errors import ConfigError
from ..phy.config import FrameConfig
from .cge_data import SimDataConfig
from .cgan import (CHECKPOINT_FORMAT, build_models, channels_to_complex, complex_to_channels, export_onnx,
                   make_conditioning, make_inputs, nmse_by_snr, param_count, pilot_signature)
from ..devices import resolve_device
from .fileio import atomic_write, save_figure

log = logging.getLogger(__name__)
CGE_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 8000
    batch: int = 64
    lr: float = 2e-4
    lr_final_frac: float = 0.1          # cosine decay of both learning rates to this fraction
    l1_weight: float = 100.0            # weight of the reconstruction term ...
    recon: str = "l1"                   # ... "l1" (the paper's) or "l2" (the NMSE the goals measure)
    adv_weight: float = 1.0
    width: int = 8
    stats_slots: int = 256                # slots per step the conditioning statistics are fitted on
                                          # (one channel family); the first ``batch`` of them train
    init: str | None = None               # fine-tune from this CGE checkpoint (path; "shipped": the default one)
    threads: int = 1
    val_every: int = 500
    val_per_snr: int = 200              # validation slots per SNR and training profile
    val_snr_db: tuple[float, ...] = (0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0)

    def __post_init__(self):
        if self.recon not in ("l1", "l2"):
            raise ConfigError(f"train.recon: expected l1 or l2, got {self.recon!r}")


@dataclass(frozen=True)
class CGEConfig:
    """The CGE training YAML: ``schema_version``, ``seed``, ``frame``, ``data``, ``train``."""

    schema_version: int = CGE_SCHEMA_VERSION
    seed: int = 0
    frame: FrameConfig = field(default_factory=FrameConfig)
    data: SimDataConfig = field(default_factory=SimDataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return to_dict(self)


def load_cge_config(path: str | Path | None, overrides: dict | None = None) -> CGEConfig:
    """Read a CGE training YAML (None: defaults). Unknown keys raise ConfigError naming key and file."""
    data: dict = {}
    spath = None
    if path is not None:
        spath = str(path)
        data = read_yaml_mapping(spath, "CGE config")
    for dotted, value in (overrides or {}).items():
        node = data
        *head, last = dotted.split(".")
        for p in head:
            node = node.setdefault(p, {})
        node[last] = value
    if data.get("schema_version", CGE_SCHEMA_VERSION) != CGE_SCHEMA_VERSION:
        raise ConfigError(f"CGE config key 'schema_version'{' in ' + spath if spath else ''}: "
                          f"expected {CGE_SCHEMA_VERSION}, got {data.get('schema_version')!r}")
    return from_mapping(CGEConfig, data, path=spath)


def _validation_set(source, cfg: CGEConfig, profiles) -> dict:
    """Fixed validation slots: for each profile and SNR, ``val_per_snr`` slots (own seed)."""
    rng = np.random.default_rng(cfg.seed + 10_007)
    if getattr(source, "cfg", None) is not None and getattr(source.cfg, "timing_jitter_samples", 0):
        # validate on what the goals are measured on: the grid-level channel, no timing error
        source = type(source)(dataclasses.replace(source.cfg, timing_jitter_samples=0.0), source.frame)
    out = {}
    for prof in profiles:
        ys, hs, ss = [], [], []
        for s in cfg.train.val_snr_db:
            y, h, snr = source.sample(cfg.train.val_per_snr, rng, snr_db=s, profile=prof)
            ys.append(y), hs.append(h), ss.append(snr)
        out[prof] = (np.concatenate(ys), np.concatenate(hs), np.concatenate(ss))
    return out


def predict(gen, y, pilots, snr_db, cond, batch: int = 512, device: str = "cpu") -> np.ndarray:
    """Generator estimates for y (B, T, F) at snr_db (B,) through the conditioning ``cond``.
    Output (B, T, F) complex64."""
    import torch
    out = np.empty(y.shape, np.complex64)
    with torch.inference_mode():
        for i in range(0, y.shape[0], batch):
            x, _, s, _ = make_inputs(y[i:i + batch], pilots, 10 ** (-snr_db[i:i + batch] / 10), cond)
            hn = gen.estimate(torch.from_numpy(x).to(device)).cpu().numpy()
            out[i:i + batch] = channels_to_complex(hn) * s[:, None, None]
    return out


def _init_generator(tc: "TrainConfig", pilots, where: str):
    """Generator to start from: fresh (output layer zero: the adaptive LMMSE), or a checkpoint's."""
    from .cgan import DEFAULT_CHECKPOINT, check_signature, load_checkpoint
    gen, disc = build_models(tc.width)
    if tc.init:
        path = DEFAULT_CHECKPOINT if tc.init == "shipped" else Path(tc.init)
        ck = load_checkpoint(path)
        check_signature(ck, pilots, str(path))
        if ck.get("model", {}).get("width") != tc.width:
            raise ConfigError(f"train.init: {path} has width {ck.get('model', {}).get('width')}, "
                              f"the config {tc.width} ({where})")
        gen.load_state_dict(ck["generator"])
        if "discriminator" in ck:
            disc.load_state_dict(ck["discriminator"])
    return gen, disc


def train_cge(cfg: CGEConfig, source, out: str | Path, steps: int | None = None, progress: bool = True,
              curves: str | Path | None = None, command: str = "", device: str = "auto") -> dict:
    """Train the CGE on ``source`` (a SimSource or CaptureSource) and write the checkpoint ``out``
    atomically. ``device``: auto | cpu | cuda. Returns the checkpoint dict (weights included)."""
    import torch
    from torch import nn
    torch.set_num_threads(max(1, cfg.train.threads))
    dev = resolve_device(device)
    tc = cfg.train
    steps = tc.steps if steps is None else steps
    if steps < 1:
        raise ConfigError(f"--steps must be >= 1, got {steps}")
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    pilots = cfg.frame.pilot_pattern
    cond = make_conditioning(pilots, track=False)         # each batch: statistics from its own slots
    gen, disc = _init_generator(tc, pilots, str(out))
    gen.to(dev), disc.to(dev)
    opt_g = torch.optim.Adam(gen.parameters(), tc.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), tc.lr, betas=(0.5, 0.999))
    sched = [torch.optim.lr_scheduler.LambdaLR(o, lambda k: tc.lr_final_frac + (1 - tc.lr_final_frac) * 0.5 * (
        1 + np.cos(np.pi * min(k, steps) / steps))) for o in (opt_g, opt_d)]
    bce = nn.BCEWithLogitsLoss()
    profiles = list(getattr(getattr(source, "cfg", None), "profiles", ["captures"]))
    val = _validation_set(source, cfg, profiles) if hasattr(source, "channels") else \
        {"captures": source.sample(min(2000, source.y.shape[0]), np.random.default_rng(cfg.seed + 1))}
    history = {"step": [], "loss_d": [], "loss_g_adv": [], "loss_l1": [], "val_step": [], "val_nmse_db": [],
               "val_snr_db": list(tc.val_snr_db) if hasattr(source, "channels") else ["all"]}
    best = (np.inf, None, None)
    # step 0 is a candidate too: the untrained generator is its conditioning (or the init checkpoint)
    gen.eval()
    res0 = _validate(gen, val, pilots, tc.val_snr_db, dev)
    best = (float(np.mean([10 * np.log10(v) for vals in res0.values() for v in vals])),
            {k: v.detach().cpu().clone() for k, v in gen.state_dict().items()}, res0)
    history["val_step"].append(0)
    history["val_nmse_db"].append({k: [float(10 * np.log10(v)) for v in vals] for k, vals in res0.items()})
    it = range(1, steps + 1)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, desc="train cge", unit="step")
    t0 = time.time()
    for step in it:
        gen.train(), disc.train()
        y, h, snr = source.sample(max(tc.batch, tc.stats_slots), rng)
        n0 = 10 ** (-snr / 10)
        x, h_est, s, _ = make_inputs(y, pilots, n0, cond)
        x, h_est, h, n0 = x[:tc.batch], h_est[:tc.batch], h[:tc.batch], n0[:tc.batch]
        r = (h - h_est) / np.sqrt(n0)[:, None, None]                          # correction / noise std
        real = torch.from_numpy(complex_to_channels(r)).to(dev)               # (B, 2, T, F)
        x = torch.from_numpy(x).to(dev)                                       # (B, 8, T, F)
        fake = gen(x)                                                         # (B, 2, T, F)
        # discriminator step
        d_real, d_fake = disc(x, real), disc(x, fake.detach())
        loss_d = bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        # generator step
        d_fake = disc(x, fake)
        adv = bce(d_fake, torch.ones_like(d_fake))
        l1 = (fake - real).abs().mean() if tc.recon == "l1" else (fake - real).pow(2).mean()
        loss_g = tc.adv_weight * adv + tc.l1_weight * l1
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        for sc in sched:
            sc.step()
        if step % 10 == 0 or step == steps:
            history["step"].append(step)
            history["loss_d"].append(float(loss_d.detach()))
            history["loss_g_adv"].append(float(adv.detach()))
            history["loss_l1"].append(float(l1.detach()))
        if step % tc.val_every == 0 or step == steps:
            gen.eval()
            res = _validate(gen, val, pilots, tc.val_snr_db, dev)
            history["val_step"].append(step)
            history["val_nmse_db"].append({k: [float(10 * np.log10(v)) for v in vals] for k, vals in res.items()})
            mean_db = float(np.mean([10 * np.log10(v) for vals in res.values() for v in vals]))
            if mean_db < best[0]:
                best = (mean_db, {k: v.detach().cpu().clone() for k, v in gen.state_dict().items()}, res)
                # the best generator so far is on disk at every validation (atomically)
                save_checkpoint(_checkpoint(cfg, pilots, best, disc, source, history, step, t0, command), out)
            if progress:
                it.set_postfix(val_nmse_db=f"{mean_db:.2f}", l1=f"{float(l1):.4f}")
            log.info("step %d: validation mean NMSE %.2f dB", step, mean_db)
    ck = _checkpoint(cfg, pilots, best, disc, source, history, steps, t0, command)
    save_checkpoint(ck, out)
    if curves:
        plot_curves(history, curves)
    return ck


def _checkpoint(cfg, pilots, best, disc, source, history, step, t0, command) -> dict:
    """The checkpoint dict: weights of the best generator, signature, config, data, validation, log."""
    tc = cfg.train
    _, state, res = best
    gen, _ = build_models(tc.width)
    gen.load_state_dict(state)
    nmse = np.mean([res[k] for k in res], axis=0)                                # mean over profiles
    snrs = list(tc.val_snr_db) if "captures" not in res else [float(np.median(source.snr_db))]
    return {
        "format": CHECKPOINT_FORMAT,
        "signature": pilot_signature(pilots),
        "model": {"width": tc.width},
        "generator": gen.state_dict(),
        "discriminator": {k: v.detach().cpu() for k, v in disc.state_dict().items()},
        "onnx": export_onnx(gen, pilots.grid.shape),
        "config": cfg.to_dict(),
        "data": source.describe(),
        "validation": {"snr_db": snrs, "nmse": [float(v) for v in nmse],
                       "per_profile": {k: [float(v) for v in vals] for k, vals in res.items()}},
        "history": history,
        "train": {"steps": step, "seconds": time.time() - t0, "command": command,
                  "generator_params": param_count(gen), "discriminator_params": param_count(disc)},
        "versions": _versions(),
    }


def _validate(gen, val: dict, pilots, snrs, device: str = "cpu") -> dict:
    """NMSE per validation SNR and profile (statistics tracked over each profile's slots, as a
    receiver does on one link); a capture set (mixed SNRs) gives one overall value."""
    out = {}
    for prof, (y, h, snr) in val.items():
        pred = predict(gen, y, pilots, snr, make_conditioning(pilots, {"refresh_slots": 256}), device=device)
        if prof == "captures":
            out[prof] = np.asarray([np.sum(np.abs(pred - h) ** 2) / np.sum(np.abs(h) ** 2)])
        else:
            out[prof] = np.asarray(nmse_by_snr(pred, h, snr, snrs), float)
    return out


def save_checkpoint(ck: dict, path: str | Path) -> None:
    """torch.save to a temp file, then rename: an interrupted save leaves no half checkpoint."""
    import torch
    atomic_write(path, lambda f: torch.save(ck, f))
    from ..checkpoints import sign
    sign(path, checkpoint=ck)            # PATH.sha256.json: hash, resolved config, versions


def _versions() -> dict:
    from ..provenance import versions
    return versions()


def plot_curves(history: dict, path: str | Path) -> None:
    """Loss curves and validation NMSE (per profile, per SNR) versus step, one PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    st = history["step"]
    a.semilogy(st, history["loss_l1"], label="L1 (weighted)")
    a.semilogy(st, history["loss_d"], label="D loss")
    a.semilogy(st, history["loss_g_adv"], label="G adversarial")
    a.set_xlabel("step"), a.set_title("losses"), a.legend(), a.grid(True, alpha=0.3)
    if history["val_step"]:
        profs = list(history["val_nmse_db"][0])
        snrs = history.get("val_snr_db") or []
        for i, p in enumerate(profs):
            arr = np.array([v[p] for v in history["val_nmse_db"]])           # (V, n_snr)
            for j, ls in zip(sorted({0, arr.shape[1] // 2, arr.shape[1] - 1}), ("-", "--", ":")):
                snr = f"{snrs[j]:g} dB" if j < len(snrs) and not isinstance(snrs[j], str) else "all"
                b.plot(history["val_step"], arr[:, j], ls, color=f"C{i}", label=f"{p}, {snr}")
    b.set_xlabel("step"), b.set_ylabel("NMSE [dB]"), b.set_title("validation NMSE")
    b.legend(fontsize=6), b.grid(True, alpha=0.3)
    save_figure(fig, path)
    plt.close(fig)


def dump_cge_config(cfg: CGEConfig) -> str:
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)


__all__ = ["CGEConfig", "TrainConfig", "load_cge_config", "train_cge", "save_checkpoint", "plot_curves",
           "dump_cge_config", "dataclasses"]
