"""``lamsc eval text``: semantic codec vs. the conventional digital baseline over a channel.

Three transmission levels, named in the results (``"level"``):

* ``frame`` (default): the whole frame chain (:class:`FrameLink`): preamble, header, sync with CFO,
  pilots, estimator, equalizer, over :class:`lamsc_sdr.channel.Channel`. Both systems' symbols
  ride as the frame's complex payload (the baseline demaps its own QAM).
* ``grid`` (default): the symbols fill the data resource elements of OFDM slots (the frame's
  ``ResourceGrid`` and ``PilotPattern``); each slot sees a channel realization from
  :func:`lamsc_sdr.channel.grid_channel` (``awgn``: H = 1), ``y = H X + n``; the receiver estimates
  H from the pilots with the chosen estimator (:func:`lamsc_sdr.estimation.make_estimator`) and
  equalizes with the unbiased MMSE equalizer, handing each system ``(x_hat, nv_eff)`` per symbol.
  No time-domain synchronization (that is the frame chain's job).
* ``symbol``: the idealized per-symbol model of :mod:`.channel_sim` (AWGN, or i.i.d. Rayleigh with
  LS-like error variance ``c * N0``: c = 1 for ``ls``, 0.25 for ``lmmse``, 0 for ``perfect``).

Both systems cross the same channel at the same SNR (Es/N0 per resource element); the baseline
gets at most the semantic codec's channel uses for each message (``channel_uses`` = mean used).
"""
from __future__ import annotations

import logging
import math
import time
from typing import Sequence

import numpy as np

from ..errors import ConfigError
from .baseline import DigitalBaseline, Mcs, demodulate_many, modulate, payload_bits, bits_to_text
from .metrics import mean_bleu
from .similarity import embed

log = logging.getLogger(__name__)
_SYMBOL_CSI = {"perfect": 0.0, "lmmse": 0.25, "ls": 1.0}


class GridLink:
    """Messages of complex symbols through OFDM slots, a channel profile and an estimator.

    ``__call__(symbols_list, snr_db, rng) -> (x_hat_list, nv_list)``, each (n_i,) complex64 / float32.
    """

    def __init__(self, frame_cfg, channel: str, estimator: str):
        from ..channel import canonical_name, grid_channel  # noqa: F401 -- validates the name below
        from ..estimation import make_estimator
        from ..estimation.config import EstimatorConfig

        self.frame = frame_cfg
        self.grid = frame_cfg.grid
        self.pilots = frame_cfg.pilot_pattern
        self.profile = canonical_name(channel)
        self.est_kind = estimator
        self.estimator = make_estimator(EstimatorConfig(kind=estimator), frame_cfg, self.profile)
        self.n_data = self.pilots.n_data

    def __call__(self, symbols_list: Sequence[np.ndarray], snr_db: float, rng: np.random.Generator):
        from ..channel import grid_channel
        from ..estimation.equalize import equalize

        T, F = self.grid.shape
        slots_per = [max(1, math.ceil(len(z) / self.n_data)) for z in symbols_list]
        n_slots = sum(slots_per)
        X = np.where(self.pilots.mask, self.pilots.values, 0).astype(np.complex64)
        X = np.repeat(X[None], n_slots, axis=0)                                     # (S, T, F)
        fill = (rng.choice([-1, 1], (n_slots, self.n_data)) + 1j * rng.choice([-1, 1], (n_slots, self.n_data))) / np.sqrt(2)
        data = fill.astype(np.complex64)                                            # (S, n_data) filler QPSK
        s = 0
        for z, k in zip(symbols_list, slots_per):
            flat = data[s:s + k].reshape(-1)
            flat[:len(z)] = z
            data[s:s + k] = flat.reshape(k, self.n_data)
            s += k
        ti, fi = self.pilots.data_index
        X[:, ti, fi] = data
        if self.profile == "awgn":
            H = np.ones((n_slots, T, F), np.complex64)
        else:
            H = grid_channel(self.profile, self.grid, n_slots, rng)
        n0 = 10.0 ** (-snr_db / 10.0)
        noise = (rng.standard_normal(X.shape) + 1j * rng.standard_normal(X.shape)) * np.sqrt(n0 / 2)
        Y = (H * X + noise).astype(np.complex64)
        if self.est_kind == "perfect":
            h_hat, err = self.estimator(Y, self.pilots, n0, truth=H)
        else:
            h_hat, err = self.estimator(Y, self.pilots, n0)
        xh, nv = equalize(Y, h_hat, err, n0, kind="mmse", unbiased=True)
        xd, nvd = xh[:, ti, fi], nv[:, ti, fi]                                       # (S, n_data)
        out_x, out_nv, s = [], [], 0
        for z, k in zip(symbols_list, slots_per):
            out_x.append(xd[s:s + k].reshape(-1)[:len(z)].astype(np.complex64))
            out_nv.append(nvd[s:s + k].reshape(-1)[:len(z)].astype(np.float32))
            s += k
        return out_x, out_nv


class FrameLink:
    """Messages through the whole frame chain: ``FrameTransmitter.modulate_symbols`` (one burst per
    message, analog payload -- the baseline's QAM symbols travel the same way and are demapped by
    the baseline itself) -> streams of ``frames_per_stream`` bursts with random gaps ->
    :class:`lamsc_sdr.channel.Channel` fading (one realization per burst; none for ``awgn``) ->
    random CFO in +-``cfo_max_hz`` -> AWGN -> ``FrameReceiver`` (detection, sync, header CRC,
    estimator, unbiased MMSE equalizer). A message whose frame is missed or whose header fails its
    CRC comes back as ``None`` (lost).
    """

    def __init__(self, frame_cfg, channel: str, estimator: str, cfo_max_hz: float = 20e3,
                 frames_per_stream: int = 10):
        from ..channel import Channel, ChannelConfig, canonical_name
        from ..estimation import make_estimator
        from ..estimation.config import EstimatorConfig
        from ..phy.frame import FrameTransmitter

        self.cfg = frame_cfg
        self.profile = canonical_name(channel)
        self.est_kind = estimator
        self.tx = FrameTransmitter(frame_cfg)
        self.fading = self.profile != "awgn"
        self.chan = (Channel(ChannelConfig(model=self.profile, snr_db=float("inf")), frame_cfg.sample_rate)
                     if self.fading else None)
        self.estimator = make_estimator(EstimatorConfig(kind=estimator), frame_cfg, self.profile)
        self.cfo_max_hz, self.per_stream = cfo_max_hz, frames_per_stream
        self.lost = 0

    def __call__(self, symbols_list, snr_db, rng):
        from ..phy.evaluate import _channel_fns, fade_bursts, make_stream
        from ..phy.frame import FrameReceiver
        from ..phy.genie import CfoTruth, ChannelTruth
        from ..phy.header import FrameHeader

        awgn, apply_cfo = _channel_fns()
        out_x: list = [None] * len(symbols_list)
        out_nv: list = [None] * len(symbols_list)
        todo = [i for i, z in enumerate(symbols_list) if len(z)]
        for i, z in enumerate(symbols_list):
            if not len(z):
                out_x[i], out_nv[i] = np.zeros(0, np.complex64), np.zeros(0, np.float32)
        rx = FrameReceiver(self.cfg, self.estimator)
        for lo in range(0, len(todo), self.per_stream):
            ids = todo[lo:lo + self.per_stream]
            bursts = [self.tx.modulate_symbols(symbols_list[i], FrameHeader(message_id=j)) for j, i in enumerate(ids)]
            clean, starts = make_stream(self.tx, bursts, rng)
            states = None
            if self.fading:
                clean, states = fade_bursts(bursts, starts, clean.size, self.chan, rng)
            cfo = float(rng.uniform(-self.cfo_max_hz, self.cfo_max_hz))
            ph = float(rng.uniform(0, 2 * np.pi))
            y = awgn(apply_cfo(clean, cfo, self.cfg.sample_rate, phase0=ph), snr_db, rng)
            truth = None
            if self.est_kind == "perfect":
                truth = (ChannelTruth(starts, states, cfo, self.cfg, ph) if self.fading
                         else CfoTruth(starts, cfo, self.cfg, ph))
            for f in rx.process(y, truth=truth):
                if f.status != "ok" or f.header is None or f.header.message_id >= len(ids):
                    continue
                i = ids[f.header.message_id]
                if out_x[i] is None and f.symbols is not None and f.symbols.size == len(symbols_list[i]):
                    out_x[i], out_nv[i] = f.symbols, f.noise_var
        self.lost += sum(x is None for x in out_x)
        return out_x, out_nv


class SymbolLink:
    """The per-symbol channel model of :mod:`.channel_sim` with the same call signature as GridLink."""

    def __init__(self, channel: str, estimator: str):
        if channel not in ("awgn", "rayleigh"):
            raise ConfigError(f"--level symbol supports --channel awgn|rayleigh, got {channel!r}")
        self.kind, self.c = channel, _SYMBOL_CSI[estimator]

    def __call__(self, symbols_list, snr_db, rng):
        from .channel_sim import numpy_channel
        ys, nvs = [], []
        for z in symbols_list:
            y, nv = numpy_channel(z, snr_db, self.kind, rng, self.c)
            ys.append(y)
            nvs.append(nv)
        return ys, nvs


def _scores(refs, hyps, ref_emb, threshold):
    hyp_emb = embed(hyps)
    sim = np.sum(ref_emb * hyp_emb, axis=1)
    empty = np.array([not h.strip() and not r.strip() for r, h in zip(refs, hyps)])
    sim = np.where(empty, 1.0, sim)
    return {"bleu1": mean_bleu(refs, hyps, 1), "bleu4": mean_bleu(refs, hyps, 4),
            "similarity": float(np.mean(sim)), "accuracy": float(np.mean(sim > threshold))}


def evaluate_text(codec, sentences: list[str], link, snrs: Sequence[float], rng: np.random.Generator,
                  threshold: float = 0.6, reference_mcs: Mcs | None = Mcs("qpsk", "1/2")) -> list[dict]:
    """One row per (system, SNR): bleu1, bleu4, similarity, accuracy, channel_uses (mean per message).

    Systems: ``semantic``; ``baseline`` (equal channel-use budget per message); and, with
    ``reference_mcs``, ``baseline-<mcs>`` at that fixed MCS (as many channel uses as it needs).
    """
    segs = [codec.segments(s) for s in sentences]
    flat = [p for ss in segs for p in ss]
    owner = [i for i, ss in enumerate(segs) for _ in ss]
    z = codec.encode(flat)
    sem_uses = np.zeros(len(sentences), int)
    for i, zz in zip(owner, z):
        sem_uses[i] += len(zz)
    base = DigitalBaseline()
    bz, bmeta = base.encode(sentences, list(sem_uses))
    base_uses = np.array([len(b) for b in bz])
    fits = np.mean([m is not None for m in bmeta])
    mcs_hist: dict[str, int] = {}
    for m in bmeta:
        key = "none (does not fit)" if m is None else str(m["mcs"])
        mcs_hist[key] = mcs_hist.get(key, 0) + 1
    ref_bits = ref_syms = None
    if reference_mcs is not None:
        ref_bits = [payload_bits(s) for s in sentences]
        ref_syms = [modulate(b, reference_mcs) for b in ref_bits]
    ref_emb = embed(sentences)
    rows = []
    for snr in snrs:
        t0 = time.time()
        y, nv = link(z, snr, rng)
        ok = [i for i, yy in enumerate(y) if yy is not None]
        dec = [""] * len(z)
        for i, d in zip(ok, codec.decode([y[i] for i in ok], [nv[i] for i in ok])):
            dec[i] = d
        lost_sem = len(z) - len(ok)
        parts: list[list[str]] = [[] for _ in sentences]
        for i, d in zip(owner, dec):
            if d.strip():
                parts[i].append(d.strip())
        hyps = [" ".join(p) for p in parts]                       # as SemanticCodec.decode_message
        rows.append({"system": "semantic", "snr_db": float(snr), **_scores(sentences, hyps, ref_emb, threshold),
                     "channel_uses": float(sem_uses.mean()), "segments_lost": lost_sem})
        by, bnv = link(bz, snr, rng)
        bmeta_rx = [m if yy is not None else None for m, yy in zip(bmeta, by)]
        bh = base.decode(by, bnv, bmeta_rx)
        rows.append({"system": "baseline", "snr_db": float(snr), **_scores(sentences, bh, ref_emb, threshold),
                     "channel_uses": float(base_uses.mean()), "fits_budget": float(fits), "mcs": mcs_hist,
                     "message_success": float(np.mean([h == s for h, s in zip(bh, sentences)]))})
        if reference_mcs is not None:
            ry, rnv = link(ref_syms, snr, rng)
            rok = [i for i, yy in enumerate(ry) if yy is not None]
            rb = demodulate_many([ry[i] for i in rok], [rnv[i] for i in rok], [len(ref_bits[i]) for i in rok],
                                 [reference_mcs] * len(rok))
            rh = [""] * len(sentences)
            for i, b in zip(rok, rb):
                rh[i] = bits_to_text(b) or ""
            rows.append({"system": f"baseline-{reference_mcs.modulation}-{reference_mcs.rate}", "snr_db": float(snr),
                         **_scores(sentences, rh, ref_emb, threshold),
                         "channel_uses": float(np.mean([len(s) for s in ref_syms])),
                         "message_success": float(np.mean([h == s for h, s in zip(rh, sentences)]))})
        log.info("SNR %.1f dB: %s (%.1f s)", snr, ", ".join(f"{r['system']} sim {r['similarity']:.3f}"
                                                          for r in rows if r["snr_db"] == snr), time.time() - t0)
    return rows


def plot_results(rows: list[dict], path, title: str) -> None:
    """Similarity, accuracy and BLEU-1/4 vs SNR for every system -> PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    systems = list(dict.fromkeys(r["system"] for r in rows))
    fig, ax = plt.subplots(1, 3, figsize=(14, 4))
    for j, s in enumerate(systems):
        rr = [r for r in rows if r["system"] == s]
        x = [r["snr_db"] for r in rr]
        lab = f"{s} ({np.mean([r['channel_uses'] for r in rr]):.0f} uses)"
        c = f"C{j}"
        ax[0].plot(x, [r["similarity"] for r in rr], "o-", color=c, label=lab)
        ax[1].plot(x, [r["accuracy"] for r in rr], "o-", color=c, label=lab)
        ax[2].plot(x, [r["bleu1"] for r in rr], "o-", color=c, label=f"{s} BLEU-1")
        ax[2].plot(x, [r["bleu4"] for r in rr], "s--", color=c, alpha=0.7, label=f"{s} BLEU-4")
    for a, yl in zip(ax, ["similarity (MiniLM cosine)", "accuracy (sim > threshold)", "BLEU"]):
        a.set(xlabel="SNR (dB, Es/N0 per resource element)", ylabel=yl, ylim=(-0.02, 1.02))
        a.grid(alpha=0.3)
        a.legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
