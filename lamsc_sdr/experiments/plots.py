"""Figures of the paper's experiments (matplotlib, headless): accuracies with their Wilson 95 %
intervals as error bars, and each modality's chance level as a dotted line of the same colour."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def _err(sel):
    return [[max(0.0, r["accuracy"] - r["ci_low"]) for r in sel], [max(0.0, r["ci_high"] - r["accuracy"]) for r in sel]]


def _chance(ax, res, modality, color, metric="paper"):
    c = (res.get("chance_level") or {}).get(modality, {})
    if c.get(metric) is not None:
        ax.axhline(c[metric], color=color, ls=":", lw=1)


def plot_experiment(name: str, res: dict, path: str | Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = res["results"]
    mods = [m for m in ("image", "audio", "video") if any(r.get("modality") == m for r in rows)]
    colors = dict(zip(("image", "audio", "video", "overall"), ("C0", "C1", "C2", "C7")))
    if name == "fig4":
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
        for ax, metric in zip(axes, ("paper", "calibrated")):
            for m in mods:
                sel = sorted([r for r in rows if r["modality"] == m and r["metric"] == metric], key=lambda r: r["snr_db"])
                ax.errorbar([r["snr_db"] for r in sel], [r["accuracy"] for r in sel], yerr=_err(sel), fmt="o-",
                            capsize=3, color=colors[m], label=f"{m} (n={sel[0]['n'] if sel else 0}/point)")
                _chance(ax, res, m, colors[m], metric)
            ax.set_xlabel("SNR (dB)")
            ax.set_title({"paper": "paper's metric: MMA-text cosine > 0.6",
                          "calibrated": "calibrated: cosine > 95th pct of mismatched pairs"}[metric], fontsize=9)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        axes[0].set_ylabel("transmission accuracy (95 % Wilson CI; dotted: chance)")
        fig.suptitle("Fig. 4: accuracy vs SNR", fontsize=11)
    else:
        fig, ax = plt.subplots(figsize=(7.5, 4.5))
        if name == "fig5":
            for snr in sorted({r["snr_db"] for r in rows}):
                for m in mods:
                    sel = sorted([r for r in rows if r["modality"] == m and r["snr_db"] == snr], key=lambda r: r["threshold"])
                    ax.errorbar([r["threshold"] for r in sel], [r["accuracy"] for r in sel], yerr=_err(sel),
                                fmt="o-" if snr == max(r["snr_db"] for r in rows) else "s--", capsize=3,
                                color=colors[m], label=f"{m}, {snr:g} dB")
                    ch = (res.get("chance_level_by_threshold") or {}).get(m)
                    if ch and snr == max(r["snr_db"] for r in rows):
                        ax.plot([float(t) for t in ch], list(ch.values()), ":", color=colors[m], lw=1)
            ax.set_xlabel("similarity threshold (paper's metric)")
            ax.set_ylabel("transmission accuracy (dotted: chance)")
            ax.set_title("Fig. 5: accuracy vs threshold")
        elif name == "ablation":
            overall = [r for r in rows if r["modality"] == "overall" and r["metric"] == "text"]
            for s in dict.fromkeys(r["system"] for r in overall):
                sel = sorted([r for r in overall if r["system"] == s], key=lambda r: r["snr_db"])
                ax.errorbar([r["snr_db"] for r in sel], [r["accuracy"] for r in sel], yerr=_err(sel), fmt="o-",
                            capsize=3, label=s)
            ax.set_xlabel("SNR (dB)")
            ax.set_ylabel("accuracy of the received semantics, all modalities (95 % CI)")
            ax.set_title("Ablation")
        elif name == "compression":
            sel = sorted(rows, key=lambda r: (r["modality"], r["snr_db"]))
            labels = [f"{r['modality']}\n{r['snr_db']:g} dB" for r in sel]
            x = range(len(sel))
            ax.bar([i - 0.2 for i in x], [r["digital_channel_uses_median"] for r in sel], 0.4,
                   label="codec (JPEG q75 / Opus 16k / H.264 crf28) over adapted QAM+FEC, with ARQ")
            ax.bar([i + 0.2 for i in x], [r["semantic_channel_uses_median"] for r in sel], 0.4,
                   label="LAM-MSC semantic symbols")
            ax.set_yscale("log")
            ax.set_xticks(list(x), labels)
            ax.set_ylabel("channel uses per message (median)")
            ax.set_title("Channel uses on the same PHY")
        else:                                        # contenders: bars per (modality, system), per metric
            groups = list(dict.fromkeys((r["modality"], r["system"], r["snr_db"]) for r in rows))
            x = np.arange(len(groups))
            for off, metric, hatch in ((-0.2, "paper", ""), (0.2, "calibrated", "//")):
                sel = [next((r for r in rows if (r["modality"], r["system"], r["snr_db"]) == g and r["metric"] == metric),
                            None) for g in groups]
                ok = [i for i, r in enumerate(sel) if r]
                ax.bar(x[ok] + off, [sel[i]["accuracy"] for i in ok], 0.4, hatch=hatch, alpha=0.8,
                       yerr=_err([sel[i] for i in ok]), capsize=3, label=f"{metric} metric")
            ax.set_xticks(x, [f"{g[0]}: {g[1].split(' (')[0]}\n{g[2]:g} dB" for g in groups], fontsize=7)
            ax.set_ylabel("accuracy (95 % CI)")
            ax.set_title("Fig. 5 (journal): LAM-MSC vs contenders at equal air time")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
