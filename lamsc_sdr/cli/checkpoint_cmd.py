"""``lamsc checkpoint sign|verify``: SHA-256 sidecars (``PATH.sha256.json``) for ``.pt`` checkpoints."""
from __future__ import annotations


def _sign(args) -> int:
    from ..checkpoints import read_sidecar, sign
    for p in args.paths:
        old = read_sidecar(p) if not args.force else None
        if old and old.get("config") and not args.config:
            side = sign(p, config=old["config"], versions=old.get("versions"))
        else:
            side = sign(p, config=_config(args) if args.config else None)
        print(f"{p}: signed -> {side}")
    return 0


def _config(args):
    from ..config_base import read_yaml_mapping
    return read_yaml_mapping(args.config, "config file")


def _verify(args) -> int:
    from ..checkpoints import shipped_checkpoints, verify
    paths = args.paths or [str(p) for p in shipped_checkpoints()]
    for p in paths:
        body = verify(p, required=True)
        print(f"{p}: ok (sha256 {body['sha256'][:16]}..., {body.get('format', '?')}, "
              f"lamsc_sdr {body.get('versions', {}).get('lamsc_sdr', '?')})")
    return 0


def register(groups) -> None:
    p = groups["top"].add_parser("checkpoint", help="sign or verify checkpoints' SHA-256 sidecars")
    sub = p.add_subparsers(dest="what", metavar="WHAT")
    s = sub.add_parser("sign", help="write PATH.sha256.json (hash, resolved config, package versions) for "
                                    "each checkpoint; run it after shipping a new .pt")
    s.add_argument("paths", nargs="+", metavar="PATH", help=".pt checkpoint file(s)")
    s.add_argument("--config", metavar="YAML", help="the config that made it (default: what the checkpoint "
                                                    "or its old sidecar records)")
    s.add_argument("--force", action="store_true", help="ignore an existing sidecar's config and versions")
    s.set_defaults(func=_sign)
    v = sub.add_parser("verify", help="check checkpoints against their sidecars (default: every shipped one); "
                                      "exit 1 naming the first file that fails")
    v.add_argument("paths", nargs="*", metavar="PATH", help=".pt checkpoint file(s) (default: every shipped one)")
    v.set_defaults(func=_verify)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])
