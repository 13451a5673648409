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
                   correction_gain, gain_at, make_conditioning, make_inputs, param_count,
                   pilot_signature)
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
    stats_planes: bool = False            # also feed the fitted statistics (r_f, r_t) as 4 input planes
    families: int = 1                     # channel families per step (each fitted on its own stats_slots)
    workers: int = 0                      # processes preparing batches (0: in the training process)
    max_seconds: float = 0.0              # stop (validate, save) after this wall time; 0: no limit.
                                          # The learning rate follows max(step/steps, elapsed/max_seconds)
    threads: int = 1
    val_every: int = 500
    val_per_snr: int = 200              # validation slots per SNR and training profile
    val_snr_db: tuple[float, ...] = (0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0)

    def __post_init__(self):
        if self.recon not in ("l1", "l2"):
            raise ConfigError(f"train.recon: expected l1 or l2, got {self.recon!r}")
        if self.families < 1 or self.batch < self.families:
            raise ConfigError(f"train.families: expected 1..batch ({self.batch}), got {self.families}")
        if self.workers < 0 or self.max_seconds < 0:
            raise ConfigError("train.workers and train.max_seconds must be >= 0")

    @property
    def n_in(self) -> int:
        from .cgan import N_IN, N_IN_STATS
        return N_IN_STATS if self.stats_planes else N_IN


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


def predict(gen, y, pilots, snr_db, cond, batch: int = 512, device: str = "cpu", n_in: int = 8):
    """Generator estimates for y (B, T, F) at snr_db (B,) through the conditioning ``cond``
    (``n_in``: the generator's input planes). Output: estimate (B, T, F) complex64, the conditioning's
    estimate h_est (B, T, F) complex64, and the slots' own SNR ``10 log10(s^2 / N0)`` (B,) in dB
    (the quantity the correction gain is tabulated on, :func:`correction_gain`)."""
    import torch
    out = np.empty(y.shape, np.complex64)
    base = np.empty(y.shape, np.complex64)
    slot_snr = np.empty(y.shape[0])
    with torch.inference_mode():
        for i in range(0, y.shape[0], batch):
            x, h_est, s, sigma = make_inputs(y[i:i + batch], pilots, 10 ** (-snr_db[i:i + batch] / 10), cond, n_in)
            hn = gen.estimate(torch.from_numpy(x).to(device)).cpu().numpy()
            out[i:i + batch] = channels_to_complex(hn) * s[:, None, None]
            base[i:i + batch] = h_est
            slot_snr[i:i + batch] = -20 * np.log10(sigma)
    return out, base, slot_snr


def _init_generator(tc: "TrainConfig", pilots, where: str):
    """Generator to start from: fresh (output layer zero: the adaptive LMMSE), or a checkpoint's."""
    from .cgan import DEFAULT_CHECKPOINT, check_signature, load_checkpoint
    gen, disc = build_models(tc.width, n_in=tc.n_in)
    if tc.init:
        path = DEFAULT_CHECKPOINT if tc.init == "shipped" else Path(tc.init)
        ck = load_checkpoint(path)
        check_signature(ck, pilots, str(path))
        have = (ck.get("model", {}).get("width"), ck.get("model", {}).get("n_in", 8))
        if have != (tc.width, tc.n_in):
            raise ConfigError(f"train.init: {path} has width {have[0]} and {have[1]} input planes, "
                              f"the config {tc.width} and {tc.n_in} ({where})")
        gen.load_state_dict(ck["generator"])
        if "discriminator" in ck:
            disc.load_state_dict(ck["discriminator"])
    return gen, disc


def make_batch(source, cfg: CGEConfig, cond, step: int):
    """The training batch of ``step`` (a pure function of ``cfg.seed`` and ``step``, so any number of
    worker processes gives the same batches): ``families`` draws of ``stats_slots`` slots, each
    conditioned on its own fitted statistics, ``batch // families`` kept from each.
    Output: x (B, n_in, T, F) float32, r (B, 2, T, F) float32 (the correction in noise units)."""
    tc = cfg.train
    rng = np.random.default_rng([cfg.seed, step])
    pilots = cfg.frame.pilot_pattern
    xs, rs = [], []
    for j in range(tc.families):
        keep = tc.batch // tc.families + (j < tc.batch % tc.families)
        y, h, snr = source.sample(max(keep, tc.stats_slots), rng)
        n0 = 10 ** (-snr / 10)
        x, h_est, _, _ = make_inputs(y, pilots, n0, cond, tc.n_in)
        xs.append(x[:keep])
        rs.append(complex_to_channels((h[:keep] - h_est[:keep]) / np.sqrt(n0[:keep])[:, None, None]))
    return np.concatenate(xs), np.concatenate(rs)


_WORKER: dict = {}


def _worker_batch(step: int):
    w = _WORKER
    return make_batch(w["source"], w["cfg"], w["cond"], step)


def _batches(source, cfg: CGEConfig, steps: int):
    """Iterator over (step, x, r) for steps 1..steps, from ``train.workers`` forked processes
    (ordered, so the result does not depend on their number; forked here, before any CUDA work)
    or in this process. ``close()`` it to end the workers."""
    cond = make_conditioning(cfg.frame.pilot_pattern, track=False)   # each batch: statistics from its own slots
    pool = None
    if cfg.train.workers > 0:
        import multiprocessing as mp
        _WORKER.update(source=source, cfg=cfg, cond=cond)
        pool = mp.get_context("fork").Pool(cfg.train.workers)

    def gen():
        try:
            if pool is None:
                for step in range(1, steps + 1):
                    yield (step, *make_batch(source, cfg, cond, step))
            else:
                for step, (x, r) in enumerate(pool.imap(_worker_batch, range(1, steps + 1), chunksize=2), 1):
                    yield step, x, r
        finally:
            if pool is not None:
                pool.terminate()
    return gen()


def train_cge(cfg: CGEConfig, source, out: str | Path, steps: int | None = None, progress: bool = True,
              curves: str | Path | None = None, command: str = "", device: str = "auto") -> dict:
    """Train the CGE on ``source`` (a SimSource or CaptureSource) and write the checkpoint ``out``
    atomically. ``device``: auto | cpu | cuda. Returns the checkpoint dict (weights included)."""
    import torch
    from torch import nn
    torch.set_num_threads(max(1, cfg.train.threads))
    tc = cfg.train
    steps = tc.steps if steps is None else steps
    if steps < 1:
        raise ConfigError(f"--steps must be >= 1, got {steps}")
    dev = resolve_device(device)
    torch.manual_seed(cfg.seed)
    pilots = cfg.frame.pilot_pattern
    gen, disc = _init_generator(tc, pilots, str(out))
    batches = _batches(source, cfg, steps)               # workers fork before any CUDA work
    gen.to(dev), disc.to(dev)
    opt_g = torch.optim.Adam(gen.parameters(), tc.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), tc.lr, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    profiles = list(getattr(getattr(source, "cfg", None), "profiles", ["captures"]))
    val = _validation_set(source, cfg, profiles) if hasattr(source, "channels") else \
        {"captures": source.sample(min(2000, source.y.shape[0]), np.random.default_rng(cfg.seed + 1))}
    history = {"step": [], "loss_d": [], "loss_g_adv": [], "loss_l1": [], "val_step": [], "val_nmse_db": [],
               "val_snr_db": list(tc.val_snr_db) if hasattr(source, "channels") else ["all"]}
    # step 0 is a candidate too: the untrained generator is its conditioning (or the init checkpoint)
    gen.eval()
    res0, raw0, gain0 = _validate(gen, val, pilots, tc.val_snr_db, dev, tc.n_in)
    best = (_mean_db(res0), {k: v.detach().cpu().clone() for k, v in gen.state_dict().items()}, res0, raw0, gain0)
    log.info("step 0: validation mean NMSE %.2f dB (the untrained or initial generator)", best[0])
    history["val_step"].append(0)
    history["val_nmse_db"].append({k: [float(10 * np.log10(v)) for v in vals] for k, vals in res0.items()})
    it = batches
    if progress:
        from tqdm import tqdm
        it = tqdm(it, desc="train cge", unit="step", total=steps)
    t0 = time.time()
    step = 0
    for step, x, real in it:
        elapsed = time.time() - t0
        frac = min(1.0, max(step / steps, elapsed / tc.max_seconds if tc.max_seconds else 0.0))
        lr = tc.lr * (tc.lr_final_frac + (1 - tc.lr_final_frac) * 0.5 * (1 + np.cos(np.pi * frac)))
        for o in (opt_g, opt_d):
            for g in o.param_groups:
                g["lr"] = lr
        last = step == steps or (tc.max_seconds and elapsed >= tc.max_seconds)
        gen.train(), disc.train()
        real = torch.from_numpy(real).to(dev)                                 # (B, 2, T, F)
        x = torch.from_numpy(x).to(dev)                                       # (B, n_in, T, F)
        fake = gen(x)                                                         # (B, 2, T, F)
        adv = torch.zeros((), device=dev)
        loss_d = torch.zeros((), device=dev)
        if tc.adv_weight > 0:                                                 # discriminator step
            d_real, d_fake = disc(x, real), disc(x, fake.detach())
            loss_d = bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            d_fake = disc(x, fake)
            adv = bce(d_fake, torch.ones_like(d_fake))
        l1 = (fake - real).abs().mean() if tc.recon == "l1" else (fake - real).pow(2).mean()
        loss_g = tc.adv_weight * adv + tc.l1_weight * l1
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        if step % 10 == 0 or last:
            history["step"].append(step)
            history["loss_d"].append(float(loss_d.detach()))
            history["loss_g_adv"].append(float(adv.detach()))
            history["loss_l1"].append(float(l1.detach()))
        if step % tc.val_every == 0 or last:
            gen.eval()
            res, raw, gain = _validate(gen, val, pilots, tc.val_snr_db, dev, tc.n_in)
            history["val_step"].append(step)
            history["val_nmse_db"].append({k: [float(10 * np.log10(v)) for v in vals] for k, vals in res.items()})
            mean_db = _mean_db(res)
            if mean_db < best[0]:
                best = (mean_db, {k: v.detach().cpu().clone() for k, v in gen.state_dict().items()}, res, raw, gain)
                # the best generator so far is on disk at every validation (atomically)
                save_checkpoint(_checkpoint(cfg, pilots, best, disc, source, history, step, t0, command), out)
            if progress:
                it.set_postfix(val_nmse_db=f"{mean_db:.2f}", l1=f"{float(l1):.4f}")
            log.info("step %d: validation mean NMSE %.2f dB (without the gain %.2f; best %.2f); gain %s", step,
                     mean_db, _mean_db(raw), best[0], " ".join(f"{v:.2f}" for v in gain["gain"]))
        if last:
            break
    batches.close()
    ck = _checkpoint(cfg, pilots, best, disc, source, history, step, t0, command)
    save_checkpoint(ck, out)
    if curves:
        plot_curves(history, curves)
    return ck


def _mean_db(res: dict) -> float:
    return float(np.mean([10 * np.log10(v) for vals in res.values() for v in vals]))


def _checkpoint(cfg, pilots, best, disc, source, history, step, t0, command) -> dict:
    """The checkpoint dict: weights of the best generator, signature, config, data, validation, log."""
    tc = cfg.train
    _, state, res, raw, gain = best
    gen, _ = build_models(tc.width, n_in=tc.n_in)
    gen.load_state_dict(state)
    nmse = np.mean([res[k] for k in res], axis=0)                                # mean over profiles
    snrs = list(tc.val_snr_db) if "captures" not in res else [float(np.median(source.snr_db))]
    return {
        "format": CHECKPOINT_FORMAT,
        "signature": pilot_signature(pilots),
        "model": {"width": tc.width, **({"n_in": tc.n_in} if tc.stats_planes else {})},
        "generator": gen.state_dict(),
        "discriminator": {k: v.detach().cpu() for k, v in disc.state_dict().items()},
        "onnx": export_onnx(gen, pilots.grid.shape, tc.n_in),
        "config": cfg.to_dict(),
        "data": source.describe(),
        "validation": {"snr_db": snrs, "nmse": [float(v) for v in nmse],
                       "per_profile": {k: [float(v) for v in vals] for k, vals in res.items()},
                       "per_profile_without_gain": {k: [float(v) for v in vals] for k, vals in raw.items()}},
        "gain": gain,
        "history": history,
        "train": {"steps": step, "seconds": time.time() - t0, "command": command,
                  "generator_params": param_count(gen), "discriminator_params": param_count(disc)},
        "versions": _versions(),
    }


def _validate(gen, val: dict, pilots, snrs, device: str = "cpu", n_in: int = 8):
    """Validation NMSE per SNR and profile. Simulated sets: each (profile, SNR) chunk is one link whose
    statistics are fitted on the chunk (as in training); a capture set (mixed SNRs) is one link
    tracked as a receiver does, and gives one overall value. The generator's correction is scaled by
    the least-squares gain per slot-SNR bin fitted here (:func:`correction_gain`).
    Output: (NMSE with the gain {profile: (n_snr,)}, NMSE without it, the gain table)."""
    parts = []
    for prof, (y, h, snr) in val.items():
        if prof == "captures":
            cond = make_conditioning(pilots, {"refresh_slots": 256})
            parts.append((prof, None, h, *predict(gen, y, pilots, snr, cond, device=device, n_in=n_in)))
            continue
        for s in snrs:
            m = np.isclose(snr, s)
            if not m.any():
                raise ConfigError(f"no validation slots at {s} dB")
            cond = make_conditioning(pilots, track=False)
            parts.append((prof, s, h[m], *predict(gen, y[m], pilots, snr[m], cond, batch=int(m.sum()),
                                                  device=device, n_in=n_in)))
    cat = [np.concatenate([p[k] for p in parts]) for k in (2, 3, 4, 5)]            # h, pred, base, slot_snr
    gain = correction_gain(cat[1] - cat[2], cat[0] - cat[2], cat[3])
    raw, gated = {}, {}
    for prof, s, h, pred, base, slot_snr in parts:
        g = gain_at(gain, slot_snr)[:, None, None]
        for out, est in ((raw, pred), (gated, base + g * (pred - base))):
            out.setdefault(prof, []).append(float(np.sum(np.abs(est - h) ** 2) / np.sum(np.abs(h) ** 2)))
    return ({k: np.asarray(v) for k, v in gated.items()}, {k: np.asarray(v) for k, v in raw.items()}, gain)


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
