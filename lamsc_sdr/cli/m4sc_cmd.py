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
    res = run_m4sc(cfg, size=args.size, users=users, threshold=args.threshold)
    plot = args.plot or "out/experiments/m4sc/m4sc.png"
    plot_m4sc(res, plot)
    res.update(experiment="m4sc", size=args.size, plot=str(plot))
    write_json(args.json or "out/experiments/m4sc/m4sc.json", res, cfg)
    print(format_table([{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items() if k != "by_task"}
                        for r in res["results"]]))
    print(f"plot: {plot}")
    return 0


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
    if cfg.radio.backend != "sim":
        raise ConfigError(f"--users: multi-user links run on the sim radio (one transmitter, N receivers); "
                          f"got radio {cfg.radio.backend!r}")
    if not args.config:
        cfg = cfg.replace(kb={"llm": "rules"})
    session = load_session(args.users)
    st = Stages(cfg)
    sem = tasks.analyze(args.files[0], st)
    tpls = session.templates(sem.modality, str(args.files[0]))
    texts = [tasks.extract(t, sem) for t in tpls]
    plan = sharing.split(texts, args.share_threshold, names=[p.name for p in st.kb.base],
                              derive=[(lambda x, t=t: tasks.derive(t, x)) for t in tpls])
    ids = [u.id for u in session.users]
    radio = broadcast_radio(cfg, [u.channel for u in session.users], cfg.seed)
    res = send_session(radio, cfg, st.codec, ids, tpls, shared=None if args.unicast else plan,
                       unicast=texts if args.unicast else None, repair=args.repair)
    msgs = []
    for t, sent, u in zip(tpls, texts, res["users"]):
        out = tasks.generate(t, u.text_received, st.kb, session.sender) if u.text_received is not None else None
        sim = float(similarity([sent], [u.text_received])[0]) if u.text_received is not None else 0.0
        msgs.append({**u.to_dict(), "template": t.render(), "text_sent": sent, "output": out, "similarity": sim})
        print(f"user {u.user} ({u.profile}, {u.task}) [{u.status}]: {out!r}")
    print(f"{'unicast' if args.unicast else 'shared'}: {res['channel_uses']} channel uses, {res['frames']} frames, "
          f"{res['transmissions']} transmission(s); public: {plan.public_text!r}")
    payload = {"scheme": "unicast" if args.unicast else "shared", "description": sem.description,
               "public_text": plan.public_text, "channel_uses": res["channel_uses"], "frames": res["frames"],
               "transmissions": res["transmissions"], "messages": msgs, "radio": radio.settings()}
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
