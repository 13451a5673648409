"""Link-level measurements of the frame physical layer: BER vs SNR through the whole receiver,
synchronization statistics, receiver throughput. Pure functions of a config and an ``rng``.

Streams carry several frames with random gaps (noise between them) and one random CFO each,
uniform in +-``cfo_max_hz``; noise is complex AWGN at Es/N0 = ``snr_db`` per resource element.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np
from scipy.stats import beta

from .config import FrameConfig
from .frame import FrameReceiver, FrameTransmitter
from .genie import CfoTruth, ChannelTruth
from .header import FrameHeader
from .qam import ber_awgn, ber_rayleigh


def _channel_fns():
    """(awgn, apply_cfo) from lamsc_sdr.channel, or equivalent private versions."""
    try:
        from ..channel.impairments import apply_cfo, awgn
        return awgn, apply_cfo
    except ImportError:                                    # channel package not built yet
        def awgn(x, snr_db, rng, es=1.0):
            n0 = es * 10 ** (-snr_db / 10)
            w = rng.standard_normal((2, x.size), dtype=np.float32) * np.float32(np.sqrt(n0 / 2))
            return (x + (w[0] + 1j * w[1])).astype(np.complex64)

        def apply_cfo(x, cfo_hz, sample_rate, phase0=0.0, start=0):
            n = np.arange(start, start + x.size, dtype=np.float64)
            return (x * np.exp(1j * (2 * np.pi * cfo_hz / sample_rate * n + phase0))).astype(np.complex64)
        return awgn, apply_cfo


def make_stream(tx: FrameTransmitter, bursts: list[np.ndarray], rng: np.random.Generator,
                max_extra_gap: int = 2000) -> tuple[np.ndarray, list[int]]:
    """Bursts with ``gap_samples`` + a random extra gap before each. Output: (n,) complex64, starts."""
    parts, starts, pos = [], [], 0
    for b in bursts:
        gap = tx.cfg.gap_samples + int(rng.integers(0, max_extra_gap + 1))
        parts += [np.zeros(gap, np.complex64), b]
        starts.append(pos + gap)
        pos += gap + b.size
    parts.append(np.zeros(tx.cfg.gap_samples, np.complex64))
    return np.concatenate(parts), starts


def clopper_pearson(k: int, n: int, conf: float = 0.999) -> tuple[float, float]:
    """Exact two-sided binomial confidence interval of k successes in n trials."""
    a = 1 - conf
    lo = 0.0 if k == 0 else float(beta.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - a / 2, k + 1, n - k))
    return lo, hi


def fade_bursts(bursts: list[np.ndarray], starts: list[int], n: int, channel, rng: np.random.Generator):
    """Pass each burst through its own realization of ``channel`` (a noiseless, CFO-free
    :class:`lamsc_sdr.channel.Channel`) and add its whole output at the burst's start.
    Output: (n,) complex64 stream and the list of ``ChannelState`` (one per burst)."""
    out = np.zeros(n, np.complex64)
    states = []
    for b, s0 in zip(bursts, starts):
        yb, st = channel(b, rng)
        end = min(s0 + yb.size, n)
        out[s0:end] += yb[: end - s0]
        states.append(st)
    return out, states


def _theory(channel: str, modulation: str, snr: float, profile) -> float | None:
    """Closed-form uncoded BER with perfect CSI: AWGN, or Rayleigh for any channel whose frequency
    response is CN(0, 1) on every resource element (flat ``rayleigh`` and every non-LOS TDL profile).
    None for LOS (Rician) channels."""
    if channel == "awgn":
        return float(ber_awgn(modulation, snr))
    if profile is not None and profile.k_linear == 0.0:
        return float(ber_rayleigh(modulation, snr))
    return None


def ber_curve(frame_cfg: FrameConfig, modulation: str, snrs, frames: int, rng: np.random.Generator,
              csi=("perfect", "ls"), cfo_max_hz: float = 40e3, frames_per_stream: int = 10,
              channel: str = "awgn", doppler_hz: float = 0.0, delay_spread_ns: float = 100.0) -> list[dict]:
    """Uncoded BER through preamble, sync, header, estimation and equalization.

    ``channel="awgn"``: AWGN + CFO. Otherwise a profile name (``rayleigh``, ``lammsc``, ``epa``,
    ``tdl-a``, ...): every burst gets its own fading realization (block fading, or Jakes with
    ``doppler_hz``) from :class:`lamsc_sdr.channel.Channel`, then the stream gets the CFO and AWGN
    at mean Es/N0 = ``snr_db``; perfect CSI comes from the realizations' ``frequency_response``
    (:class:`ChannelTruth`). ``csi``: any of ``perfect``, ``ls``, ``lmmse`` (genie statistics of
    the channel), ``lmmse-mismatched``. BER counts the frames delivered (header CRC ok); frames
    lost in deep fades are reported as ``frames_lost``, not counted as errors.

    Output rows: snr_db, csi, ber, ber_theory (None where no closed form applies), ci_low, ci_high
    (99.9 % Clopper-Pearson, independent bits), bits, bit_errors, frames, frames_lost, estimator.
    """
    from ..estimation import EstimatorConfig, make_estimator
    awgn, apply_cfo = _channel_fns()
    cfg = dataclasses.replace(frame_cfg, payload_modulation=modulation, payload_code_rate="1")
    tx = FrameTransmitter(cfg)
    fading = channel != "awgn"
    chan = profile = None
    if fading:
        from ..channel import Channel, ChannelConfig
        chan = Channel(ChannelConfig(model=channel, snr_db=float("inf"), doppler_hz=doppler_hz,
                                     delay_spread_ns=delay_spread_ns), cfg.sample_rate)
        profile = chan.profile
    rows = []
    for snr in snrs:
        for kind in csi:
            est = make_estimator(EstimatorConfig(kind=kind), cfg, profile=channel,
                                 doppler_hz=doppler_hz, delay_spread_ns=delay_spread_ns)
            rx = FrameReceiver(cfg, est)
            errors = bits_n = lost = 0
            left = frames
            while left > 0:
                k = min(frames_per_stream, left)
                left -= k
                payload = [rng.integers(0, 2, tx.capacity_bits).astype(np.uint8) for _ in range(k)]
                bursts = [tx.modulate_bits(b, FrameHeader(message_id=i)) for i, b in enumerate(payload)]
                clean, starts = make_stream(tx, bursts, rng)
                if fading:
                    clean, states = fade_bursts(bursts, starts, clean.size, chan, rng)
                cfo = float(rng.uniform(-cfo_max_hz, cfo_max_hz))
                ph = float(rng.uniform(0, 2 * np.pi))
                y = awgn(apply_cfo(clean, cfo, cfg.sample_rate, phase0=ph), snr, rng)
                truth = None
                if kind == "perfect":
                    truth = (ChannelTruth(starts, states, cfo, cfg, ph) if fading
                             else CfoTruth(starts, cfo, cfg, ph))
                got = set()
                for f in rx.process(y, truth=truth):
                    if f.status != "ok" or f.header.message_id >= k or f.header.message_id in got:
                        continue
                    got.add(f.header.message_id)
                    ref = payload[f.header.message_id]
                    errors += int(np.count_nonzero(f.bits != ref))
                    bits_n += ref.size
                lost += k - len(got)
            lo, hi = clopper_pearson(errors, max(bits_n, 1))
            rows.append({"snr_db": float(snr), "csi": kind, "ber": errors / max(bits_n, 1),
                         "ber_theory": _theory(channel, modulation, snr, profile), "ci_low": lo, "ci_high": hi,
                         "bits": bits_n, "bit_errors": errors, "frames": frames, "frames_lost": lost})
    return rows


def sync_curve(frame_cfg: FrameConfig, snrs, frames: int, rng: np.random.Generator,
               cfo_max_hz: float = 40e3, noise_samples: int = 2_000_000) -> dict:
    """Detection probability, header success, CFO and timing RMSE vs SNR; false alarms on noise.

    A frame counts as detected when a detection lands within the cyclic prefix of its true start.
    """
    awgn, apply_cfo = _channel_fns()
    cfg = frame_cfg
    tx = FrameTransmitter(cfg)
    n_sym = min(200, tx.capacity_symbols)
    rows = []
    for snr in snrs:
        det = hdr = 0
        cfo_err, t_err = [], []
        left = frames
        while left > 0:
            k = min(10, left)
            left -= k
            bursts = [tx.modulate_symbols(np.ones(n_sym, np.complex64), FrameHeader(message_id=i)) for i in range(k)]
            clean, starts = make_stream(tx, bursts, rng)
            cfo = float(rng.uniform(-cfo_max_hz, cfo_max_hz))
            y = awgn(apply_cfo(clean, cfo, cfg.sample_rate, phase0=float(rng.uniform(0, 6.3))), snr, rng)
            found = FrameReceiver(cfg).process(y)
            fs = np.array([f.start for f in found], np.int64)
            for s in starts:
                if fs.size == 0:
                    continue
                j = int(np.argmin(np.abs(fs - s)))
                if abs(fs[j] - s) <= cfg.cp_len:
                    det += 1
                    hdr += int(found[j].crc_ok)
                    cfo_err.append(found[j].cfo_hz - cfo)
                    t_err.append(fs[j] - s)
        rows.append({"snr_db": float(snr), "p_detect": det / frames, "p_header_ok": hdr / frames,
                     "cfo_rmse_hz": float(np.sqrt(np.mean(np.square(cfo_err)))) if cfo_err else None,
                     "timing_rmse_samples": float(np.sqrt(np.mean(np.square(t_err)))) if t_err else None,
                     "frames": frames})
    rx = FrameReceiver(cfg)
    noise = awgn(np.zeros(noise_samples, np.complex64), 0.0, rng)
    fa = rx.process(noise)
    false = {"samples": noise_samples, "detections": rx.stats.detected,
             "per_million_samples": rx.stats.detected / noise_samples * 1e6,
             "header_accepted": sum(f.crc_ok for f in fa)}
    return {"results": rows, "false_alarm": false}


def bench(frame_cfg: FrameConfig, rng: np.random.Generator, n_frames: int = 60, snr_db: float = 20.0,
          chunk: int = 1 << 18, repeats: int = 3) -> dict:
    """Throughput of TX and RX (detect + sync + header + demodulate + LS + equalize) on a continuous
    stream of full-size analog frames. Call under a one-thread BLAS limit for one-core figures."""
    awgn, apply_cfo = _channel_fns()
    cfg = frame_cfg
    tx = FrameTransmitter(cfg)
    z = [(rng.standard_normal(tx.capacity_symbols) + 1j * rng.standard_normal(tx.capacity_symbols)).astype(np.complex64)
         / np.sqrt(2) for _ in range(n_frames)]
    t0 = time.perf_counter()
    bursts = [tx.modulate_symbols(s, FrameHeader(message_id=i)) for i, s in enumerate(z)]
    clean, _ = make_stream(tx, bursts, rng, max_extra_gap=500)
    t_tx = time.perf_counter() - t0
    y = awgn(apply_cfo(clean, 23e3, cfg.sample_rate), snr_db, rng)
    best_proc = best_push = best_cpu = np.inf
    ok = 0
    for _ in range(repeats):
        rx = FrameReceiver(cfg)
        t0, c0 = time.perf_counter(), time.process_time()
        fr = rx.process(y)
        best_proc = min(best_proc, time.perf_counter() - t0)
        # CPU time of this (single-threaded) process: the figure a loaded shared machine distorts least
        best_cpu = min(best_cpu, time.process_time() - c0)
        ok = sum(f.status == "ok" for f in fr)
        rx = FrameReceiver(cfg)
        t0 = time.perf_counter()
        for i in range(0, y.size, chunk):
            rx.push(y[i: i + chunk])
        best_push = min(best_push, time.perf_counter() - t0)
    rate, cpu_rate = y.size / best_proc, y.size / best_cpu
    return {"rx_samples_per_s": rate, "rx_push_samples_per_s": y.size / best_push,
            "rx_cpu_samples_per_s": cpu_rate,
            "tx_samples_per_s": clean.size / t_tx, "realtime_factor": rate / cfg.sample_rate,
            "realtime_factor_at_2msps": rate / 2e6, "cpu_realtime_factor_at_2msps": cpu_rate / 2e6,
            "samples": int(y.size), "frames": n_frames, "frames_ok": int(ok), "chunk": chunk,
            "estimator": "ls"}
