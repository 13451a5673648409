"""LAM-SC commands: ``lamsc train lam-sc``, ``lamsc eval image``, ``lamsc bench lam-sc``,
``lamsc lam-sc images|segment``, and the ``--codec lam-sc`` branch of ``lamsc link``."""
from __future__ import annotations

import shlex
import sys
from pathlib import Path

from ..errors import ConfigError
from .common import add_config_args, add_json_arg, parse_range, run_config

STAND_IN_NOTE = "segments: stand-in for SAM (classical segmentation + saliency; pass --segmenter sam:CKPT for SAM)"


def _segmenter(spec: str):
    from ..lam_sc.segment import make_segmenter
    return make_segmenter(spec)


def _train(args) -> int:
    from ..lam_sc.train import TrainConfig, train_all
    from ..provenance import write_json
    cfg = TrainConfig(seed=args.seed if args.seed is not None else 0, n_images=args.images, minutes=args.minutes,
                      rounds=args.rounds, rate_weight=args.rate_weight, threads=args.threads,
                      resume_sc=args.resume_sc, stages=args.stages, device=args.device, pool=args.pool,
                      width=args.width, depth=args.depth, batch=args.batch, crop=args.crop, lr=args.lr,
                      finetune_decoder=not args.no_finetune_decoder, asi_from=args.asi_from,
                      max_ssim_loss=args.max_ssim_loss)
    if cfg.minutes <= 0 or cfg.rounds < 1 or cfg.batch < 3 or cfg.width < 1 or cfg.depth < 0:
        raise ConfigError("--minutes must be > 0, --rounds >= 1, --batch >= 3, --width >= 1, --depth >= 0")
    cmd = "lamsc " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    meta = train_all(cfg, args.out, command=cmd)
    cal, asi = meta["threshold_calibration"], meta["asi"].get("val_segment_accuracy")
    print(f"checkpoint {args.out} ({Path(args.out).stat().st_size / 1e6:.2f} MB) in {meta['seconds']:.0f} s; "
          f"validation SC SSIM at 10 dB {meta['validation_sc_ssim_10db']:.4f}")
    if cal:
        print(f"mask threshold {cal['threshold']}: validation SC SSIM {cal['sc_ssim_val']} at {cal['snrs']} dB, "
              f"SC+ASC loss {cal['ssim_loss']}, uses ratio {cal['uses_ratio']:.3f}")
    if asi:
        print(f"ASI validation segment accuracy {asi['rate']:.3f} [{asi['ci_low']:.3f}, {asi['ci_high']:.3f}] "
              f"n={asi['n']}" + (f" (copied from {meta['asi']['copied_from']})" if "copied_from" in meta["asi"] else ""))
    if args.json:
        write_json(args.json, {k: v for k, v in meta.items() if k != "training_image_sha256"})
    return 0


def evalset_images(size: str = "full", root=None) -> tuple:
    """The image items of the project's evaluation set (``lamsc evalset build --size SIZE``),
    checked against every LAM-SC training source frame: same file sha256, same source file, or
    a near-duplicate 64-bit pHash (Hamming <= 10, ``mma.fingerprint``) excludes an item.
    Returns ((n, 128, 128, 3) uint8 centre squares, names, check record)."""
    import numpy as np

    from ..experiments.evalsets import load
    from ..lam_sc import images as im
    from ..mma.fingerprint import MAX_HAMMING, hamming, phash
    m = load(size, root, build_missing=False)
    train = im.load_sources("train")
    train_sha = {s.sha256 for s in train}
    train_ph = [phash(f) for s in train for f in s.frames]
    arr, names, excluded, closest = [], [], [], []
    for it in (x for x in m["items"] if x["modality"] == "image"):
        img = im.read_rgb(it["path"])
        d = min(hamming(phash(img), h) for h in train_ph)
        if it["sha256"] in train_sha or it["source_sha256"] in train_sha or d <= MAX_HAMMING:
            excluded.append({"id": it["id"], "min_phash_hamming": d})
            continue
        closest.append(d)
        arr.append(im.center_square(img))
        names.append(it["id"])
    if not arr:
        raise ConfigError(f"the {size} evaluation set has no image that is not in the training data")
    check = {"evalset": size, "n": len(arr), "excluded_as_in_training": excluded,
             "min_phash_hamming_to_training": int(min(closest)),
             "rule": f"file sha256, source file sha256, or pHash Hamming <= {MAX_HAMMING} against all "
                     f"{len(train_ph)} training source frames"}
    return np.stack(arr), names, check


def _images(args):
    from ..lam_sc import images as im
    check = None
    if args.images in ("heldout", "held-out"):
        arr, names, _ = im.evaluation_set(args.per_photo)
    elif args.images.startswith("evalset"):
        arr, names, check = evalset_images(args.images.partition(":")[2] or "full")
    else:
        arr, names = im.load_image_dir(args.images)
    if args.limit:
        arr, names = arr[: args.limit], names[: args.limit]
    return arr, names, check


def _eval(args) -> int:
    from ..lam_sc.evaluate import evaluate, parse_systems, plot
    from ..lam_sc.model import LamScCodec
    from ..provenance import write_json
    cfg = run_config(args)
    systems = parse_systems(args.systems)
    snrs = parse_range(args.snr)
    codec = LamScCodec.load(args.checkpoint)
    seg = _segmenter(args.segmenter)
    arr, names, check = _images(args)
    doc = evaluate(arr, names, systems, snrs, codec, seg, codec.selector(), cfg, channel=args.channel,
                   seed=cfg.seed)
    doc["checkpoint"] = codec.path
    doc["images"] = args.images
    if check:
        doc["held_out_check"] = check
        print(f"evaluation set {check['evalset']}: n = {check['n']} photographs, "
              f"{len(check['excluded_as_in_training'])} excluded as in the training data; closest pHash to a "
              f"training frame: {check['min_phash_hamming_to_training']} bits")
    if seg.stand_in:
        doc["note"] = STAND_IN_NOTE
    print(f"{'system':10s} {'SNR':>5s} {'SSIM':>7s} {'95% CI':>17s} {'SSIM_sa':>8s} {'PSNR':>6s} {'uses':>8s} {'n':>4s}")
    for r in doc["results"]:
        print(f"{r['system']:10s} {r['snr_db']:5.1f} {r['ssim']:7.3f} [{r['ssim_ci'][0]:.3f}, {r['ssim_ci'][1]:.3f}] "
              f"{r['ssim_sa']:8.3f} {r['psnr_db']:6.2f} {r['channel_uses']:8.0f} {r['n']:4d}")
    if seg.stand_in:
        print(STAND_IN_NOTE)
    if args.json:
        write_json(args.json, doc, cfg)
    if args.plot:
        plot(doc, args.plot)
        print(f"plot: {args.plot}")
    return 0


def _bench(args) -> int:
    from ..lam_sc.bench import bench, print_bench
    from ..provenance import write_json
    res = bench(args.checkpoint, repeats=args.repeats, segmenter=_segmenter(args.segmenter))
    print_bench(res)
    if args.json:
        write_json(args.json, res)
    return 0


def _write_images(args) -> int:
    from ..lam_sc import images as im
    arr, names, meta = im.evaluation_set(args.per_photo)
    out = im.write_image_dir(args.out, arr, names, meta)
    print(f"{len(names)} held-out images + manifest.json in {out}")
    return 0


def parse_prompt(texts: list[str] | None) -> list[tuple[int, int]] | None:
    """``--prompt X,Y`` (repeatable; or several pairs separated by ';') -> [(x, y), ...]."""
    if not texts:
        return None
    pts = []
    for t in texts:
        for pair in filter(None, (q.strip() for q in t.split(";"))):
            xy = pair.split(",")
            try:
                if len(xy) != 2:
                    raise ValueError
                pts.append((int(xy[0]), int(xy[1])))
            except ValueError:
                raise ConfigError(f"--prompt: expected X,Y pixel coordinates (integers), got {pair!r}") from None
    return pts


def add_prompt_arg(p) -> None:
    p.add_argument("--prompt", action="append", metavar="X,Y",
                   help="--codec lam-sc: a human prompt point in the image's own pixel coordinates (repeatable, "
                        "or 'X,Y;X,Y'); the segments under the points are sent instead of the ASI's choice")


def link_image(args, cfg) -> int:
    """``lamsc link IMAGE --codec lam-sc``: segment, select, merge, encode, frames over the radio."""
    from ..lam_sc.demo_row import send_image
    from ..provenance import write_json
    from ..radio import make_radio
    with make_radio(cfg.radio, cfg) as radio:
        res = [send_image(f, radio, cfg, out_dir=args.media_out, prompt=parse_prompt(getattr(args, "prompt", None)),
                          message_id=i + 1) for i, f in enumerate(args.files)]
    for r in res:
        print(f"[image] {Path(r['source']).name}: {r['segments']} segments, {r['selected']} selected "
              f"({100 * r['region_fraction']:.0f} % of the image), mask ratio {r['mask_ratio']:.2f}, "
              f"{r['channel_uses']} channel uses, air time {1e3 * r['air_time_s']:.1f} ms, frames "
              f"{r['frames']['delivered']}/{r['frames']['sent']}, SSIM {r['ssim_sa']:.3f} on the semantic-aware "
              f"image -> {r['recovered']}" + (f" (selection: human prompt {r['prompt']})" if r.get("prompt") else ""))
        if r["stand_in"]:
            print("    " + STAND_IN_NOTE)
    if args.json:
        write_json(args.json, {"messages": res}, cfg)
    return 0


def register(groups) -> None:
    t = groups["train"].add_parser("lam-sc", help="train LAM-SC (crossed SC training, ASC mask, ASI) on CPU")
    t.add_argument("--out", default="lamsc_sdr/lam_sc/checkpoints/lam_sc_128.pt", help="checkpoint path")
    t.add_argument("--images", type=int, default=1200, help="training crops (default 1200)")
    t.add_argument("--minutes", type=float, default=18.0, help="wall-clock budget of all stages (default 18)")
    t.add_argument("--rounds", type=int, default=3, help="crossed-training rounds (default 3)")
    t.add_argument("--rate-weight", type=float, default=0.05, help="mask-net rate penalty (default 0.05)")
    t.add_argument("--resume-sc", metavar="CKPT", help="keep this checkpoint's SC weights; train only the mask "
                                                       "net and the ASI")
    t.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    t.add_argument("--stages", default="sc,asc,calibrate,asi",
                   help="comma list of sc, asc, calibrate, asi (default all; without asi the ASI is copied)")
    t.add_argument("--device", default="cpu", help="torch device: cpu (default) or cuda")
    t.add_argument("--pool", action="store_true", help="make --images random crops on the device from the training "
                                                       "pool (no experience base: needs --stages without asi)")
    t.add_argument("--width", type=int, default=32, help="encoder/decoder width (default 32)")
    t.add_argument("--depth", type=int, default=0, help="extra conv3 layers per block (default 0)")
    t.add_argument("--batch", type=int, default=16, help="batch size (default 16)")
    t.add_argument("--crop", type=int, default=64, help="training window side, 64 or 128 (default 64)")
    t.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate (default 2e-3)")
    t.add_argument("--max-ssim-loss", type=float, default=0.008,
                   help="calibrate: largest SC+ASC SSIM loss allowed at 0/10/20 dB (default 0.008)")
    t.add_argument("--no-finetune-decoder", action="store_true", help="asc: keep the semantic decoder frozen")
    t.add_argument("--asi-from", metavar="CKPT", help="copy the ASI from this checkpoint (default: the resumed or "
                                                     "the shipped one) when the asi stage is not run")
    t.add_argument("--seed", type=int, help="seed (default 0)")
    add_json_arg(t)
    t.set_defaults(func=_train)

    e = groups["eval"].add_parser("image", help="LAM-SC vs SC vs SC+ASC vs JPEG: SSIM/PSNR vs SNR on images")
    add_config_args(e)
    add_json_arg(e)
    e.add_argument("--images", default="heldout", help="folder of images, 'heldout' (crops of the 3 built-in "
                                                       "held-out photographs; default), or 'evalset[:full|small]' (the "
                                                       "project evaluation set's photos, checked against training)")
    e.add_argument("--per-photo", type=int, default=16, help="heldout: images per held-out photo (default 16)")
    e.add_argument("--limit", type=int, help="use only the first N images")
    e.add_argument("--systems", default="lam-sc,sc,sc-asc,jpeg", help="comma list: lam-sc, sc, sc-asc, jpeg[:MCS]")
    e.add_argument("--snr", default="0:20:10", help="SNRs in dB, START:STOP:STEP or a comma list (default 0:20:10)")
    e.add_argument("--channel", default="awgn", choices=["awgn", "phy"],
                   help="awgn: symbol level; phy: OFDM frames over the config's radio/channel/estimator")
    e.add_argument("--checkpoint", help="LAM-SC checkpoint (default: the shipped one)")
    e.add_argument("--segmenter", default="classical", help="classical (stand-in, default) or sam:CHECKPOINT")
    e.add_argument("--plot", metavar="PNG", help="SSIM vs SNR figure")
    e.set_defaults(func=_eval)

    b = groups["bench"].add_parser("lam-sc", help="encode+decode time of one 128x128 image vs the 50 ms target")
    add_json_arg(b)
    b.add_argument("--repeats", type=int, default=50, help="timed repetitions (default 50)")
    b.add_argument("--checkpoint", help="LAM-SC checkpoint (default: the shipped one)")
    b.add_argument("--segmenter", default="classical", help="segmenter timed separately (default classical)")
    b.set_defaults(func=_bench)

    g = groups["top"].add_parser("lam-sc", help="LAM-SC tools: write the held-out image set")
    sub = g.add_subparsers(dest="what", metavar="WHAT")
    g.set_defaults(func=lambda a: (g.print_help(), 2)[1])
    w = sub.add_parser("images", help="write the held-out evaluation photographs (+ manifest.json) to a folder")
    w.add_argument("--out", required=True, help="folder")
    w.add_argument("--per-photo", type=int, default=16, help="images per held-out photo (default 16)")
    w.set_defaults(func=_write_images)
