"""Figures of the paper's experiments (matplotlib, headless)."""
from __future__ import annotations

from pathlib import Path


def plot_experiment(name: str, res: dict, path: str | Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = res["results"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    if name == "fig4":
        for m in sorted({r["modality"] for r in rows}):
            sel = [r for r in rows if r["modality"] == m]
            ax.plot([r["snr_db"] for r in sel], [r["accuracy"] for r in sel], "o-", label=m)
        ax.set_xlabel("SNR (dB)")
        ax.set_ylabel("transmission accuracy (similarity > 0.6)")
        ax.set_title("Fig. 4: accuracy vs SNR")
    elif name == "fig5":
        for snr in sorted({r["snr_db"] for r in rows}):
            for m in sorted({r["modality"] for r in rows}):
                sel = [r for r in rows if r["modality"] == m and r["snr_db"] == snr]
                ax.plot([r["threshold"] for r in sel], [r["accuracy"] for r in sel],
                        "o-" if snr > 15 else "s--", label=f"{m}, {snr:g} dB")
        ax.set_xlabel("similarity threshold")
        ax.set_ylabel("transmission accuracy")
        ax.set_title("Fig. 5: accuracy vs threshold")
    elif name == "ablation":
        for s in dict.fromkeys(r["system"] for r in rows):
            sel = [r for r in rows if r["system"] == s]
            ax.plot([r["snr_db"] for r in sel], [r["accuracy"] for r in sel], "o-", label=s)
        ax.set_xlabel("SNR (dB)")
        ax.set_ylabel("transmission accuracy (overall)")
        ax.set_title("Ablation")
    else:
        labels = [f"{r['modality']}\n{r['source']}" for r in rows]
        x = range(len(rows))
        ax.bar([i - 0.2 for i in x], [r["raw_16qam_12_air_time_s"] for r in rows], 0.4, label="raw file, 16-QAM r1/2 + FEC")
        ax.bar([i + 0.2 for i in x], [r["semantic_air_time_s"] for r in rows], 0.4, label="semantic symbols")
        ax.set_yscale("log")
        ax.set_xticks(list(x), labels)
        ax.set_ylabel("air time (s)")
        ax.set_title("Air time per message on the same PHY")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
