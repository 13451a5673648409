"""Radio commands: ``lamsc send|receive|link|capture|replay|calibrate``, ``lamsc eval fer``,
``lamsc bench soak``. Results as JSON with ``--json PATH``."""
from __future__ import annotations

import argparse
import dataclasses
import logging
import time
from pathlib import Path

from ..errors import ConfigError
from .common import add_config_args, add_json_arg, parse_range, run_config

log = logging.getLogger(__name__)


def _radio_args(p: argparse.ArgumentParser, record: bool = True) -> None:
    add_config_args(p)
    add_json_arg(p)
    p.add_argument("--radio", metavar="BACKEND",
                   help="sim | gnuradio | pluto | gnuradio-pluto | replay | sigmf-file (default: radio.backend)")
    p.add_argument("--uri", help="device URI (pluto: usb:1.2.5, ip:ADDRESS, double:... for the test double)")
    p.add_argument("--rx-uri", help="second Pluto receiving (two-device link)")
    p.add_argument("--snr", type=float, help="Es/N0 in dB of the simulated channel (sim, gnuradio)")
    p.add_argument("--calibration", metavar="YAML", help="apply calibration/<device>.yaml to received samples")
    if record:
        p.add_argument("--record", metavar="PATH", help="record the received stream to SigMF (PATH.sigmf-meta)")
    p.add_argument("--codec", choices=["auto", "digital", "semantic", "lamsc", "lam-sc"], default="auto",
                   help="digital: UTF-8 bits over QAM+FEC; semantic: the DeepSC codec's symbols; lamsc: the "
                        "whole LAM-MSC chain (media -> text -> LKB -> DeepSC -> ... -> media); lam-sc (link "
                        "only): an image as LAM-SC symbols (segments -> ASI -> CNN + ASC); auto (default): "
                        "lamsc when a FILE is an image, audio or video file, else digital")
    p.add_argument("--media-out", default="out/link", help="lamsc codec: folder for regenerated media (default out/link)")


def _cfg(args):
    cfg = run_config(args)
    radio = {}
    for k, a in (("backend", "radio"), ("uri", "uri"), ("rx_uri", "rx_uri"), ("calibration", "calibration")):
        if getattr(args, a, None) is not None:
            radio[k] = getattr(args, a)
    if radio:
        cfg = cfg.replace(radio=radio)
    if getattr(args, "snr", None) is not None:
        cfg = cfg.replace(channel={"snr_db": float(args.snr)})
    return cfg


def _texts(paths) -> list[str]:
    out = []
    for p in paths:
        try:
            out.append(Path(p).read_text(encoding="utf-8"))
        except OSError as err:
            raise ConfigError(f"cannot read message file {p}: {err.strerror}") from err
        except UnicodeDecodeError as err:
            raise ConfigError(f"message file {p} is not UTF-8 text") from err
    return out


def _cal_dict(radio):
    cal = getattr(radio, "calibration", None)
    return cal.to_dict() if hasattr(cal, "to_dict") else None


def _finish(args, payload: dict, cfg, verdict: bool = False) -> int:
    """Print the results, then write ``--json`` (a bad path never loses a printed run).
    ``verdict``: link/replay exit codes (0 all delivered, 3 partial, 4 nothing; lamsc_sdr.verdict)."""
    from ..provenance import write_json
    from ..verdict import exit_code, message_status, summary_line
    f = payload.get("frames", {})
    if f:
        print("frames: " + ", ".join(f"{k}={v}" for k, v in f.items()))
    for m in payload.get("messages", []):
        txt = m.get("text_received")
        shown = (txt[:70] + "...") if txt and len(txt) > 70 else txt
        print(f"message {m['message_id']}: {message_status(m)}" + (f" {shown!r}" if txt is not None else ""))
    code = 0
    if verdict:
        code = exit_code(payload.get("messages", []))
        print(summary_line(payload.get("messages", [])))
        payload = {**payload, "exit_code": code}
    if getattr(args, "json", None):
        write_json(args.json, payload, cfg)
    return code


# --- commands --------------------------------------------------------------------------------
def _codec(args) -> str:
    """Resolve ``--codec auto``: the whole chain for media files, the digital link for text."""
    if getattr(args, "codec", "auto") != "auto":
        return args.codec
    from ..mma import detect_modality
    files = getattr(args, "files", None) or []
    media = [f for f in files if Path(f).is_file() and detect_modality(f) != "text"]
    return "lamsc" if media else "digital"


def _lamsc_link(args, cfg) -> int:
    from ..pipeline import Link
    from ..radio import make_radio
    file_radio = cfg.radio.backend == "sigmf-file"
    with make_radio(cfg.radio, cfg, output=args.record if file_radio else None) as radio:
        link = Link(cfg, radio)
        reports = link.prepare(args.files)
        frames = link.transmit(reports, record=None if file_radio else args.record,
                               max_samples=getattr(args, "max_samples", None))
        for r in reports:
            link.receiver.finish(r, Path(args.media_out))
        from ..pipeline import score
        score(reports)
        res = {"frames": frames, "messages": [r.to_dict() for r in reports], "radio": radio.settings()}
    for m in res["messages"]:
        print(f"[{m['modality']}] {Path(m['source']).name}: sent {m['semantics_sent']!r}")
        print(f"    received {m['text_received']!r} (similarity {m['similarity']:.3f}); for the receiver: "
              f"{m['text_personalized']!r}" + (f"; media {m['media_out']}" if m["media_out"] else ""))
    return _finish(args, {**res, "messages": [{**m, "text_sent": m["semantics_sent"]} for m in res["messages"]]}, cfg,
                   verdict=True)


def _check_args(args) -> None:
    """Bad numbers and unwritable outputs fail before the radio starts (one line each)."""
    from .validate import check_output, check_outputs, positive
    for name in ("duration", "samples", "max_samples"):
        v = getattr(args, name, None)
        if v is not None:
            positive(v, "--" + name.replace("_", "-"))
    check_outputs(args, ("json", "record"))
    if getattr(args, "media_out", None):
        check_output(args.media_out, "--media-out", directory=True)


def _link(args) -> int:
    from ..radio import make_radio
    from ..transport import run_link
    _check_args(args)
    cfg = _cfg(args)
    if getattr(args, "users", None):
        from .m4sc_cmd import link_users
        return link_users(args, cfg)
    args.codec = _codec(args)
    if args.codec == "lamsc":
        return _lamsc_link(args, cfg)
    if args.codec == "lam-sc":
        from .lam_sc_cmd import link_image
        return link_image(args, cfg)
    texts = _texts(args.files)
    with make_radio(cfg.radio, cfg, output=args.record if cfg.radio.backend == "sigmf-file" else None) as radio:
        log.info("link over %r", radio)
        rec = None if cfg.radio.backend == "sigmf-file" else args.record
        res = run_link(radio, cfg, texts, record=rec, codec=args.codec, max_samples=args.max_samples,
                       calibration=_cal_dict(radio), progress=True)
        res["radio"] = radio.settings()
    return _finish(args, res, cfg, verdict=True)


def _send(args) -> int:
    from ..radio import make_radio
    from ..transport import Sender, load_semantic, save_reference
    from ..captures.sigmf_io import base_path
    _check_args(args)
    cfg = _cfg(args)
    args.codec = _codec(args)
    if args.codec == "lamsc":
        # The sender half of the chain: media -> description -> personalized semantics -> symbols.
        from ..pipeline import MODALITY_CODE, Sender as MediaSender, Stages
        stages = Stages(cfg)
        reps = [MediaSender(stages).prepare(f, i + 1) for i, f in enumerate(args.files)]
        for r in reps:
            print(f"[{r.modality}] {Path(r.source).name}: {r.semantics_sent!r}")
        sender = Sender(cfg.frame, "semantic", stages.codec)
        plan = sender.plan([r.semantics_sent for r in reps], modalities=[MODALITY_CODE[r.modality] for r in reps])
    else:
        sender = Sender(cfg.frame, args.codec, load_semantic(args.codec, cfg))
        plan = sender.plan(_texts(args.files))
    file_radio = cfg.radio.backend == "sigmf-file"
    with make_radio(cfg.radio, cfg, output=args.record if file_radio else None) as radio:
        if file_radio:
            radio.writer.update_global(config=cfg.to_dict(), **{k.split(":", 1)[1]: v
                                                                for k, v in plan.reference_meta().items()})
            for tf in plan.frames:
                h = tf.header
                radio.writer.annotate(tf.start, tf.length, message_id=h.message_id, segment_index=h.segment_index,
                                      segment_count=h.segment_count)
        elif args.record:
            save_reference(base_path(args.record), plan, radio.sample_rate, radio.center_freq,
                           {"lamsc:config": cfg.to_dict(), "lamsc:backend": radio.backend})
        radio.tx(plan.iq)
        if getattr(radio, "tx_cyclic", False) and args.duration:
            print(f"transmitting {len(plan.frames)} frames cyclically for {args.duration:g} s (Ctrl-C stops)")
            time.sleep(args.duration)
        elif radio.backend in ("sim", "gnuradio"):
            log.warning("nothing receives a %s radio in another process; use `lamsc link` for a loopback",
                        radio.backend)
    per_msg = {}
    for tf in plan.frames:
        per_msg[tf.header.message_id] = per_msg.get(tf.header.message_id, 0) + 1
    res = {"frames": {"sent": len(plan.frames)}, "samples": int(plan.iq.size),
           "messages": [{"message_id": m["message_id"], "text_sent": m["text"], "frames": per_msg.get(m["message_id"], 0)}
                        for m in plan.messages]}
    if args.record:
        res["recording"] = str(base_path(args.record)) + (".sigmf-meta" if file_radio else ".tx.sigmf-meta")
    return _finish(args, res, cfg)


def _receive(args) -> int:
    from ..captures.sigmf_io import SigMFRecorder, base_path
    from ..radio import make_radio
    from ..radio.base import recording_fields
    from ..transport import Reassembler, load_semantic, make_receiver, receive_stream, results
    _check_args(args)
    cfg = _cfg(args)
    lamsc = args.codec == "lamsc"      # a receiver has no files to look at: auto means digital here
    codec = "semantic" if lamsc else ("digital" if args.codec == "auto" else args.codec)
    receiver = make_receiver(cfg, codec)
    reasm = Reassembler(codec, load_semantic(codec, cfg))
    chunk = cfg.radio.rx_chunk
    n = int(args.samples or args.duration * cfg.frame.sample_rate)
    with make_radio(cfg.radio, cfg) as radio:
        rec = None
        if args.record:
            rate, freq, hw = recording_fields(radio, radio.backend in ("sim", "gnuradio", "replay"))
            rec = SigMFRecorder(base_path(args.record), rate, freq, hardware=hw,
                                extra_global={"lamsc:config": cfg.to_dict(), "lamsc:backend": radio.backend,
                                              "lamsc:simulated": radio.backend in ("sim", "gnuradio", "replay"),
                                              "lamsc:calibration": _cal_dict(radio), "lamsc:rx_chunk": chunk,
                                              "lamsc:codec": codec})
            radio.record_to(rec)
        try:
            frames, read = receive_stream(radio, receiver, chunk=chunk, max_samples=n, recorder=rec,
                                          on_frame=reasm.add,
                                          exhausted=(lambda: radio.exhausted) if hasattr(radio, "exhausted") else None,
                                          progress=True)
        finally:
            if rec is not None:
                rec.close()
    msgs = [{"message_id": m, "text": None} for m in sorted(reasm.counts)]
    res = results(msgs, frames, reasm, 0, read, receiver.stats)
    if lamsc:
        res["messages"] = _lamsc_receive(cfg, reasm, res["messages"], Path(args.media_out))
    if args.record:
        res["recording"] = str(base_path(args.record)) + ".sigmf-meta"
    return _finish(args, res, cfg)


def _lamsc_receive(cfg, reasm, messages: list[dict], out: Path) -> list[dict]:
    """The receiver half of the chain for each complete message: personalize, regenerate media."""
    from ..pipeline import MODALITY_NAME, MessageReport, Receiver, Stages
    stages = Stages(cfg, codec=reasm.semantic)
    rcv = Receiver(stages)
    outm = []
    for m in messages:
        segs = reasm.segments.get(m["message_id"], {})
        modality = MODALITY_NAME.get(segs[min(segs)].header.modality, "text") if segs else "text"
        rep = MessageReport(message_id=m["message_id"], modality=modality, source="(received)",
                            text_received=m["text_received"])
        rcv.finish(rep, out, describe_back=False)
        print(f"[{modality}] message {rep.message_id}: {rep.text_received!r} -> {rep.text_personalized!r}"
              + (f"; media {rep.media_out}" if rep.media_out else ""))
        outm.append({**m, **{k: v for k, v in rep.to_dict().items() if k in
                             ("modality", "text_personalized", "media_out", "labels", "stage_seconds")}})
    return outm


def _capture(args) -> int:
    args.record = args.out
    if args.files:
        return _link(args)
    return _receive(args)


def _replay(args) -> int:
    from ..transport import replay_capture
    from .common import parse_overrides
    from .validate import check_outputs
    check_outputs(args, ("json",))
    # The recording's own config, then --config, then --set/--seed (lamsc_sdr.captures.replay_config)
    res, used = replay_capture(args.capture, codec=args.codec, config_path=args.config,
                               overrides=parse_overrides(args.set, args.seed))
    return _finish(args, res, used, verdict=True)


def _calibrate(args) -> int:
    import numpy as np
    from ..calibration import calibrate, save_calibration
    from ..radio import make_radio
    from .validate import check_output, check_outputs
    check_outputs(args, ("json", "out"))
    cfg = _cfg(args)
    with make_radio(cfg.radio, cfg, calibration=False) as radio:
        cal = calibrate(radio, args.target_snr, np.random.default_rng(cfg.seed))
    out = Path(args.out) if args.out else Path("calibration") / f"{cal.device}.yaml"
    check_output(out, "calibration file")
    ppm = "one device: no ppm" if cal.cfo_ppm is None else f"{cal.cfo_ppm:.3f} ppm"
    print(f"calibration of {cal.device}: CFO {cal.cfo_hz:.1f} Hz ({ppm}), SNR {cal.snr_db:.1f} dB, "
          f"tx_gain {cal.tx_gain}, rx_gain {cal.rx_gain}, DC {cal.dc:.4f}, IQ {cal.iq_gain_db:.2f} dB / "
          f"{cal.iq_phase_deg:.2f} deg, clipping {cal.clipping:.3%}")
    save_calibration(cal, out)
    print(f"calibration written to {out}")
    if args.json:
        from ..provenance import write_json
        write_json(args.json, {"calibration": cal.to_dict(), "path": str(out)}, cfg)
    return 0


def _fer(args) -> int:
    from ..radio.bench import fer_sweep
    cfg = _cfg(args)
    if args.model:
        cfg = cfg.replace(channel={"model": args.model})
    res = fer_sweep(cfg, [b.strip() for b in args.radios.split(",")], parse_range(args.snr_range, "--snr-range"), args.frames,
                    args.bits, workers=args.workers, ray_address=args.ray_address)
    from ..provenance import write_json
    for row in res["rows"]:
        print(f"SNR {row['snr_db']:5.1f} dB  " + "  ".join(
            f"{b}: FER {row[b]['fer']:.4f} [{row[b]['ci95'][0]:.4f}, {row[b]['ci95'][1]:.4f}]"
            for b in res["radios"]) + f"  p={row['p_value']:.3f}")
    print("agree within 95% confidence at every SNR:", res["agree"])
    if args.json:
        write_json(args.json, res, cfg)
    return 0


def _soak(args) -> int:
    from ..radio.bench import soak
    cfg = _cfg(args)
    res = soak(cfg, args.frames, args.bits, batch=args.batch)
    print(f"{res['frames']['sent']} frames: lost {res['frames']['lost']}, {res['frames_per_s']:.1f} frames/s, "
          f"{res['msps']:.2f} Msps, RSS {res['rss_mb']['start']:.1f} -> {res['rss_mb']['end']:.1f} MB "
          f"(max {res['rss_mb']['max']:.1f})")
    if args.json:
        from ..provenance import write_json
        write_json(args.json, res, cfg)
    return 0 if res["frames"]["lost"] == 0 else 1


_EXIT_EPILOG = ("exit status: 0 every message delivered; 3 partial (some delivered); 4 nothing delivered; "
                "1 error (one 'lamsc: error:' line); 2 bad usage")


def register(groups) -> None:
    top = groups["top"]
    p = top.add_parser("link", help="send files and receive them in one process", epilog=_EXIT_EPILOG)
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="message file(s): UTF-8 text, or an image, audio or video file (the lamsc codec)")
    _radio_args(p)
    p.add_argument("--max-samples", type=int, help="receive budget in samples (default: the planned stream + 4 chunks)")
    p.add_argument("--users", metavar="USERS.yaml", help="M4SC: one media FILE to many users, each with its "
                   "task (docs/M4SC.md); public part once, private parts per user")
    p.add_argument("--unicast", action="store_true", help="--users: send each user all its semantics instead")
    p.add_argument("--repair", type=int, default=1, help="--users: retransmission rounds for lost parts")
    p.add_argument("--share-threshold", type=float, default=0.85, help="--users: cosine of a shared unit")
    from .lam_sc_cmd import add_prompt_arg
    add_prompt_arg(p)
    p.set_defaults(func=_link)

    p = top.add_parser("send", help="transmit text files (pluto: cyclically for --duration s; "
                                    "sigmf-file: into --record)")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="message file(s): UTF-8 text, or an image, audio or video file (the lamsc codec)")
    _radio_args(p)
    p.add_argument("--duration", type=float, default=10.0, help="seconds of cyclic transmission (pluto)")
    p.set_defaults(func=_send)

    p = top.add_parser("receive", help="receive and decode frames for a while")
    _radio_args(p)
    p.add_argument("--samples", type=int, help="samples to read (default: --duration * sample rate)")
    p.add_argument("--duration", type=float, default=1.0, help="seconds to receive")
    p.set_defaults(func=_receive)

    p = top.add_parser("capture", help="record a SigMF capture (with FILEs: transmit them over a loopback first)",
                       epilog="with FILEs, " + _EXIT_EPILOG)
    p.add_argument("out", metavar="OUT", help="SigMF base path (OUT.sigmf-meta, OUT.sigmf-data)")
    p.add_argument("files", nargs="*", metavar="FILE", help="message file(s) to transmit and record (as `link`)")
    _radio_args(p, record=False)
    p.add_argument("--samples", type=int, help="without FILEs: samples to record (default: --duration * sample rate)")
    p.add_argument("--duration", type=float, default=1.0, help="without FILEs: seconds to record (default 1)")
    p.add_argument("--max-samples", type=int, help="with FILEs: receive budget in samples")
    p.set_defaults(func=_capture)

    p = top.add_parser("replay", help="decode a SigMF recording like the live receiver", epilog=_EXIT_EPILOG)
    p.add_argument("capture", metavar="CAPTURE.sigmf-meta", help="the recording (BASE, .sigmf-meta or .sigmf-data)")
    add_config_args(p)
    add_json_arg(p)
    p.add_argument("--codec", choices=["digital", "semantic"], default=None,
                   help="payload codec (default: the recording's lamsc:codec, else digital)")
    p.set_defaults(func=_replay)

    p = top.add_parser("calibrate", help="measure CFO, gains, DC offset, IQ imbalance; write calibration/<device>.yaml")
    _radio_args(p, record=False)
    p.add_argument("--target-snr", type=float, default=25.0,
                   help="SNR in dB the gain search aims for at the receiver (default 25)")
    p.add_argument("--out", metavar="YAML", help="default calibration/<device>.yaml")
    p.set_defaults(func=_calibrate)

    p = groups["eval"].add_parser("fer", help="frame error rate vs SNR through several radios in one run")
    _radio_args(p, record=False)
    p.add_argument("--radios", default="sim,gnuradio", help="comma list of radio backends to compare "
                                                             "(default sim,gnuradio)")
    p.add_argument("--snr-range", default="-1:5:1", help="START:STOP:STEP or a comma list (dB, at most 1000 points)")
    p.add_argument("--frames", type=int, default=300, help="frames per SNR point and radio")
    p.add_argument("--bits", type=int, default=400, help="payload bits per frame")
    p.add_argument("--model", default="awgn", help="channel model (default awgn)")
    from ..experiments.runner import add_scale_args
    add_scale_args(p)
    p.set_defaults(func=_fer)

    p = groups["bench"].add_parser("soak", help="stream many frames through a loopback radio; frames/s, memory")
    _radio_args(p, record=False)
    p.set_defaults(radio="gnuradio", snr=30.0)
    p.add_argument("--frames", type=int, default=10000, help="frames to stream (default 10000)")
    p.add_argument("--bits", type=int, default=400, help="payload bits per frame (default 400)")
    p.add_argument("--batch", type=int, default=200, help="frames per transmitted burst (default 200)")
    p.set_defaults(func=_soak)
