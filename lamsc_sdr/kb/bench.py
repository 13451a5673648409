"""Compare offline chat models on the LKB's LLM task: is this sentence needed for the intent?

Labelled items come from a cases file, not from the rules: a sentence of a case's description
is *needed* when it holds one of the sender's must words and *not needed* when it holds one of
the sender's must-not distractor or injected words (sentences holding both or neither are
skipped). Each model answers every item through :meth:`KnowledgeBase._judge` (the exact prompt
the LKB uses on borderline sentences). Reported per model: accuracy ``k/n`` with a 95 % Wilson
interval, answers that were neither yes nor no, latency per call (p50 / p95) and its ratio to
the first (reference) model measured in the same run.
"""
from __future__ import annotations

import time

from ..stats import proportion
from .evaluate import Case, has_word
from .extract import split_sentences


def judge_items(cases: list[Case], limit: int | None = None) -> list[tuple[str, str, bool]]:
    """``(sentence, intent, needed)`` items from the cases (see module docstring)."""
    items = []
    for c in cases:
        if not c.intent:
            continue
        must = [w for w in c.sender_must if "|" not in w and not w[:1].isupper()]
        never = [w for w in c.sender_must_not if not w[:1].isupper() and not w.isdigit()
                 and w.lower() not in ("i", "me", "we", "us")]
        for s in split_sentences(c.description):
            yes = any(has_word(s, w) for w in must)
            no = any(has_word(s, w) for w in never)
            if yes != no:
                items.append((s, c.intent, yes))
    return items[:limit] if limit else items


def compare(kbs: dict, items: list[tuple[str, str, bool]], progress: bool = True) -> dict:
    """``kbs``: name -> KnowledgeBase with a chat model. Returns the per-model summary."""
    from tqdm import tqdm
    out, ref = {}, None
    for name, kb in kbs.items():
        lat, right, undecided = [], 0, 0
        for s, intent, needed in tqdm(items, desc=name, disable=not progress):
            t0 = time.perf_counter()
            verdict = kb._judge(s, intent)
            lat.append(time.perf_counter() - t0)
            undecided += verdict is None
            right += verdict is not None and verdict == needed
        lat.sort()
        p50 = lat[len(lat) // 2] if lat else 0.0
        ref = p50 if ref is None else ref
        out[name] = {"accuracy": proportion(right, len(items)), "undecided": undecided,
                     "latency_s": {"p50": p50, "p95": lat[min(len(lat) - 1, int(0.95 * len(lat)))] if lat else 0.0},
                     "latency_ratio_vs_reference": p50 / ref if ref else float("nan")}
    return out
