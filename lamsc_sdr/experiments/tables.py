"""Markdown tables of experiment JSONs (for docs): ``python -m lamsc_sdr.experiments.tables DIR``
reads ``DIR/{fig4,fig5,ablation,compression,contenders}/*.json`` and prints what it finds."""
from __future__ import annotations

import json
import sys
from pathlib import Path


def _acc(r: dict) -> str:
    return f"{r['accuracy']:.2f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}] (n={r['n']})"


def fig4_table(res: dict) -> str:
    rows = res["results"]
    snrs = sorted({r["snr_db"] for r in rows})
    out = ["| modality | metric | " + " | ".join(f"{s:g} dB" for s in snrs) + " | chance |",
           "|---|---|" + "---|" * (len(snrs) + 1)]
    for m in ("image", "audio", "video", "overall"):
        for metric in ("paper", "calibrated", "text"):
            sel = {r["snr_db"]: r for r in rows if r["modality"] == m and r["metric"] == metric}
            if not sel:
                continue
            ch = (res.get("chance_level") or {}).get(m, {}).get(metric)
            out.append(f"| {m} | {metric} | " + " | ".join(_acc(sel[s]) if s in sel else "" for s in snrs)
                       + f" | {'' if ch is None else f'{ch:.2f}'} |")
    bs = [r for r in rows if r["metric"] == "paper" and "bertscore_f1_mean" in r and r["modality"] != "overall"]
    if bs:
        out.append("")
        out.append("BERTScore F1 (MiniLM tokens), mean: " + "; ".join(
            f"{r['modality']} {r['snr_db']:g} dB {r['bertscore_f1_mean']:.3f}" for r in sorted(bs, key=lambda r: (r['modality'], r['snr_db']))))
    return "\n".join(out)


def fig5_table(res: dict) -> str:
    rows = res["results"]
    ths = sorted({r["threshold"] for r in rows})
    out = ["| modality | SNR | " + " | ".join(f"{t:g}" for t in ths) + " |", "|---|---|" + "---|" * len(ths)]
    for m in ("image", "audio", "video", "overall"):
        for snr in sorted({r["snr_db"] for r in rows}):
            sel = {r["threshold"]: r for r in rows if r["modality"] == m and r["snr_db"] == snr}
            if sel:
                out.append(f"| {m} | {snr:g} dB | " + " | ".join(f"{sel[t]['accuracy']:.2f}" for t in ths) + " |")
    ch = res.get("chance_level_by_threshold") or {}
    for m, c in ch.items():
        out.append(f"| {m} (chance) | - | " + " | ".join(f"{c.get(str(t), 0):.2f}" for t in ths) + " |")
    return "\n".join(out)


def ablation_table(res: dict) -> str:
    rows = res["results"]
    out = ["| system | SNR | text (all) | paper (all) | image text | audio text | video text |", "|---|---|---|---|---|---|---|"]
    for s in res.get("systems", []):
        for snr in sorted({r["snr_db"] for r in rows}):
            g = {(r["modality"], r["metric"]): r for r in rows if r["system"] == s and r["snr_db"] == snr}
            if not g:
                continue
            cell = lambda k: _acc(g[k]) if k in g else "-"  # noqa: E731
            out.append(f"| {s} | {snr:g} dB | {cell(('overall', 'text'))} | {cell(('overall', 'paper'))} | "
                       f"{cell(('image', 'text'))} | {cell(('audio', 'text'))} | {cell(('video', 'text'))} |")
    return "\n".join(out)


def compression_table(res: dict) -> str:
    out = ["| modality | SNR | n | codec | codec bits (median) | digital channel uses | semantic channel uses | ratio median [min, max] | paper raw/32768 |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in res["results"]:
        c = r["codec"]
        setting = ", ".join(f"{k} {v}" for k, v in c.items() if k != "codec")
        out.append(f"| {r['modality']} | {r['snr_db']:g} dB | {r['n']} | {c['codec']} ({setting}) | {r['codec_bits_median']:.0f} | "
                   f"{r['digital_channel_uses_median']:.0f} | {r['semantic_channel_uses_median']:.0f} | "
                   f"{r['channel_use_ratio_median']:.0f} [{r['channel_use_ratio_min']:.0f}, {r['channel_use_ratio_max']:.0f}] | "
                   f"{r['paper_ratio_raw_bits_over_32768']:.1f} |")
    out.append("")
    out.append("FER: " + "; ".join(f"{f['modulation']} r{f['code_rate']} at {f['snr_db']:g} dB {f['frame_error_rate']:.2f} "
                                   f"[{f['fer_ci_low']:.2f}, {f['fer_ci_high']:.2f}]" for f in res["conventional_fer"]))
    return "\n".join(out)


def contenders_table(res: dict) -> str:
    out = ["| system | modality | SNR | paper metric | calibrated |", "|---|---|---|---|---|"]
    g = {}
    for r in res["results"]:
        g.setdefault((r["system"], r["modality"], r["snr_db"]), {})[r["metric"]] = r
    for (s, m, snr), d in g.items():
        out.append(f"| {s} | {m} | {snr:g} dB | {_acc(d['paper']) if 'paper' in d else '-'} | "
                   f"{_acc(d['calibrated']) if 'calibrated' in d else '-'} |")
    return "\n".join(out)


TABLES = {"fig4": fig4_table, "fig5": fig5_table, "ablation": ablation_table, "compression": compression_table,
          "contenders": contenders_table}


def main(argv=None) -> int:
    d = Path((argv or sys.argv[1:] or ["out/experiments"])[0])
    for name, fn in TABLES.items():
        p = d / name / f"{name}.json"
        if p.is_file():
            res = json.loads(p.read_text())
            print(f"### {name} (set {res.get('evaluation_set')}, used {res.get('counts_used')}, seed {res.get('seed')}, "
                  f"wall {res.get('wall_s')} s, {res.get('workers')} worker(s))\n")
            print(fn(res))
            print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
