"""``lamsc train semantic``, ``lamsc eval text``, ``lamsc bench semantic``."""
from __future__ import annotations

import json
import logging

from ..devices import add_device_arg
from ..experiments.runner import add_scale_args
from .common import add_config_args, add_json_arg, parse_range, run_config

log = logging.getLogger(__name__)


def _train(args) -> int:
    from ..provenance import write_json
    from ..semantic.train import train_semantic

    extra = []
    if args.init:
        extra.append(f"semantic.train.init={args.init}")
    if args.mix_captions is not None:
        extra.append(f"semantic.train.mix_captions={args.mix_captions}")
    args.set = (getattr(args, "set", None) or []) + extra
    cfg = run_config(args)
    out = args.out or "deepsc_europarl.pt"
    plot = args.plot or (out.rsplit(".", 1)[0] + "_loss.png")
    summary = train_semantic(args.corpus, cfg, out, plot, device=args.device)
    summary["plot"] = plot
    print(json.dumps(summary, indent=2))
    if args.json:
        write_json(args.json, summary, cfg)
    return 0


def _read_sentences(path: str, n: int | None) -> list[str]:
    from pathlib import Path

    from ..errors import ConfigError
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise ConfigError(f"--sentences: cannot read {path}: {err.strerror}") from err
    lines = [s.strip() for s in text.splitlines() if s.strip()]
    if not lines:
        raise ConfigError(f"--sentences: {path} holds no sentences")
    return lines[:n] if n else lines


def _eval_text(args) -> int:
    from ..provenance import write_json
    from ..semantic.evaluate import plot_results

    cfg = run_config(args)
    sentences = _read_sentences(args.sentences, args.n)
    snrs = parse_range(args.snr)
    ests = [e.strip() for e in (args.estimator or cfg.estimator.kind).split(",") if e.strip()]
    allowed = ("perfect", "ls", "lmmse") if args.level == "symbol" else _TEXT_ESTIMATORS
    bad = [e for e in ests if e not in allowed]
    if bad:
        from ..errors import ConfigError
        raise ConfigError(f"--estimator: {bad[0]!r} is not one of {list(allowed)} (--level {args.level})")
    from ..experiments.eval_workers import text_items
    from ..experiments.runner import run_items
    # one item per (estimator, SNR) with its own seed: the same rows for any --workers
    out = run_items("lamsc_sdr.experiments.eval_workers:text_worker",
                    {"cfg": cfg.to_dict(), "checkpoint": args.checkpoint or "europarl", "device": args.device,
                     "sentences": sentences, "channel": args.channel, "level": args.level,
                     "threshold": args.threshold}, text_items(cfg.seed, ests, snrs),
                    workers=args.workers, ray_address=args.ray_address, desc="eval text (estimator x SNR)")
    rows = [r for o in out for r in o["rows"]]
    est = ",".join(ests)
    payload = {"results": rows, "level": args.level, "channel": args.channel, "estimator": est,
               "n_sentences": len(sentences), "sentences": args.sentences, "threshold": args.threshold,
               "checkpoint": out[0]["checkpoint"] if out else None,
               "symbols_per_token": out[0]["symbols_per_token"] if out else None,
               "workers": args.workers, "item_seed_rule": "sha256([seed, 'eval-text', estimator, snr])",
               "bleu_note": "sentence BLEU on lowercased words, averaged; semantic output is lowercased"}
    for r in rows:
        tag = f"{r['system']}[{r['estimator']}]" if len(ests) > 1 else r["system"]
        print(f"{tag:>30s} {r['snr_db']:5.1f} dB  sim {r['similarity']:.3f}  acc {r['accuracy']:.3f}  "
              f"BLEU-1 {r['bleu1']:.3f}  BLEU-4 {r['bleu4']:.3f}  uses {r['channel_uses']:.0f}")
    if args.json:
        write_json(args.json, payload, cfg)
    if args.plot:
        plot_results([r for r in rows if r["estimator"] == ests[0]], args.plot,
                     f"{len(sentences)} sentences, {args.channel}, {ests[0]} estimator, {args.level} level")
    return 0


_TEXT_ESTIMATORS = ("perfect", "ls", "lmmse", "lmmse-est", "cgan", "cgan-plain")


def _bench(args) -> int:
    from ..provenance import write_json
    from ..semantic.bench import bench_codec
    from ..semantic.codec import SemanticCodec

    cfg = run_config(args)
    codec = SemanticCodec.load(args.checkpoint or "europarl")
    sentences = _read_sentences(args.sentences, args.n) if args.sentences else None
    res = bench_codec(codec, sentences, repeats=args.repeats, n=args.n)
    print(json.dumps(res, indent=2))
    if args.json:
        write_json(args.json, res, cfg)
    return 0


def _zdict(args) -> int:
    from pathlib import Path

    from ..semantic.baseline import ZDICT_PATH, build_zdict
    from ..semantic.train import read_corpus, split_corpus

    cfg = run_config(args)
    sentences, sha = read_corpus(args.corpus)
    train, _ = split_corpus(sentences, cfg.semantic.train.holdout_permille)
    d = build_zdict(train)
    out = Path(args.out or ZDICT_PATH)
    out.write_bytes(d)
    print(json.dumps({"zdict": str(out), "bytes": len(d), "corpus_sha256": sha, "train_sentences": len(train)}))
    return 0


def register(groups) -> None:
    z = groups["train"].add_parser("zdict", help="build the digital baseline's DEFLATE preset dictionary "
                                                 "from a corpus (training split)")
    z.add_argument("--corpus", required=True, help="text file (or .gz), one sentence a line")
    z.add_argument("--out", help="default: the shipped lamsc_sdr/semantic/checkpoints/baseline_zdict.txt")
    add_config_args(z)
    z.set_defaults(func=_zdict)
    e = groups["eval"].add_parser("text", help="semantic codec vs digital baseline: BLEU, similarity, accuracy vs SNR")
    e.add_argument("--sentences", required=True, help="text file, one sentence a line")
    e.add_argument("--channel", default="awgn", help="awgn | rayleigh | a profile name (tdl-a, epa, ...)")
    e.add_argument("--snr", default="0:18:3", help="SNR range START:STOP:STEP or list (dB)")
    e.add_argument("--estimator", metavar="EST[,EST...]",
                   help="perfect | ls | lmmse | lmmse-est | cgan | cgan-plain, or a comma list evaluated side by side "
                        "(default: the config's estimator.kind)")
    e.add_argument("--level", choices=["frame", "grid", "symbol"], default="frame",
                   help="frame: full OFDM frame chain (default); grid: OFDM slots + pilots + estimator, "
                        "no sync; symbol: per-symbol model")
    e.add_argument("--threshold", type=float, default=0.6, help="similarity threshold of 'accuracy'")
    e.add_argument("--n", type=int, help="use the first N sentences")
    e.add_argument("--checkpoint", help="semantic checkpoint: 'europarl' (default: the shipped Europarl model of "
                                        "issue 3), 'lamsc' (the shipped LAM-MSC-adapted model the pipeline uses) "
                                        "or a path")
    e.add_argument("--plot", metavar="PNG", help="plot similarity/accuracy/BLEU vs SNR")
    add_device_arg(e, "the semantic codec")
    add_scale_args(e)
    add_config_args(e)
    add_json_arg(e)
    e.set_defaults(func=_eval_text)

    b = groups["bench"].add_parser("semantic", help="encoder/decoder latency (batch 1, one thread) and throughput")
    b.add_argument("--sentences", help="text file (default: the bundled held-out Europarl sample)")
    b.add_argument("--n", type=int, default=200, help="sentences per timed pass (default 200)")
    b.add_argument("--repeats", type=int, default=3, help="timed passes over the sentences; medians reported (default 3)")
    b.add_argument("--checkpoint", help="'europarl' (default), 'lamsc' or a path")
    add_config_args(b)
    add_json_arg(b)
    b.set_defaults(func=_bench)


    t = groups["train"].add_parser("semantic", help="train the DeepSC-style semantic codec (crossed CE/MINE training)")
    t.add_argument("--corpus", required=True, help="text file (or .gz), one sentence a line")
    t.add_argument("--out", help="checkpoint path (default: deepsc_europarl.pt)")
    t.add_argument("--plot", help="loss plot PNG (default: OUT_loss.png)")
    t.add_argument("--init", metavar="CHECKPOINT", help="fine-tune from this checkpoint ('europarl', 'lamsc' or a "
                                                      "path), keeping its tokenizer (= semantic.train.init)")
    t.add_argument("--mix-captions", type=float, metavar="FRACTION",
                   help="share of each batch drawn from generated caption-style text (lamsc_sdr.semantic.captions; "
                        "= semantic.train.mix_captions)")
    add_device_arg(t, "training")
    add_config_args(t)
    add_json_arg(t)
    t.set_defaults(func=_train)
