"""M4SC commands: ``lamsc m4sc task|eval-tasks|align|joint``, ``lamsc experiment m4sc`` and
``lamsc link FILE --users USERS.yaml`` (the last two are routed here by their parsers)."""
from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError
from .common import add_config_args, add_json_arg, run_config


def _cfg(args, explicit: bool | None = None):
    from ..demo import demo_config
    cfg = run_config(args)
    explicit = bool(getattr(args, "config", None)) if explicit is None else explicit
    cfg = demo_config(cfg, explicit=explicit)
    if not explicit:
        cfg = cfg.replace(kb={"llm": getattr(args, "llm", None) or "rules"})
    return cfg


def _users_list(text: str) -> list[int]:
    try:
        out = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError as err:
        raise ConfigError(f"--users: expected a comma list of user counts, got {text!r}") from err
    if not out or out[0] < 1 or out[-1] > 31:
        raise ConfigError(f"--users: user counts must be in 1..31, got {text!r}")
    return out


def experiment(args) -> int:
    """``lamsc experiment m4sc``."""
    from ..pipeline import format_table
    from ..provenance import write_json
    from ..m4sc.experiment import plot_m4sc, run_m4sc
    cfg = _cfg(args)
    users = _users_list(getattr(args, "users", None) or "1,2,4,8")
    snrs = None
    if getattr(args, "snr", None):
        from .common import parse_range
        snrs = parse_range(args.snr, "--snr")
    plot = args.plot or "out/experiments/m4sc/m4sc.png"
    out_json = args.json or "out/experiments/m4sc/m4sc.json"

    def save(res: dict, complete: bool) -> None:       # after every item too: a stopped run keeps its items
        plot_m4sc(res, plot)
        res.update(experiment="m4sc", size=args.size, plot=str(plot), complete=complete)
        write_json(out_json, res, cfg)
    res = run_m4sc(cfg, size=args.size, users=users, threshold=args.threshold, limit=getattr(args, "limit", None),
                   snrs=snrs, out_dir=str(Path(getattr(args, "out_dir", None) or "out/experiments") / "m4sc"),
                   on_item=lambda r: save(r, False))
    save(res, True)
    print(format_table([{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items() if not isinstance(v, dict)}
                        for r in res["results"]]))
    print(f"plot: {plot}")
    return 0


GROUP_BACKENDS = ("pluto", "gnuradio-pluto")


def _comma(text) -> list[str]:
    return [u.strip() for u in str(text or "").split(",") if u.strip()]


def group_uris(cfg, n_users: int) -> tuple[list[str], list[str | None]]:
    """The receivers' URIs of a multi-user Pluto link (``radio.rx_uri``, comma list) and their
    calibrations (``radio.calibration``: none, or a comma list of one ``lamsc calibrate --uri TX
    --rx-uri RX`` file per receiver: every TX/RX pair has its own carrier offset). ConfigError
    unless there is one URI per user and the transmitter ``radio.uri`` is a device of its own."""
    rx = _comma(cfg.radio.rx_uri)
    if len(rx) != n_users:
        raise ConfigError(f"--rx-uri: give one receiver URI per user, comma-separated ({n_users} users, "
                          f"{len(rx)} URI(s)); --uri is the transmitter")
    if not cfg.radio.uri or cfg.radio.uri in rx or len(set(rx)) != len(rx):
        raise ConfigError("--uri/--rx-uri: the transmitter and every receiver need a device of their own")
    cals = _comma(cfg.radio.calibration)
    if cals and len(cals) != n_users:
        raise ConfigError(f"--calibration: give one calibration file per receiver, in --rx-uri order ({n_users} "
                          f"users, {len(cals)} file(s)): each TX/RX pair has its own carrier offset")
    return rx, (cals or [None] * n_users)


def group_radio(cfg, n_users: int):
    """One transmitting radio on ``radio.uri`` and one receiving radio per user on the comma list
    ``radio.rx_uri`` (in users-file order), e.g. the devices of ``lamsc emulate pluto --devices N+1``."""
    import dataclasses

    from ..radio import make_radio
    from ..radio.broadcast import RadioGroup
    rx, cals = group_uris(cfg, n_users)
    radios = []
    try:
        radios.append(make_radio(dataclasses.replace(cfg.radio, rx_uri=None, calibration=None), cfg))
        for u, c in zip(rx, cals):
            radios.append(make_radio(dataclasses.replace(cfg.radio, uri=u, rx_uri=None, calibration=c), cfg))
    except BaseException:
        for r in radios:
            r.close()
        raise
    return RadioGroup(radios[0], radios[1:])


def link_users(args, cfg) -> int:
    """``lamsc link FILE --users USERS.yaml``: one media file to every user of the users file."""
    from ..pipeline import Stages
    from ..provenance import write_json
    from ..semantic.similarity import similarity
    from ..m4sc import sharing, tasks
    from ..m4sc.link import broadcast_radio, send_session
    from ..m4sc.template import load_session
    if len(args.files) != 1:
        raise ConfigError("--users: give exactly one media FILE (every user asks about the same content)")
    if cfg.radio.backend not in ("sim", *GROUP_BACKENDS):
        raise ConfigError(f"--users: multi-user links run on the sim radio or on Plutos ({', '.join(GROUP_BACKENDS)}: "
                          f"one transmitter --uri, one receiver each in --rx-uri); got radio {cfg.radio.backend!r}")
    if not args.config:
        cfg = cfg.replace(kb={"llm": "rules"})
    session = load_session(args.users)
    if cfg.radio.backend != "sim":
        group_uris(cfg, len(session.users))        # bad URIs fail before the models load
    st = Stages(cfg)
    sem = tasks.analyze(args.files[0], st)
    tpls = session.templates(sem.modality, str(args.files[0]))
    texts = [tasks.extract(t, sem) for t in tpls]
    plan = sharing.split(texts, args.share_threshold, names=[p.name for p in st.kb.base],
                              derive=[(lambda x, t=t: tasks.derive(t, x)) for t in tpls])
    ids = [u.id for u in session.users]
    if cfg.radio.backend == "sim":
        radio = broadcast_radio(cfg, [u.channel for u in session.users], cfg.seed)
    else:
        radio = group_radio(cfg, len(ids))
    try:
        res = send_session(radio, cfg, st.codec, ids, tpls, shared=None if args.unicast else plan,
                           unicast=texts if args.unicast else None, repair=args.repair)
        settings = radio.settings()
    finally:
        radio.close()
    msgs = []
    for i, (t, sent, u) in enumerate(zip(tpls, texts, res["users"])):
        # what this user recombines on a clean channel (its public groups + private part), and the output of that
        expected = sent if args.unicast else plan.user_text(i)
        ref = tasks.generate(t, expected, st.kb, session.sender)
        out = tasks.generate(t, u.text_received, st.kb, session.sender) if u.text_received is not None else None
        sim, osim = ((float(x) for x in similarity([expected, ref], [u.text_received, out]))
                     if u.text_received is not None else (0.0, 0.0))
        msgs.append({**u.to_dict(), "template": t.render(), "text_sent": sent, "text_expected": expected,
                     "output": out, "output_reference": ref, "similarity": sim, "output_similarity": osim})
        print(f"user {u.user} ({u.profile}, {u.task}) [{u.status}]: {out!r}")
    print(f"{'unicast' if args.unicast else 'shared'}: {res['channel_uses']} channel uses, {res['frames']} frames, "
          f"{res['transmissions']} transmission(s); public: {plan.public_text!r}")
    payload = {"scheme": "unicast" if args.unicast else "shared", "description": sem.description,
               "public_text": plan.public_text, "channel_uses": res["channel_uses"], "frames": res["frames"],
               "transmissions": res["transmissions"], "messages": msgs, "radio": settings}
    if args.json:
        write_json(args.json, payload, cfg)
    ok = sum(m["status"] == "ok" for m in msgs)
    return 0 if ok == len(msgs) else (3 if ok or any(m["text_received"] for m in msgs) else 4)


def _task(args) -> int:
    from ..pipeline import Stages
    from ..provenance import write_json
    from ..m4sc.tasks import run_task
    from ..m4sc.template import TaskInstruction
    text = Path(args.template).read_text(encoding="utf-8") if Path(args.template).is_file() else args.template
    t = TaskInstruction.parse(text)
    cfg = _cfg(args)
    res = run_task(t, Stages(cfg), args.sender)
    print(res["output"])
    if args.json:
        write_json(args.json, res, cfg)
    return 0


def _eval_tasks(args) -> int:
    from ..provenance import write_json
    from ..m4sc.evaluate import evaluate_tasks
    cfg = _cfg(args)
    res = evaluate_tasks(cfg)
    for k, v in res["tasks"].items():
        print(f"{k}: {v['metric']} = {v['value']:.3f} (n={v['n']}, 95% CI {v.get('ci_low', float('nan')):.3f}"
              f"-{v.get('ci_high', float('nan')):.3f})")
        for src, b in v.get("by_source", {}).items():
            r1 = b["retrieval_r1"]
            fid = b.get("fidelity_to_description")
            print(f"  {src}: cosine >= 0.6 {b['k']}/{b['n']} (mean {b['mean']:.3f}, chance {b['chance_mean_cosine']:.3f}); "
                  f"retrieval R@1 {r1['k']}/{r1['n']} [{r1['ci_low']:.3f}, {r1['ci_high']:.3f}] (chance "
                  f"{b['retrieval_chance']:.3f})" + (f"; fidelity to the description {fid['k']}/{fid['n']} "
                                                     f"(mean {fid['mean']:.3f})" if fid else ""))
    if args.json:
        write_json(args.json, res, cfg)
    return 0


def _align(args) -> int:
    from ..m4sc.align import run_alignment
    from ..provenance import write_json
    res = run_alignment(seed=args.seed or 0, epochs=args.epochs, modalities=args.modalities.split(","),
                        save=args.save, plot=args.plot)
    if args.json:
        write_json(args.json, res)
    return 0


def _joint(args) -> int:
    from ..m4sc.joint import run_joint
    from ..provenance import write_json
    res = run_joint(seed=args.seed or 0, steps=args.steps, save=args.save, plot=args.plot)
    if args.json:
        write_json(args.json, res)
    return 0


def register(groups) -> None:
    top = groups["top"].add_parser("m4sc", help="M4SC: task template, KAN alignment, joint fine-tuning")
    sub = top.add_subparsers(dest="what", metavar="WHAT")
    top.set_defaults(func=lambda a, p=top: (p.print_help(), 2)[1])
    p = sub.add_parser("task", help="run one task given as a template (text or a file holding it)")
    p.add_argument("template", help="<task>..</task><modality>..</modality><user>..</user>"
                                    "<instruction>..</instruction><content>FILE</content>")
    p.add_argument("--sender", default="Mike", help="the sender's profile (default Mike)")
    p.add_argument("--llm", help="LKB backend (default rules)")
    add_config_args(p)
    add_json_arg(p)
    p.set_defaults(func=_task)
    p = sub.add_parser("eval-tasks", help="per-task quality: caption similarity, QA exact match, WER")
    p.add_argument("--llm", help="LKB backend (default rules)")
    add_config_args(p)
    add_json_arg(p)
    p.set_defaults(func=_eval_tasks)
    p = sub.add_parser("align", help="train KAN and MLP projectors per modality; cross-modal retrieval")
    p.add_argument("--seed", type=int, default=0, help="projector initialization seed (default 0)")
    p.add_argument("--epochs", type=int, default=300, help="full-batch training steps (default 300)")
    p.add_argument("--modalities", default="image,audio,video", help="comma list (default image,audio,video)")
    p.add_argument("--save", metavar="PT", help="save the trained projectors here")
    p.add_argument("--plot", metavar="PNG", help="write the figure here")
    add_json_arg(p)
    p.set_defaults(func=_align)
    p = sub.add_parser("joint", help="joint KAN + semantic-codec fine-tuning over fading vs separate training")
    p.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    p.add_argument("--steps", type=int, default=300, help="steps of each training stage (default 300)")
    p.add_argument("--save", metavar="PT", help="save the jointly fine-tuned checkpoint here")
    p.add_argument("--plot", metavar="PNG", help="write the figure here")
    add_json_arg(p)
    p.set_defaults(func=_joint)
