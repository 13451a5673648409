"""CGE training data: simulated slots over profiles/SNR/Doppler/residual CFO, and SigMF captures.

A *source* yields batches ``(y, h, snr_db)``: received slot grids ``y (B, T, F) complex64``, the
reference channel ``h (B, T, F) complex64`` the generator must learn, and the per-slot SNR
``snr_db (B,) float64`` (Es/N0 per resource element; N0 = 10**(-snr_db/10) relative to unit Es).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import CaptureError, ConfigError, ShapeError
from ..phy.config import FrameConfig
from . import stats
from .evaluate import transmit_grid


@dataclass(frozen=True)
class SimDataConfig:
    """Simulation ranges (``data:`` in the CGE training YAML)."""

    profiles: tuple[str, ...] = ("lammsc", "epa", "tdl-a", "tdl-c")
    delay_spread_ns: tuple[float, float] = (30.0, 1000.0)   # TDL-A..E: log-uniform in this range
    snr_db: tuple[float, float] = (0.0, 30.0)               # uniform
    doppler_hz: tuple[float, float] = (0.0, 200.0)          # uniform max Doppler
    cfo_frac: float = 0.01                                  # residual CFO, uniform in +- this x subcarrier spacing
    pool: int = 64                                          # channel draws per (profile, delay spread, Doppler) call
    timing_jitter_samples: float = 0.0                      # receiver timing error, uniform in +- this (samples) ...
    timing_jitter_prob: float = 0.5                         # ... on this fraction of the slots

    def __post_init__(self):
        if not self.profiles:
            raise ConfigError("data.profiles: at least one training profile is needed")
        lo, hi = self.snr_db
        if hi < lo:
            raise ConfigError(f"data.snr_db: [{lo}, {hi}] is empty")


def residual_cfo(h: np.ndarray, frac: np.ndarray, fft_size: int, cp_len: int) -> np.ndarray:
    """The common phase a residual CFO of ``frac`` subcarrier spacings puts on each OFDM symbol
    (its inter-carrier interference, ~(pi frac)^2/3 of the power, is neglected).
    h: (B, T, F), frac: (B,) -> (B, T, F) complex64."""
    t = np.arange(h.shape[-2])
    phase = 2 * np.pi * frac[:, None] * t[None, :] * (fft_size + cp_len) / fft_size    # (B, T)
    return (h * np.exp(1j * phase)[:, :, None]).astype(np.complex64)


def timing_shift(h: np.ndarray, d: np.ndarray, used_k: np.ndarray, fft_size: int) -> np.ndarray:
    """The channel a receiver sees with its FFT window ``d`` samples early (all delays + d).
    h: (B, T, F), d: (B,) -> (B, T, F) complex64."""
    ramp = np.exp(-2j * np.pi * d[:, None] * np.asarray(used_k)[None, :] / fft_size)     # (B, F)
    return (h * ramp[:, None, :]).astype(np.complex64)


class SimSource:
    """Simulated training slots for ``frame`` (pure function of the ``rng`` handed to ``sample``)."""

    def __init__(self, cfg: SimDataConfig, frame: FrameConfig):
        self.cfg, self.frame = cfg, frame
        self.grid, self.pilots = frame.grid, frame.pilot_pattern
        for p in cfg.profiles:                      # fail early on unknown profile names
            stats.grid_channel(p, self.grid, 1, np.random.default_rng(0))

    def describe(self) -> dict:
        import dataclasses
        return {"source": "sim", **dataclasses.asdict(self.cfg)}

    def channels(self, n: int, rng: np.random.Generator, profile: str | None = None) -> np.ndarray:
        """(n, T, F) complex64 channel draws, each block from a random profile/delay spread/Doppler."""
        c = self.cfg
        out = []
        while sum(len(o) for o in out) < n:
            prof = profile or c.profiles[rng.integers(len(c.profiles))]
            ds = float(np.exp(rng.uniform(np.log(c.delay_spread_ns[0]), np.log(c.delay_spread_ns[1]))))
            fd = float(rng.uniform(*c.doppler_hz))
            out.append(stats.grid_channel(prof, self.grid, min(c.pool, n), rng, fd, ds))
        h = np.concatenate(out)[:n]
        frac = rng.uniform(-c.cfo_frac, c.cfo_frac, size=n)
        h = residual_cfo(h, frac, self.grid.fft_size, self.grid.cp_len)
        if c.timing_jitter_samples > 0:
            d = rng.uniform(-c.timing_jitter_samples, c.timing_jitter_samples, size=n)
            d = np.where(rng.random(n) < c.timing_jitter_prob, d, 0.0)
            h = timing_shift(h, d, self.grid.used_k, self.grid.fft_size)
        return h

    def sample(self, n: int, rng: np.random.Generator, snr_db=None, profile: str | None = None):
        """A batch: y (n, T, F) complex64, h (n, T, F) complex64, snr_db (n,) float64."""
        h = self.channels(n, rng, profile)
        snr = rng.uniform(*self.cfg.snr_db, size=n) if snr_db is None else np.broadcast_to(
            np.asarray(snr_db, float), (n,)).copy()
        y, _ = transmit_grid(h, self.pilots, snr, rng)
        return y, h, snr


# -- captures ------------------------------------------------------------------------------
def reference_channel(y: np.ndarray, x: np.ndarray, min_power: float = 0.25) -> np.ndarray:
    """LS over every known resource element: ``H_ref = Y / X`` where the transmitted ``X`` is known
    (pilots and data alike). y, x: (B, T, F) complex -> (B, T, F) complex64.
    Elements where ``|X|^2 < min_power`` (nulls, and the weak symbols of a Gaussian analog payload,
    where ``Y/X`` would amplify the noise; 22 % of them at 0.25) are interpolated from their
    neighbours along frequency."""
    y = np.asarray(y)
    x = np.asarray(x)
    if y.shape != x.shape:
        raise ShapeError(f"received {y.shape} and transmitted {x.shape} grids differ in shape")
    ok = np.abs(x) ** 2 >= min_power
    h = np.where(ok, y / np.where(ok, x, 1), 0).astype(np.complex64)
    if not ok.all():
        f = np.arange(y.shape[-1])
        for idx in zip(*np.nonzero(~ok.all(axis=-1))):
            m = ok[idx]
            if not m.any():
                raise ShapeError(f"slot {idx}: no known transmitted element to reference")
            h[idx] = np.interp(f, f[m], h[idx][m].real) + 1j * np.interp(f, f[m], h[idx][m].imag)
    return h


@dataclass
class CaptureSource:
    """Received slot grids and reference channels extracted from SigMF captures.

    Each capture (``lamsc_sdr.captures.read_capture``) must name its transmitted reference
    recording (``lamsc:reference``). Both are run through the frame receiver of ``frame``
    (detection, sync, FFT); the reference's slots give the transmitted grids ``X``, the capture's
    give ``Y`` and its per-frame SNR estimate, and ``H_ref = Y / X`` over all known elements.
    The extracted set is held in memory; ``sample`` draws slots at random from it.
    """

    paths: list
    frame: FrameConfig
    y: np.ndarray = field(init=False)
    h: np.ndarray = field(init=False)
    snr_db: np.ndarray = field(init=False)

    def __post_init__(self):
        files = self._expand(self.paths)
        ys, hs, snrs = [], [], []
        for f in files:
            y, h, s = extract_capture(f, self.frame)
            ys.append(y), hs.append(h), snrs.append(s)
        self.y, self.h, self.snr_db = np.concatenate(ys), np.concatenate(hs), np.concatenate(snrs)
        if self.y.shape[0] == 0:
            raise CaptureError(f"captures {', '.join(map(str, files))}: no decodable slots with a reference")
        self.files = [str(f) for f in files]

    @staticmethod
    def _expand(paths) -> list[Path]:
        out = []
        for p in map(Path, paths):
            if p.is_dir():
                metas = sorted(p.glob("*.sigmf-meta"))
                refs = {_reference_name(m) for m in metas} - {None}
                # a folder holds captures and the transmitted references they name: train on the former
                out += [m for m in metas if m.name[:-len(".sigmf-meta")] not in refs]
            elif p.exists() or p.with_name(p.name + ".sigmf-meta").exists():
                out.append(p)
            else:
                raise CaptureError(f"capture {p} not found")
        if not out:
            raise CaptureError(f"no SigMF captures (*.sigmf-meta) in {', '.join(map(str, paths))}")
        return out

    def describe(self) -> dict:
        return {"source": "captures", "files": self.files, "slots": int(self.y.shape[0]),
                "snr_db_range": [float(self.snr_db.min()), float(self.snr_db.max())]}

    def sample(self, n: int, rng: np.random.Generator, snr_db=None, profile=None):
        idx = rng.integers(0, self.y.shape[0], size=n)
        return self.y[idx], self.h[idx], self.snr_db[idx]


def demod_response(x_rx: np.ndarray, frame: FrameConfig) -> np.ndarray:
    """What the frame receiver's own sync put on the clean reference (its timing ramp and CFO
    phase, a unit-magnitude "channel"), estimated from the reference's pilots against their known
    values by a robust LMMSE at negligible noise. x_rx (S, T, F) -> (S, T, F) complex64."""
    from .classical import robust_lmmse
    est = robust_lmmse(frame.grid, 300.0, pre_samples=4.0)
    g, _ = est(x_rx, frame.pilot_pattern, 1e-4)
    return np.where(np.abs(g) > 1e-3, g, 1.0).astype(np.complex64)


def _reference_name(meta: Path) -> str | None:
    """The ``lamsc:reference`` base name a SigMF meta file names (None if none or unreadable)."""
    import json
    try:
        ref = json.loads(meta.read_text()).get("global", {}).get("lamsc:reference")
    except (OSError, ValueError, AttributeError):
        return None
    return Path(ref).name if isinstance(ref, str) else None


def extract_capture(path, frame: FrameConfig):
    """Received grids, reference channels and SNRs of one capture.
    Output: y (S, T, F) complex64, h_ref (S, T, F) complex64, snr_db (S,) float64 (S slots) with
    ``10**(-snr_db/10)`` the noise variance in the grid's scale (receiver's SNR estimate x channel power)."""
    from ..captures.sigmf_io import read_capture
    try:
        from ..phy.frame import FrameReceiver
    except ImportError as err:
        raise CaptureError("reading captures needs the frame receiver (lamsc_sdr.phy.frame), "
                           "which this installation lacks") from err
    from . import LSEstimator
    cap = read_capture(path)
    ref = cap.reference()
    if ref is None:
        raise CaptureError(f"{cap.meta_path}: no transmitted reference (lamsc:reference) to train against")
    rx = FrameReceiver(frame, LSEstimator())
    rx_frames = [f for f in rx.process(cap.resampled(frame.sample_rate)) if f.crc_ok and f.header is not None]
    tx_frames = [f for f in FrameReceiver(frame, LSEstimator()).process(ref.resampled(frame.sample_rate))
                 if f.crc_ok and f.header is not None]
    tx_by_key = {(f.header.message_id, f.header.segment_index): f for f in tx_frames}
    ys, hs, snrs = [], [], []
    for f in rx_frames:
        t = tx_by_key.get((f.header.message_id, f.header.segment_index))
        if t is None or np.shape(t.grid) != np.shape(f.grid):
            continue
        y = np.asarray(f.grid, np.complex64).reshape(-1, *frame.grid.shape)
        x = np.asarray(t.grid, np.complex64).reshape(-1, *frame.grid.shape)
        x = x / demod_response(x, frame)          # the reference as sent, not as the receiver saw it
        h = reference_channel(y, x)
        # the receiver's SNR is signal (channel power) over noise; the sources' convention is
        # N0 = 10**(-snr/10) in the grid's own scale, so fold the channel power in
        p_h = float(np.mean(np.abs(h) ** 2))
        ys.append(y)
        hs.append(h)
        snrs.append(np.full(y.shape[0], float(f.snr_db) - 10 * np.log10(max(p_h, 1e-30))))
    if not ys:
        raise CaptureError(f"{cap.meta_path}: no frame matched its transmitted reference")
    return np.concatenate(ys), np.concatenate(hs), np.concatenate(snrs)
