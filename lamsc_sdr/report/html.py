"""The demo report page: each message's stages side by side, media with players, plots, sizes.

Everything shown is escaped: received text is untrusted data and never becomes markup.
"""
from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

from ..provenance import atomic_write_text

_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5rem;max-width:1300px;color:#222}
h1{margin-bottom:.2rem} .sub{color:#666;margin-top:0}
table{border-collapse:collapse;margin:.6rem 0;width:100%} td,th{border:1px solid #ccc;padding:.35rem .5rem;vertical-align:top;text-align:left}
th{background:#f3f3f3} .msg{border:1px solid #bbb;border-radius:8px;padding:1rem;margin:1.2rem 0}
.stages{display:grid;grid-template-columns:repeat(4,1fr);gap:.6rem}
.stage{background:#fafafa;border:1px solid #ddd;border-radius:6px;padding:.5rem}
.stage h4{margin:.1rem 0 .4rem 0;font-size:.85rem;color:#555;text-transform:uppercase;letter-spacing:.03em}
.media{display:flex;gap:1rem;flex-wrap:wrap;align-items:flex-start} .media figure{margin:0}
.media img,.media video{max-width:380px;max-height:280px;border:1px solid #ccc}
.plots img{max-width:620px;border:1px solid #ddd;margin:.3rem}
.tag{display:inline-block;background:#ffe9b3;border-radius:4px;padding:0 .35rem;font-size:.8rem;margin-left:.3rem}
.ok{color:#0a0} .bad{color:#b00} code{background:#f3f3f3;padding:0 .2rem}
"""


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x))


def _media_tag(path: str | None, modality: str, rel_to: Path) -> str:
    if not path:
        return "<em>none</em>"
    rel = os.path.relpath(path, rel_to)
    src = _e(rel)
    if modality == "image":
        return f'<img src="{src}" alt="image">'
    if modality == "audio":
        return f'<audio controls src="{src}"></audio>'
    if modality == "video":
        return f'<video controls muted src="{src}"></video>'
    return f'<a href="{src}">{_e(Path(path).name)}</a>'


def _stage(title: str, body: str, tag: str | None = None) -> str:
    t = f'<span class="tag">{_e(tag)}</span>' if tag else ""
    return f'<div class="stage"><h4>{_e(title)}{t}</h4>{body}</div>'


def write_report(out_dir: str | Path, summary: dict) -> Path:
    """Write ``out_dir/index.html`` (and ``summary.json``) from a demo summary.

    ``summary`` keys: ``title``, ``config`` (dict), ``channel`` (str), ``messages`` (list of dicts
    with modality, source, media_in, media_out, description, semantics_sent, text_received,
    text_personalized, similarity, channel_uses, raw_bytes, bits_semantic, frames, labels (list of
    str), stage_seconds (dict)), ``plots`` (list of {title, path}), ``table`` (list of rows).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{_e(summary.get('title','lamsc demo'))}</title>",
             f"<style>{_CSS}</style></head><body>",
             f"<h1>{_e(summary.get('title', 'lamsc_sdr demo'))}</h1>",
             f"<p class='sub'>{_e(summary.get('subtitle', ''))}</p>"]
    thr = summary.get("threshold", 0.6)
    parts.append(f"<p class='sub'>A message is <b>correct</b> when the sentence-embedding cosine similarity of "
                 f"sent and received semantics is at least {_e(f'{thr:g}')} (the paper's threshold); text that "
                 "arrived below it is flagged <b>garbled</b>. rx SNR is the receiver's own estimate.</p>")
    ver = summary.get("provenance", {}).get("versions") or {}
    if ver:
        parts.append("<p class='sub'>Made by " + _e(", ".join(f"{k} {v}" for k, v in ver.items())) + "</p>")
    rows = summary.get("table") or []
    if rows:
        cols = list(rows[0].keys())
        parts.append("<h2>Summary</h2><table><tr>" + "".join(f"<th>{_e(c)}</th>" for c in cols) + "</tr>")
        for r in rows:
            parts.append("<tr>" + "".join(f"<td>{_e(r.get(c))}</td>" for c in cols) + "</tr>")
        parts.append("</table>")
    for i, m in enumerate(summary.get("messages", [])):
        labels = " ".join(f'<span class="tag">{_e(lb)}</span>' for lb in m.get("labels", []))
        sim = m.get("similarity")
        cls = "ok" if sim is not None and sim >= thr else "bad"
        if m.get("text_received") is None:
            verdict = "lost"
        else:
            verdict = f"correct (≥ {thr:g})" if cls == "ok" else f"GARBLED (< {thr:g}): received text is unreliable"
        snr = m.get("snr_db")
        verdict += f"; rx SNR {snr:.1f} dB" if snr is not None else "; rx SNR -"
        parts.append(f"<div class='msg' id='msg{i}'><h2>{_e(m.get('modality','')).title()}: "
                     f"{_e(Path(str(m.get('source',''))).name)} {labels}</h2>")
        parts.append("<div class='media'>"
                     f"<figure>{_media_tag(m.get('media_in'), m.get('modality',''), out_dir)}<figcaption>original</figcaption></figure>"
                     f"<figure>{_media_tag(m.get('media_out'), m.get('modality',''), out_dir)}<figcaption>{_e(m.get('media_out_note') or 'regenerated at the receiver')}</figcaption></figure>"
                     "</div>")
        parts.append("<div class='stages'>"
                     + _stage("1. MMA: media → text", _e(m.get("description")), m.get("mma_backend"))
                     + _stage("2. LKB: sender semantics (sent)", _e(m.get("semantics_sent")), m.get("kb_backend"))
                     + _stage("3. SC decode: received semantics", _e(m.get("text_received")))
                     + _stage("4. LKB: personalized for receiver", _e(m.get("text_personalized")))
                     + "</div>")
        st = m.get("stage_seconds") or {}
        msim = m.get("similarity_media")
        parts.append("<table><tr><th>verdict</th><th>similarity, semantics sent vs received</th>"
                     "<th>similarity, original vs regenerated media (described again)</th>"
                     "<th>channel uses (complex symbols)</th><th>raw media</th><th>semantic bits (as 32-bit floats)</th>"
                     "<th>frames</th><th>stage seconds</th></tr>"
                     f"<tr><td class='{cls}'><b>{_e(verdict)}</b></td>"
                     f"<td class='{cls}'>{_e(None if sim is None else f'{sim:.3f}')}</td>"
                     f"<td>{_e('-' if msim is None else f'{msim:.3f}')}</td><td>{_e(m.get('channel_uses'))}</td>"
                     f"<td>{_e(m.get('raw_bytes'))} bytes</td><td>{_e(m.get('bits_semantic'))}</td>"
                     f"<td>{_e(m.get('frames'))}</td>"
                     f"<td>{_e(', '.join(f'{k} {v:.2f}' for k, v in st.items()))}</td></tr></table>")
        if m.get("description_out"):
            parts.append(f"<p><b>Regenerated media, described again at the receiver:</b> {_e(m['description_out'])}</p>")
        parts.append("</div>")
    ls = summary.get("lam_sc")
    if ls:
        figs = "".join(f"<figure><img src='{_e(os.path.relpath(ls['files'][k], out_dir))}' alt='{k}'>"
                       f"<figcaption>{_e(k.replace('_', '-'))}</figcaption></figure>"
                       for k in ("original", "segments", "semantic_aware", "recovered"))
        parts.append(f"<div class='msg' id='lam-sc'><h2>LAM-SC: {_e(Path(ls['source']).name)} sent as an image "
                     f"<span class='tag'>{_e(ls['segmenter'])}</span></h2><div class='media'>{figs}</div>"
                     "<table><tr><th>segments (selected)</th><th>mask ratio</th><th>channel uses (SC would send)</th>"
                     "<th>air time</th><th>frames delivered</th><th>SSIM on the semantic-aware image</th></tr>"
                     f"<tr><td>{ls['segments']} ({ls['selected']}, {ls['selection']})</td><td>{ls['mask_ratio']:.2f}</td>"
                     f"<td>{ls['channel_uses']} ({ls['sc_channel_uses']})</td><td>{1e3 * ls['air_time_s']:.1f} ms</td>"
                     f"<td>{ls['frames']['delivered']}/{ls['frames']['sent']}</td><td>{ls['ssim_sa']:.3f}</td></tr>"
                     "</table></div>")
    plots = summary.get("plots") or []
    if plots:
        parts.append("<h2>Physical layer</h2><div class='plots'>")
        for p in plots:
            rel = os.path.relpath(p["path"], out_dir)
            parts.append(f"<figure><img src='{_e(rel)}' alt='{_e(p['title'])}'><figcaption>{_e(p['title'])}</figcaption></figure>")
        parts.append("</div>")
    parts.append("<h2>Configuration</h2><pre>" + _e(json.dumps(summary.get("config", {}), indent=1)) + "</pre>")
    parts.append("</body></html>")
    path = out_dir / "index.html"
    atomic_write_text(path, "\n".join(parts))
    return path
