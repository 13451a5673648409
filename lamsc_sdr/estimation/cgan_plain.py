"""The LAM-MSC paper's *plain* conditional-GAN channel estimator, for the ablation beside our hybrid CGE.

What the paper describes and nothing more: the generator maps the condition -- the pilot image
(received pilots divided by the known pilot symbols, zero elsewhere) and the received grid, each
as (real, imag) channels -- straight to the channel (real, imag); three down-sampling conv blocks,
two up-sampling deconv blocks and an output layer, LeakyReLU; a discriminator of four conv layers
with ReLU judges (condition, channel) pairs; adversarial loss plus 100 x L1; trained at 15 dB on
the authors' 5-tap profile. No LMMSE bank, no residual over an LMMSE estimate, no noise-level
input (contrast :mod:`.cgan`). The only preprocessing is dividing by the slot's pilot RMS ``s``
(and multiplying the output back), so the gain of a capture does not matter.

The error variance it reports is its validation MSE at the training SNR times ``s^2`` (it has no
model of its own error at other SNRs). Train: ``python -m lamsc_sdr.estimation.cgan_plain --out P``.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from ..errors import CheckpointMismatchError
from ..phy.config import FrameConfig
from ..phy.pilots import PilotPattern
from .base import ChannelEstimator

FORMAT = "lamsc-cgan-plain-1"
DEFAULT_CHECKPOINT = Path(__file__).parent / "checkpoints" / "cgan_plain.pt"


def build(width: int = 16, slope: float = 0.2):
    """(generator, discriminator): x (B, 4, T, F) -> h (B, 2, T, F); D((B, 6, T, F)) -> logits patch."""
    import torch
    nn = torch.nn

    class Gen(nn.Module):
        def __init__(self):
            super().__init__()
            act = nn.LeakyReLU(slope)
            self.down = nn.Sequential(nn.Conv2d(4, width, 3, (1, 2), 1), act,            # (w, T, F/2)
                                      nn.Conv2d(width, 2 * width, 3, (2, 2), 1), act,    # (2w, T/2, F/4)
                                      nn.Conv2d(2 * width, 4 * width, 3, (2, 2), 1), act)  # (4w, T/4, F/8)
            self.up = nn.Sequential(nn.ConvTranspose2d(4 * width, 2 * width, 4, 2, 1), act,   # (2w, T/2, F/4)
                                    nn.ConvTranspose2d(2 * width, width, 4, 2, 1), act)       # (w, T, F/2)
            self.out = nn.ConvTranspose2d(width, 2, (3, 4), (1, 2), (1, 1))                   # (2, T, F)

        def forward(self, x):                                  # x: (B, 4, T, F), F a multiple of 8
            return self.out(self.up(self.down(x)))

    disc = nn.Sequential(nn.Conv2d(6, width, 3, 1, 1), nn.ReLU(), nn.Conv2d(width, width, 3, 2, 1), nn.ReLU(),
                         nn.Conv2d(width, width, 3, 2, 1), nn.ReLU(), nn.Conv2d(width, 1, 3, 1, 1))
    return Gen(), disc


def _inputs(y: np.ndarray, pilots: PilotPattern, pad: int) -> tuple[np.ndarray, np.ndarray]:
    """y (B, T, F) complex -> (x (B, 4, T, F+pad) float32, s (B,) pilot RMS)."""
    m = pilots.mask
    ls = np.where(m, y / np.where(m, pilots.values, 1), 0)
    s = np.sqrt(np.mean(np.abs(ls[:, m]) ** 2, axis=1)) + 1e-12           # (B,)
    ls, yn = ls / s[:, None, None], y / s[:, None, None]
    x = np.stack([ls.real, ls.imag, yn.real, yn.imag], 1).astype(np.float32)
    return np.pad(x, ((0, 0), (0, 0), (0, 0), (0, pad))), s


class PlainCGANEstimator(ChannelEstimator):
    """The paper's plain CGAN. Input/Output as :class:`~.base.ChannelEstimator`."""
    name = "cgan-plain"

    def __init__(self, gen, pilots_shape: tuple, mse: float, pad: int):
        self.gen, self.shape, self.mse, self.pad = gen, tuple(pilots_shape), float(mse), pad

    @classmethod
    def from_checkpoint(cls, path: str | Path | None, frame: FrameConfig) -> "PlainCGANEstimator":
        from ..checkpoints import load_torch
        ck = load_torch(path or DEFAULT_CHECKPOINT, "plain CGAN")         # verified against its sidecar
        if ck.get("format") != FORMAT:
            raise CheckpointMismatchError(f"{path}: not a plain-CGAN checkpoint (format {ck.get('format')!r})")
        if tuple(ck["grid_shape"]) != tuple(frame.pilot_pattern.grid.shape):
            raise CheckpointMismatchError(f"plain CGAN trained for grid {ck['grid_shape']}, frame has "
                                          f"{frame.pilot_pattern.grid.shape}")
        gen, _ = build(ck["width"])
        gen.load_state_dict(ck["generator"])
        gen.eval()
        return cls(gen, ck["grid_shape"], ck["val_mse"], ck["pad"])

    def estimate(self, y, pilots, noise_var):
        import torch
        lead = y.shape[:-2]
        yb = y.reshape((-1,) + y.shape[-2:])
        x, s = _inputs(yb, pilots, self.pad)
        with torch.no_grad():
            out = self.gen(torch.from_numpy(x)).numpy()[..., :yb.shape[-1]]    # (B, 2, T, F)
        h = (out[:, 0] + 1j * out[:, 1]) * s[:, None, None]
        err = np.broadcast_to((self.mse * s ** 2)[:, None, None], h.shape)
        return h.reshape(y.shape).astype(np.complex64), err.reshape(lead + y.shape[-2:]).astype(np.float32)


def train(frame: FrameConfig, out: str | Path, steps: int = 1500, batch: int = 64, seed: int = 0,
          snr_db: float = 15.0, profile: str = "lammsc", l1_weight: float = 100.0, width: int = 16) -> dict:
    """Adversarial + L1 training on simulated slots of ``profile`` at ``snr_db`` (the paper's setup)."""
    import torch
    from tqdm import tqdm
    from .cge_data import SimDataConfig, SimSource
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    src = SimSource(SimDataConfig(profiles=(profile,), snr_db=(snr_db, snr_db), doppler_hz=(0.0, 50.0)), frame)
    pilots = frame.pilot_pattern
    pad = (-pilots.grid.shape[1]) % 8
    gen, disc = build(width)
    og = torch.optim.Adam(gen.parameters(), 2e-4, betas=(0.5, 0.999))
    od = torch.optim.Adam(disc.parameters(), 2e-4, betas=(0.5, 0.999))
    bce = torch.nn.BCEWithLogitsLoss()

    def batch_of(n, r):
        y, h, _ = src.sample(n, r)
        x, s = _inputs(y, pilots, pad)
        hn = h / s[:, None, None]
        t = np.pad(np.stack([hn.real, hn.imag], 1).astype(np.float32), ((0, 0), (0, 0), (0, 0), (0, pad)))
        return torch.from_numpy(x), torch.from_numpy(t)

    vx, vt = batch_of(512, np.random.default_rng(seed + 1))
    t0 = time.perf_counter()
    for _ in tqdm(range(steps), desc="plain CGAN", unit="step"):
        x, t = batch_of(batch, rng)
        fake = gen(x)
        d_real, d_fake = disc(torch.cat([x, t], 1)), disc(torch.cat([x, fake.detach()], 1))
        ld = bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))
        od.zero_grad()
        ld.backward()
        od.step()
        d_fake = disc(torch.cat([x, fake], 1))
        lg = bce(d_fake, torch.ones_like(d_fake)) + l1_weight * (fake - t).abs().mean()
        og.zero_grad()
        lg.backward()
        og.step()
    with torch.no_grad():
        val_mse = float(((gen(vx) - vt)[..., :pilots.grid.shape[1]] ** 2).sum(1).mean())
    from ..config_base import to_dict
    from ..provenance import versions
    train_cfg = {"steps": steps, "batch": batch, "seed": seed, "snr_db": snr_db, "profile": profile,
                 "l1_weight": l1_weight, "width": width, "frame": to_dict(frame)}
    ck = {"format": FORMAT, "generator": gen.state_dict(), "width": width, "pad": pad,
          "config": train_cfg, "versions": versions(),
          "grid_shape": list(pilots.grid.shape), "val_mse": val_mse,
          "train": json.dumps({"steps": steps, "batch": batch, "seed": seed, "snr_db": snr_db, "profile": profile,
                               "l1_weight": l1_weight, "seconds": round(time.perf_counter() - t0, 1)})}
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    torch.save(ck, str(out))
    return {"val_nmse_db": 10 * np.log10(val_mse), **json.loads(ck["train"])}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="train the paper's plain CGAN estimator (ablation)")
    ap.add_argument("--out", default=str(DEFAULT_CHECKPOINT))
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    import torch
    torch.set_num_threads(1)
    print(json.dumps(train(FrameConfig(), a.out, a.steps, seed=a.seed)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
