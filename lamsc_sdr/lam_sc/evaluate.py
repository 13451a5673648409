"""``lamsc eval image``: LAM-SC, SC, SC+ASC and JPEG on the same images, SNRs and channel.

Per image (128x128x3) and system, what is sent and what the SSIM is measured against:

* ``sc``: the whole image, no mask; reference the whole image.
* ``sc-sa``: SC sending the semantic-aware image whole (no mask, no support rule); reference the
  semantic-aware image: the like-for-like baseline of LAM-SC.
* ``sc-asc``: the whole image with the ASC mask; the mask is side information (zlib-packed,
  QPSK 1/2 + CRC, counted in ``channel_uses``); reference the whole image.
* ``lam-sc``: the semantic-aware image (segments chosen by the ASI, or a human prompt) with the
  ASC mask, and without the positions whose receptive field holds no selected pixel (pure black
  background, whose features are exactly those of a black image: the receiver fills them exactly,
  knowing them from the support map sent in the side information; ASC-dropped positions inside the
  support get the neighbour fill); reference the semantic-aware image (the paper's measure).
* ``jpeg`` (``jpeg:MCS`` for another modulation/coding, default qpsk-1/2): JPEG at the quality that
  fits SC's channel uses for the same image, CRC + FEC + QAM; reference the whole image.

Every system is also scored against the semantic-aware image (``ssim_sa``: its output blanked
outside the selected segments, full frame; ``ssim_region``: the SSIM map's mean inside the
selected segments only, which a matching black background cannot flatter): the like-for-like
comparisons for the goal "LAM-SC's SSIM on the semantic-aware image >= SC's". ``bits`` = feature values sent (the
paper's count: 32 per sent position), ``channel_uses`` = complex symbols on air (payload; plus
side information). Channels: ``awgn`` (symbol level, exact Es/N0) or ``phy`` (the project's OFDM
frames over the run config's radio, channel model and estimator).
"""
from __future__ import annotations

import dataclasses
import logging

import numpy as np
from tqdm import tqdm

from ..errors import ConfigError
from ..stats import proportion
from . import jpeg as jp
from .asi import semantic_aware
from .link import Item, transmit
from .metrics import mean_ci, psnr, ssim, ssim_region
from .model import mask_to_bits, support_map

log = logging.getLogger(__name__)
SYSTEMS = ("lam-sc", "sc", "sc-asc", "sc-sa", "jpeg")
SIDE_MCS = "qpsk-1/2"


def awgn_symbols(s: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """s + n, n ~ CN(0, 10^(-snr/10)) (Es = 1). (n,) complex -> (n,) complex64."""
    n0 = 10 ** (-snr_db / 10)
    return (s + np.sqrt(n0 / 2) * (rng.standard_normal(s.size) + 1j * rng.standard_normal(s.size))).astype(np.complex64)


def parse_systems(text: str) -> list[str]:
    out = [s.strip() for s in text.split(",") if s.strip()]
    for s in out:
        base, _, mcs = s.partition(":")
        if base not in SYSTEMS or (mcs and base != "jpeg"):
            raise ConfigError(f"--systems: unknown system {s!r} (choose from {', '.join(SYSTEMS)}, jpeg:MCS)")
        if mcs:
            jp.parse_mcs(mcs)
    if not out:
        raise ConfigError("--systems: empty")
    return out


@dataclasses.dataclass
class Prepared:
    """One image ready to send: its segments, selection, semantic-aware image and region."""

    image: np.ndarray
    masks: np.ndarray
    selected: np.ndarray
    sa: np.ndarray
    region: np.ndarray


def prepare(img: np.ndarray, segmenter, selector, prompt=None) -> Prepared:
    """Segment, select (ASI, or ``prompt`` points), merge. img (128, 128, 3) uint8."""
    from .asi import prompt_selection
    seg = segmenter.segment(img)
    sel = prompt_selection(seg.masks, prompt) if prompt else selector.choose(img, seg.masks)
    sa, region = semantic_aware(img, seg.masks, sel)
    return Prepared(img, seg.masks, sel, sa, region)


def side_uses(mask: np.ndarray, frame_cfg, support: np.ndarray | None = None,
              scale: float = 1.0) -> tuple[np.ndarray | None, int]:
    """Mask side information (with the support map for a semantic-aware image, and the symbol
    scale when not every position is sent): (bits or None when everything is sent and there is
    no support map, payload symbols)."""
    if support is None and mask.all():
        return None, 0
    bits = mask_to_bits(mask, support, None if mask.all() else scale)
    mod, rate = jp.parse_mcs(SIDE_MCS)
    return bits, jp.symbols_needed(bits.size, frame_cfg, mod, rate)


class Runner:
    """Sends one prepared image through one system at one SNR. ``channel``: awgn | phy."""

    def __init__(self, codec, run_cfg, channel: str = "awgn", seed: int = 0):
        if channel not in ("awgn", "phy"):
            raise ConfigError(f"--channel: awgn or phy, got {channel!r}")
        self.codec, self.cfg, self.channel = codec, run_cfg, channel
        self.rng = np.random.default_rng(seed)
        self._radios: dict = {}
        self._mid = 0

    def radio(self, snr: float):
        if snr not in self._radios:
            from ..radio import make_radio
            cfg = self.cfg.replace(channel={"snr_db": float(snr)})
            self._radios[snr] = (make_radio(cfg.radio, cfg), cfg)
        return self._radios[snr]

    def close(self) -> None:
        for r, _ in self._radios.values():
            r.close()

    def _link(self, items: list[Item], snr: float) -> dict:
        radio, cfg = self.radio(snr)
        self._mid = (self._mid % 0xFFFF) + 1
        return transmit(radio, cfg, items, message_id=self._mid)

    def encoded(self, p: Prepared, system: str) -> dict:
        """What a system sends for this image (deterministic, computed once per image)."""
        base, _, mcs = system.partition(":")
        if base == "jpeg":
            sc = self.encoded(p, "sc")
            data, q = jp.fit_jpeg(p.image, sc["channel_uses"], self.cfg.frame, mcs or "qpsk-1/2")
            uses = 0 if data is None else jp.symbols_needed(8 * len(data), self.cfg.frame,
                                                            *jp.parse_mcs(mcs or "qpsk-1/2"))
            return {"data": data, "quality": q, "mcs": mcs or "qpsk-1/2", "target": p.image,
                    "bits": 0 if data is None else 8 * len(data), "channel_uses": uses}
        src = p.sa if base in ("lam-sc", "sc-sa") else p.image
        lam = base == "lam-sc"
        sym, mask, scale = self.codec.encode(src, use_mask=base in ("lam-sc", "sc-asc"),
                                             support=p.region if lam else None, with_scale=True)
        sup = support_map(p.region, self.codec.cfg.depth) if lam else None
        side_bits, side = side_uses(mask, self.cfg.frame, sup, scale)
        return {"symbols": sym, "mask": mask, "support": sup, "scale": scale, "side_bits": side_bits, "target": src,
                "bits": int(mask.sum()) * self.codec.cfg.features, "channel_uses": int(sym.size + side),
                "mask_ratio": float(mask.mean())}

    def send(self, enc: dict, snr: float) -> tuple[np.ndarray, bool]:
        """-> (recovered image, delivered)."""
        if "data" in enc:
            if enc["data"] is None:
                return jp.receive_image(None, enc["target"].shape)
            if self.channel == "awgn":
                got, _ = jp.send_awgn(enc["data"], self.cfg.frame, enc["mcs"], snr, self.rng)
            else:
                items = jp.items(enc["data"], enc["mcs"])
                self._link(items, snr)
                got = None if items[0].received is None else np.packbits(items[0].received).tobytes()
            return jp.receive_image(got, enc["target"].shape)
        mask = enc["mask"]
        if self.channel == "awgn":
            rx = awgn_symbols(enc["symbols"], snr, self.rng)
        else:
            mod, rate = jp.parse_mcs(SIDE_MCS)
            items = ([Item(bits=enc["side_bits"], modulation=mod, code_rate=rate)] if enc["side_bits"] is not None
                     else []) + [Item(symbols=enc["symbols"])]
            self._link(items, snr)
            if enc["side_bits"] is not None and items[0].received is None:
                return np.zeros_like(enc["target"]), False    # mask lost: nothing to place symbols by
            rx = items[-1].received
        return self.codec.decode(rx, mask, support=enc["support"], scale=enc["scale"]), True


def evaluate(images: np.ndarray, names: list[str], systems: list[str], snrs: list[float], codec, segmenter,
             selector, run_cfg, channel: str = "awgn", seed: int = 0, progress: bool = True) -> dict:
    """The results document: per (system, SNR) mean SSIM/PSNR with t-intervals, bits, channel
    uses, n; per image rows; goal checks."""
    runner = Runner(codec, run_cfg, channel, seed)
    rows = []
    try:
        for img, name in tqdm(list(zip(images, names)), desc="images", disable=not progress, leave=False):
            p = prepare(img, segmenter, selector)
            enc = {s: runner.encoded(p, s) for s in systems}
            for snr in snrs:
                for s in systems:
                    out, ok = runner.send(enc[s], snr)
                    sa_out = np.where(p.region[..., None], out, 0).astype(np.uint8)
                    rows.append({"image": name, "system": s, "snr_db": snr, "ssim": ssim(enc[s]["target"], out),
                                 "psnr_db": psnr(enc[s]["target"], out), "ssim_sa": ssim(p.sa, sa_out),
                                 "ssim_region": ssim_region(p.sa, sa_out, p.region),
                                 "bits": enc[s]["bits"], "channel_uses": enc[s]["channel_uses"],
                                 "delivered": ok, "mask_ratio": enc[s].get("mask_ratio"),
                                 "region_fraction": float(p.region.mean()),
                                 **({"jpeg_quality": enc[s]["quality"]} if "quality" in enc[s] else {})})
    finally:
        runner.close()
    return {"results": aggregate(rows, systems, snrs), "rows": rows, "goals": goals(rows, snrs),
            "segmenter": {"backend": segmenter.name, "stand_in": segmenter.stand_in,
                          "label": getattr(segmenter, "label", None) or
                          ("stand-in for SAM" if segmenter.stand_in else "SAM")},
            "channel": channel, "n_images": len(images)}


def aggregate(rows: list[dict], systems, snrs) -> list[dict]:
    out = []
    for s in systems:
        for snr in snrs:
            r = [x for x in rows if x["system"] == s and x["snr_db"] == snr]
            if not r:
                continue
            ss, sa, rg, ps = (mean_ci([x[k] for x in r]) for k in ("ssim", "ssim_sa", "ssim_region", "psnr_db"))
            out.append({"system": s, "snr_db": snr, "ssim": ss["mean"], "ssim_ci": [ss["ci_low"], ss["ci_high"]],
                        "ssim_sa": sa["mean"], "ssim_sa_ci": [sa["ci_low"], sa["ci_high"]],
                        "ssim_region": rg["mean"], "ssim_region_ci": [rg["ci_low"], rg["ci_high"]],
                        "psnr_db": ps["mean"], "psnr_ci": [ps["ci_low"], ps["ci_high"]],
                        "bits": float(np.mean([x["bits"] for x in r])),
                        "channel_uses": float(np.mean([x["channel_uses"] for x in r])), "n": len(r),
                        "delivered": proportion(sum(x["delivered"] for x in r), len(r))})
    return out


def _paired(rows, a, b, snr, key):
    ra = {x["image"]: x for x in rows if x["system"] == a and x["snr_db"] == snr}
    rb = {x["image"]: x for x in rows if x["system"] == b and x["snr_db"] == snr}
    common = sorted(set(ra) & set(rb))
    return [ra[i][key] - rb[i][key] for i in common], [ra[i]["channel_uses"] / rb[i]["channel_uses"] for i in common]


def goals(rows: list[dict], snrs) -> dict:
    """The issue's goals, measured: paired per-image differences with t-intervals."""
    systems = {x["system"] for x in rows}
    g: dict = {}
    if {"lam-sc", "sc"} <= systems:
        per = []
        for snr in snrs:
            row = {"snr_db": snr}
            for key in ("ssim", "ssim_sa", "ssim_region"):
                d, ratio = _paired(rows, "lam-sc", "sc", snr, key)
                row[key + "_diff"] = mean_ci(d)
            row["uses_ratio"] = float(np.mean(ratio))
            per.append(row)
        g["lam_sc_vs_sc"] = {"per_snr": per, "uses_ratio_le_0.55": all(p["uses_ratio"] <= 0.55 for p in per),
                             **{f"{k}_ge_every_snr": all(p[k + "_diff"]["mean"] >= 0 for p in per)
                                for k in ("ssim", "ssim_sa", "ssim_region")},
                             "measures": "ssim: each against its own input (paper); ssim_sa: both against the "
                                         "semantic-aware image, full frame; ssim_region: SSIM map inside the "
                                         "selected segments only"}
    if {"lam-sc", "sc-sa"} <= systems:
        per = []
        for snr in snrs:
            row = {"snr_db": snr}
            for key in ("ssim", "ssim_region"):
                d, ratio = _paired(rows, "lam-sc", "sc-sa", snr, key)
                row[key + "_diff"] = mean_ci(d)
            row["uses_ratio"] = float(np.mean(ratio))
            per.append(row)
        g["lam_sc_vs_sc_sa"] = {"per_snr": per, "uses_ratio_le_0.55": all(p["uses_ratio"] <= 0.55 for p in per),
                                "ssim_ge_every_snr": all(p["ssim_diff"]["mean"] >= 0 for p in per),
                                "ssim_region_ge_every_snr": all(p["ssim_region_diff"]["mean"] >= 0 for p in per),
                                "measures": "like for like: both send the same semantic-aware image and are "
                                            "scored against it (full frame, and inside the selected segments)"}
    if {"sc-asc", "sc"} <= systems:
        per = []
        for snr in snrs:
            d, ratio = _paired(rows, "sc-asc", "sc", snr, "ssim")
            per.append({"snr_db": snr, "ssim_diff": mean_ci(d), "uses_ratio": float(np.mean(ratio))})
        g["sc_asc_vs_sc"] = {"per_snr": per, "fewer_uses": all(p["uses_ratio"] < 1 for p in per),
                             "loss_le_0.01": all(p["ssim_diff"]["mean"] >= -0.01 for p in per)}
    jpegs = sorted(s for s in systems if s.startswith("jpeg"))
    if "sc" in systems and jpegs:
        g["sc_vs_jpeg"] = {}
        for j in jpegs:
            per = [{"snr_db": snr, "ssim_diff": mean_ci(_paired(rows, "sc", j, snr, "ssim")[0])} for snr in snrs]
            over = [p["snr_db"] for p in per if p["ssim_diff"]["mean"] < 0]
            g["sc_vs_jpeg"][j] = {"per_snr": per, "sc_better_at_lowest_snr": per[0]["ssim_diff"]["mean"] > 0,
                                  "jpeg_overtakes_from_snr_db": min(over) if over else None}
    return g


def plot(doc: dict, path: str) -> None:
    """SSIM vs SNR per system (95 % intervals), and channel uses per system."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    res = doc["results"]
    systems = list(dict.fromkeys(r["system"] for r in res))
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [2, 1]})
    for s in systems:
        r = [x for x in res if x["system"] == s]
        key = "ssim"
        y = np.array([x[key] for x in r])
        lo = y - np.array([x[key + "_ci"][0] for x in r])
        hi = np.array([x[key + "_ci"][1] for x in r]) - y
        a.errorbar([x["snr_db"] for x in r], y, yerr=[lo, hi], marker="o", capsize=3,
                   label=s + (" (vs semantic-aware image)" if s in ("lam-sc", "sc-sa") else ""))
    a.set_xlabel("SNR (Es/N0, dB)")
    a.set_ylabel("SSIM (mean, 95 % CI)")
    seg = doc.get("segmenter", {})
    a.set_title(f"n = {doc.get('n_images')} held-out images, channel {doc.get('channel')}"
                + (" -- segments: stand-in for SAM" if seg.get("stand_in") else ""), fontsize=9)
    a.grid(alpha=0.3)
    a.legend(fontsize=8)
    uses = [np.mean([x["channel_uses"] for x in res if x["system"] == s]) for s in systems]
    b.bar(systems, uses, color="tab:gray")
    b.set_ylabel("channel uses per image (complex symbols)")
    b.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
