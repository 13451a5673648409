"""The image deep-JSCC contender of Fig. 5 (journal version): LAM-SC's SC codec at equal air time.

The journal compares LAM-MSC with DeepJSCC-V. DeepJSCC-V's weights do not ship offline, so the
contender is **our own small deep JSCC**: the whole-image SC model of LAM-SC
(:mod:`lamsc_sdr.lam_sc.model`, system ``sc``: conv encoder -> per-position channel encoder ->
analog complex symbols, 16 per feature position; no ASC mask, no segmentation), trained on
128 x 128 photos. It is DeepJSCC-*style* (learned, analog, end to end), not DeepJSCC-V, and it is
far smaller than DeepJSCC-V.

Equal air time: the contender gets the IQ samples LAM-MSC used for the same photo (frames incl.
preamble, header, pilots and guard gaps). The codec is fully convolutional, so it sends the largest
square (128, 64 or 32 px; the photo squashed to it) whose whole feature grid fits; if even 32 px
does not fit, a fixed, spread subset of the 32-px grid's positions (the order is known to both
ends, so no side information) and the receiver fills the others from their neighbours, as LAM-SC
does for masked positions. The symbols go through the same OFDM frames, simulated channel and
receiver (sync, the configured estimator, equalization) as LAM-MSC's, via
:func:`lamsc_sdr.lam_sc.link.transmit`; the decoded square is resized back to the photo's size.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

SIDES = (128, 64, 32)
SYSTEM = "our deep JSCC (LAM-SC SC codec) + OFDM (DeepJSCC-V style, not DeepJSCC-V)"


def position_order(side: int) -> np.ndarray:
    """A fixed spread order of the ``side x side`` feature positions (both ends know it)."""
    return np.random.default_rng(side).permutation(side * side)


@functools.lru_cache(maxsize=4096)
def _air(frame_cfg, n_symbols: int) -> int:
    from ..lam_sc.link import Item, plan_items
    if n_symbols <= 0:
        return 0
    plan, _ = plan_items(frame_cfg, [Item(symbols=np.zeros(n_symbols, np.complex64))])
    return int(sum(f.length for f in plan.frames)) + len(plan.frames) * frame_cfg.gap_samples


def fit(frame_cfg, budget_samples: int, per_position: int = 16) -> tuple[int, int]:
    """(side, positions sent): the largest side whose whole grid fits ``budget_samples`` of air,
    else the most positions of the smallest side that fit (0: nothing fits)."""
    from ..lam_sc.model import feature_side
    for side in SIDES:
        s = feature_side(side)
        if _air(frame_cfg, s * s * per_position) <= budget_samples:
            return side, s * s
    s = feature_side(SIDES[-1])
    lo, hi = 0, s * s                         # largest k with air(k) <= budget (air grows with k)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _air(frame_cfg, mid * per_position) <= budget_samples:
            lo = mid
        else:
            hi = mid - 1
    return SIDES[-1], lo


class DeepJscc:
    """Encode, send over a fresh simulated radio, decode. Loads the codec once."""

    def __init__(self, cfg, checkpoint: str | None = None):
        from ..lam_sc.model import LamScCodec
        self.cfg, self.codec = cfg, LamScCodec.load(checkpoint)

    def send(self, img: np.ndarray, budget_samples: int, snr_db: float, seed: int) -> tuple[np.ndarray | None, dict]:
        """``img (H, W, 3) uint8`` -> (received image (H, W, 3) uint8 or None if nothing arrived, info)."""
        import dataclasses

        from PIL import Image

        from ..lam_sc.link import Item, transmit
        from ..lam_sc.model import feature_side
        from ..radio import make_radio
        side, k = fit(self.cfg.frame, budget_samples, self.codec.cfg.symbols_per_position)
        info = {"side": side, "positions_sent": k, "positions": feature_side(side) ** 2,
                "symbols": k * self.codec.cfg.symbols_per_position}
        if k == 0:
            return None, {**info, "air_samples": 0}
        sq = np.array(Image.fromarray(img).resize((side, side), Image.BICUBIC))
        sym, _ = self.codec.encode(sq, use_mask=False)                     # every position, row-major
        s = feature_side(side)
        pos = np.sort(position_order(s)[:k])
        mask = np.zeros(s * s, bool)
        mask[pos] = True
        sent = sym.reshape(s * s, -1)[pos].reshape(-1)
        cfg = dataclasses.replace(self.cfg.replace(channel={"snr_db": float(snr_db)}), seed=int(seed))
        radio = make_radio(cfg.radio, cfg)
        try:
            items = [Item(symbols=sent)]
            link = transmit(radio, cfg, items)
        finally:
            radio.close()
        info.update(air_samples=_air(self.cfg.frame, sent.size), frames_sent=link["frames"]["sent"],
                    frames_delivered=link["frames"]["delivered"])
        if link["frames"]["delivered"] == 0:
            return None, info
        out = self.codec.decode(items[0].received, mask.reshape(s, s), size=side, fill="neighbours")
        return np.asarray(Image.fromarray(out).resize((img.shape[1], img.shape[0]), Image.BICUBIC)), info


def contender_item(jscc: DeepJscc, stages, rec: dict, out: Path) -> dict:
    """One deep-JSCC transmission of ``rec``'s photo at the air time LAM-MSC used for it."""
    from PIL import Image

    from ..mma.base import load_image
    from ..semantic.similarity import similarity
    budget = rec["frame_samples"] + rec["frames"] * jscc.cfg.frame.gap_samples
    img = load_image(rec["source"])
    got, info = jscc.send(img, budget, rec["snr_db_set"], rec["seed"] + 2)
    res = {"system": SYSTEM, "modality": "image", "source": rec["source"], "snr_db_set": rec["snr_db_set"],
           "seed": rec["seed"], "description": rec["description"], "deep_jscc": info,
           "air_samples": info["air_samples"], "lamsc_air_samples": int(budget)}
    if got is None:
        return {**res, "delivered": False}
    p = out / f"{Path(rec['source']).stem}_{rec['seed']}_jscc.png"
    p.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(got).save(p)
    text = stages.media_to_text("image").describe(p).text
    sim = float(similarity([rec["description"]], [text])[0])
    return {**res, "delivered": True, "description_out": text, "similarity_media": sim, "media_out": str(p)}
