"""LKB evaluation on a personalization cases file (``lamsc eval lkb``).

A cases file is a YAML list (or ``{cases: [...]}``) of::

    - description: "A boy and a girl in a playful pose."
      sender: {name: Mike, age: 10, gender: male, relationships: {Jane: sister}}   # or a name
      receiver: Jane                                 # a name in the prompt base, or a PROFILE
      intent: "share a photo of me and my sister"    # optional
      sender_must: [Jane, me]
      sender_must_not: [boy, girl, Mike]
      receiver_must: [Mike, I]
      receiver_must_not: [Jane]
      category: grounded_pair                        # optional: reported per category
      split: dev                                     # optional: dev | heldout

A must word ``"I|me"`` is satisfied by any one of its alternatives.
A case is correct when every *must* word occurs (case-insensitive, whole word) in that side's
output and no *must_not* word does.
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ..errors import ConfigError
from .knowledge import KnowledgeBase
from .profiles import Profile, PromptBase, profile_from_mapping

log = logging.getLogger(__name__)
CASE_KEYS = {"name", "description", "sender", "receiver", "intent", "sender_must", "sender_must_not",
             "receiver_must", "receiver_must_not", "category", "split"}


@dataclass(frozen=True)
class Case:
    name: str
    description: str
    sender: Profile
    receiver: Profile
    intent: str | None
    sender_must: tuple[str, ...] = ()
    sender_must_not: tuple[str, ...] = ()
    receiver_must: tuple[str, ...] = ()
    receiver_must_not: tuple[str, ...] = ()
    category: str = ""
    split: str = ""


def _profile(value: Any, base: PromptBase, src: str, key: str) -> Profile:
    if isinstance(value, str):
        if value not in base:
            raise ConfigError(f"case field '{key}' in {src}: no profile named {value!r} in the prompt base")
        return base.get(value)
    return profile_from_mapping(value, src, key)


def load_cases(path: str | Path, base: PromptBase) -> list[Case]:
    """Read and validate a cases file; ConfigError names the case field and the file."""
    src = str(path)
    from ..config_base import parse_yaml_text, read_text_file
    data = parse_yaml_text(read_text_file(path, "cases file"), "cases file", src)
    if isinstance(data, Mapping):
        data = data.get("cases")
    if not isinstance(data, list) or not data:
        raise ConfigError(f"cases file {src}: expected a non-empty list of cases")
    out = []
    for i, c in enumerate(data):
        key = f"cases[{i}]"
        if not isinstance(c, Mapping):
            raise ConfigError(f"case field '{key}' in {src}: expected a mapping")
        unknown = sorted(set(c) - CASE_KEYS)
        if unknown:
            raise ConfigError(f"unknown case field '{key}.{unknown[0]}' in {src}; known: {sorted(CASE_KEYS)}")
        for req in ("description", "sender", "receiver"):
            if req not in c:
                raise ConfigError(f"case field '{key}.{req}' in {src} is required")
        if not isinstance(c["description"], str) or not c["description"].strip():
            raise ConfigError(f"case field '{key}.description' in {src}: expected text")
        lists = {}
        for k in ("sender_must", "sender_must_not", "receiver_must", "receiver_must_not"):
            v = c.get(k) or []
            if not isinstance(v, list) or not all(isinstance(w, str) and w.strip() for w in v):
                raise ConfigError(f"case field '{key}.{k}' in {src}: expected a list of words")
            lists[k] = tuple(w.strip() for w in v)
        intent = c.get("intent")
        if intent is not None and not isinstance(intent, str):
            raise ConfigError(f"case field '{key}.intent' in {src}: expected text")
        out.append(Case(name=str(c.get("name") or f"case{i}"), description=c["description"].strip(),
                        sender=_profile(c["sender"], base, src, f"{key}.sender"),
                        receiver=_profile(c["receiver"], base, src, f"{key}.receiver"),
                        intent=intent, category=str(c.get("category") or ""), split=str(c.get("split") or ""),
                        **lists))
    return out


def has_word(text: str, word: str) -> bool:
    """Case-insensitive whole-word (or whole-phrase) match; "Jane" matches "Jane's"; "I|me": either."""
    if "|" in word:
        return any(has_word(text, w) for w in word.split("|") if w.strip())
    return re.search(r"(?<![\w])" + re.escape(word.lower()) + r"(?![\w])", text.lower().replace("’", "'")) is not None


def check(text: str, must: tuple[str, ...], must_not: tuple[str, ...]) -> list[str]:
    """The failed conditions (empty when the text passes)."""
    return [f"missing {w!r}" for w in must if not has_word(text, w)] + \
        [f"unwanted {w!r}" for w in must_not if has_word(text, w)]


_IDENTITY_WORDS = {"i", "me", "my", "we", "us", "our"}


def _invented(case: Case, fails: list[str]) -> bool:
    """A failure that puts a person where none is grounded: an unwanted name or first person."""
    names = {case.sender.name, case.receiver.name, *case.sender.relationships, *case.receiver.relationships}
    low = {n.lower() for n in names} | _IDENTITY_WORDS
    return any(f.split(": ", 1)[1].startswith("unwanted") and f.split("'")[1].lower() in low for f in fails)


def _n_words(text: str) -> int:
    return len(re.findall(r"[\w'’-]+", text))


def _quantile(xs: list[float], q: float) -> float:
    if not xs:
        return 0.0
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def summarize(results: list[dict]) -> dict:
    """Per category and split: correct ``k/n`` with 95 % Wilson intervals; invented identities;
    words saved by extraction; grammar; latency per message (extract + recover) p50 / p95."""
    from ..stats import proportion
    out: dict = {"by_category": {}, "by_split": {}}
    for key, field in (("by_category", "category"), ("by_split", "split")):
        groups: dict[str, list[dict]] = {}
        for r in results:
            groups.setdefault(r.get(field) or "-", []).append(r)
        out[key] = {g: proportion(sum(r["correct"] for r in rs), len(rs)) for g, rs in sorted(groups.items())}
    n = len(results)
    out["invented_identity"] = proportion(sum(r["invented_identity"] for r in results), n)
    w_in, w_out = sum(r["words_in"] for r in results), sum(r["words_out"] for r in results)
    out["words"] = {"in": w_in, "out": w_out, "saved_fraction": (1 - w_out / w_in) if w_in else 0.0}
    if results and "grammar_ok" in results[0]:
        out["grammar"] = proportion(sum(r["grammar_ok"] for r in results), n)
        out["correct_and_grammatical"] = proportion(sum(r["correct"] and r["grammar_ok"] for r in results), n)
    lat = [r["latency_s"] for r in results]
    out["latency_per_message_s"] = {"p50": _quantile(lat, 0.5), "p95": _quantile(lat, 0.95),
                                    "max": max(lat) if lat else 0.0}
    return out


def evaluate(kb: KnowledgeBase, cases: list[Case], grammar: bool = False) -> dict:
    """Run every case through extract -> recover; returns the ``lamsc eval lkb`` payload.

    ``grammar``: also check both texts with the independent parser check (:mod:`.grammar_check`).
    """
    if grammar:
        from .grammar_check import check as grammar_check
    results, lat_msgs = [], []
    for case in cases:
        t0 = time.perf_counter()
        sent = kb.extract(case.description, case.sender, case.receiver, case.intent)
        t1 = time.perf_counter()
        s_used = kb.last.used
        got = kb.recover(sent, case.sender, case.receiver)
        t2 = time.perf_counter()
        fails = [f"sender: {f}" for f in check(sent, case.sender_must, case.sender_must_not)] + \
                [f"receiver: {f}" for f in check(got, case.receiver_must, case.receiver_must_not)]
        lat_msgs += [t1 - t0, t2 - t1]
        results.append({"case": case.name, "correct": not fails, "sender_text": sent, "receiver_text": got,
                        "latency_s": round(t2 - t0, 4), "extract_s": round(t1 - t0, 4),
                        "recover_s": round(t2 - t1, 4), "failures": fails,
                        "llm_used": {"sender": s_used == "llm", "receiver": kb.last.used == "llm"},
                        "category": case.category, "split": case.split, "invented_identity": _invented(case, fails),
                        "words_in": _n_words(case.description), "words_out": _n_words(sent)})
        if grammar:
            names = {case.sender.name, case.receiver.name, *case.sender.relationships}
            probs = grammar_check(sent, names) + grammar_check(got, names)
            results[-1].update(grammar_ok=not probs, grammar_problems=probs)
        log.info("%s %-28s %.2fs | %s | %s %s", "ok  " if not fails else "FAIL", case.name, t2 - t0,
                 sent, got, "; ".join(fails))
    n = len(results)
    lat_msgs.sort()
    return {"results": results, "accuracy": sum(r["correct"] for r in results) / n if n else 0.0,
            "n_cases": n, "latency_per_call_s": {
                "mean": sum(lat_msgs) / len(lat_msgs) if lat_msgs else 0.0,
                "p50": lat_msgs[len(lat_msgs) // 2] if lat_msgs else 0.0,
                "max": lat_msgs[-1] if lat_msgs else 0.0},
            "llm_acceptance": sum(r["llm_used"]["sender"] + r["llm_used"]["receiver"] for r in results) / (2 * n)
            if n else 0.0, **summarize(results)}
