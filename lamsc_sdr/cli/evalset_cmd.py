"""``lamsc evalset build|verify|show``: the real-media evaluation sets of the experiments."""
from __future__ import annotations

import json


def _build(args) -> int:
    from ..experiments.evalsets import build
    m = build(args.size, args.root)
    print(f"{args.size} set: {m['counts']} (targets {m['targets']}); shortfall {m['shortfall'] or 'none'}; "
          f"{len(m['excluded_as_in_gallery'])} candidate(s) dropped as in the receiver's gallery")
    return 0


def _verify(args) -> int:
    from ..experiments.evalsets import verify
    r = verify(args.size, args.root)
    print(json.dumps(r, indent=1))
    return 0 if r["ok"] else 1


def _show(args) -> int:
    from ..experiments.evalsets import load
    m = load(args.size, args.root, build_missing=False)
    for it in m["items"]:
        print(f"{it['modality']:6s} {it['id']:40s} {it['licence'][:40]:40s} {it['sha256'][:12]}")
    print(m["counts"])
    return 0


def register(groups) -> None:
    p = groups["top"].add_parser("evalset", help="build / verify the real-media evaluation sets (with a manifest)")
    sub = p.add_subparsers(dest="what", metavar="WHAT")
    for name, fn, hlp in (("build", _build, "build the set (full: fetches three Debian packages with apt-get download)"),
                          ("verify", _verify, "recompute every hash and the disjointness from the gallery"),
                          ("show", _show, "list the items with licence and hash")):
        s = sub.add_parser(name, help=hlp)
        s.add_argument("--size", choices=["small", "full"], default="small",
                       help="small: 3 images, 3 speech clips, 2 video clips (CI); full: >= 50 / 50 / 20")
        s.add_argument("--root", help="where sets live (default ~/.cache/lamsc_sdr/evalsets or $LAMSC_EVALSET_DIR)")
        s.set_defaults(func=fn)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])
