"""Training of the CGE (conditional-GAN channel estimator): config, loop, validation, checkpoint.

Loss (pix2pix-style, as the LAM-MSC CGE): discriminator ``BCEWithLogits(D(c, h), 1) +
BCEWithLogits(D(c, G(c)), 0)``; generator ``adv_weight * BCEWithLogits(D(c, G(c)), 1) +
l1_weight * L1(G(c), r)`` with ``l1_weight = 100``, where ``r = (h - h_rob) / sqrt(N0)`` is the
correction the generator must add to the robust LMMSE estimate, in units of the slot's noise
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
from .cgan import (CHECKPOINT_FORMAT, build_models, channels_to_complex, complex_to_channels, make_inputs,
                   make_robust, nmse_by_snr, param_count, pilot_signature)
from .fileio import atomic_write, save_figure

log = logging.getLogger(__name__)
CGE_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 8000
    batch: int = 64
    lr: float = 2e-4
    lr_final_frac: float = 0.1          # cosine decay of both learning rates to this fraction
    l1_weight: float = 100.0
    adv_weight: float = 1.0
    width: int = 48
    robust_max_doppler_hz: float = 300.0  # conditioning robust LMMSE: flat Doppler spectrum up to this
    robust_pre_samples: float = 2.0       # ... and uniform PDP over [-this, cp_len] samples
    bank_delays: tuple[float, ...] = ()   # extra LMMSE candidates: uniform PDP over [-bank_pre, d] ...
    bank_dopplers: tuple[float, ...] = () # ... x flat Doppler up to each of these
    bank_pre_samples: float = 1.0
    bank_exp_rms_ns: tuple[float, ...] = ()   # ... and exponential PDPs of these rms delay spreads
    gate: bool = True                     # generator blends the bank candidates (softmax weights per element)
    threads: int = 1
    val_every: int = 500
    val_per_snr: int = 200              # validation slots per SNR and training profile
    val_snr_db: tuple[float, ...] = (0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0)


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


def _robust_params(tc: "TrainConfig") -> dict:
    return {"max_doppler_hz": tc.robust_max_doppler_hz, "pre_samples": tc.robust_pre_samples,
            "bank_delays": [float(d) for d in tc.bank_delays], "bank_dopplers": [float(f) for f in tc.bank_dopplers],
            "bank_pre_samples": tc.bank_pre_samples, "bank_exp_rms_ns": [float(r) for r in tc.bank_exp_rms_ns]}


def predict(gen, y, pilots, snr_db, robust, batch: int = 512) -> np.ndarray:
    """Generator estimates for y (B, T, F) at snr_db (B,). Output (B, T, F) complex64."""
    import torch
    out = np.empty(y.shape, np.complex64)
    with torch.inference_mode():
        for i in range(0, y.shape[0], batch):
            x, _, s, _ = make_inputs(y[i:i + batch], pilots, 10 ** (-snr_db[i:i + batch] / 10), robust)
            out[i:i + batch] = channels_to_complex(gen.estimate(torch.from_numpy(x)).numpy()) * s[:, None, None]
    return out


def train_cge(cfg: CGEConfig, source, out: str | Path, steps: int | None = None, progress: bool = True,
              curves: str | Path | None = None, command: str = "") -> dict:
    """Train the CGE on ``source`` (a SimSource or CaptureSource) and write the checkpoint ``out``
    atomically. Returns the checkpoint dict (weights included)."""
    import torch
    from torch import nn
    torch.set_num_threads(max(1, cfg.train.threads))
    tc = cfg.train
    steps = tc.steps if steps is None else steps
    if steps < 1:
        raise ConfigError(f"--steps must be >= 1, got {steps}")
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    pilots = cfg.frame.pilot_pattern
    robust = make_robust(pilots.grid, _robust_params(tc))
    gen, disc = build_models(tc.width, n_in=robust.n_in, gate=tc.gate)
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
    best = (np.inf, None)
    it = range(1, steps + 1)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, desc="train cge", unit="step")
    t0 = time.time()
    for step in it:
        gen.train(), disc.train()
        y, h, snr = source.sample(tc.batch, rng)
        n0 = 10 ** (-snr / 10)
        x, h_rob, s, _ = make_inputs(y, pilots, n0, robust)
        cond = torch.from_numpy(x)                                            # (B, C_in, T, F)
        r = (h - h_rob) / np.sqrt(n0)[:, None, None]                          # correction / noise std
        real = torch.from_numpy(complex_to_channels(r))                       # (B, 2, T, F)
        fake = gen(cond)                                                      # (B, 2, T, F)
        # discriminator step
        d_real, d_fake = disc(cond, real), disc(cond, fake.detach())
        loss_d = bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        # generator step
        d_fake = disc(cond, fake)
        adv = bce(d_fake, torch.ones_like(d_fake))
        l1 = (fake - real).abs().mean()
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
            res = _validate(gen, val, pilots, tc.val_snr_db, robust)
            history["val_step"].append(step)
            history["val_nmse_db"].append({k: [float(10 * np.log10(v)) for v in vals] for k, vals in res.items()})
            mean_db = float(np.mean([10 * np.log10(v) for vals in res.values() for v in vals]))
            if mean_db < best[0]:
                best = (mean_db, {k: v.detach().clone() for k, v in gen.state_dict().items()}, res)
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
    n_in = make_robust(pilots.grid, _robust_params(tc)).n_in
    gen, _ = build_models(tc.width, n_in=n_in, gate=tc.gate)
    gen.load_state_dict(state)
    nmse = np.mean([res[k] for k in res], axis=0)                                # mean over profiles
    snrs = list(tc.val_snr_db) if "captures" not in res else [float(np.median(source.snr_db))]
    return {
        "format": CHECKPOINT_FORMAT,
        "signature": pilot_signature(pilots),
        "model": {"width": tc.width, "n_in": n_in, "gate": tc.gate, "robust": _robust_params(tc)},
        "generator": gen.state_dict(),
        "discriminator": disc.state_dict(),
        "config": cfg.to_dict(),
        "data": source.describe(),
        "validation": {"snr_db": snrs, "nmse": [float(v) for v in nmse],
                       "per_profile": {k: [float(v) for v in vals] for k, vals in res.items()}},
        "history": history,
        "train": {"steps": step, "seconds": time.time() - t0, "command": command,
                  "generator_params": param_count(gen), "discriminator_params": param_count(disc)},
        "versions": _versions(),
    }


def _validate(gen, val: dict, pilots, snrs, robust) -> dict:
    """NMSE per validation SNR and profile; a capture set (mixed SNRs) gives one overall value."""
    out = {}
    for prof, (y, h, snr) in val.items():
        pred = predict(gen, y, pilots, snr, robust)
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
