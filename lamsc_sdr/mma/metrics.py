"""Text metrics for MMA evaluation: word error rate (Levenshtein over words)."""
from __future__ import annotations

import re

_PUNCT = re.compile(r"[^\w\s']")


def normalize(text: str) -> list[str]:
    """Lower-case, drop punctuation (keep apostrophes), split on whitespace."""
    return _PUNCT.sub(" ", text.lower().replace("-", " ")).split()


def edit_counts(ref: list[str], hyp: list[str]) -> dict[str, int]:
    """Minimum-edit alignment of word lists -> ``{"sub", "del", "ins", "ref_words"}``."""
    n, m = len(ref), len(hyp)
    # d[i][j] = (cost, sub, del, ins) for ref[:i] vs hyp[:j]
    prev = [(j, 0, 0, j) for j in range(m + 1)]
    for i in range(1, n + 1):
        cur = [(i, 0, i, 0)] + [None] * m
        for j in range(1, m + 1):
            if ref[i - 1] == hyp[j - 1]:
                cur[j] = prev[j - 1]
                continue
            s, d, a = prev[j - 1], prev[j], cur[j - 1]
            cur[j] = min((s[0] + 1, s[1] + 1, s[2], s[3]), (d[0] + 1, d[1], d[2] + 1, d[3]),
                         (a[0] + 1, a[1], a[2], a[3] + 1))
        prev = cur
    _, sub, dele, ins = prev[m]
    return {"sub": sub, "del": dele, "ins": ins, "ref_words": n}


def wer(reference: str | list[str], hypothesis: str | list[str]) -> float:
    """Word error rate ``(S + D + I) / N`` after :func:`normalize`; corpus WER for lists of strings."""
    refs = [reference] if isinstance(reference, str) else list(reference)
    hyps = [hypothesis] if isinstance(hypothesis, str) else list(hypothesis)
    if len(refs) != len(hyps):
        raise ValueError(f"wer: {len(refs)} references but {len(hyps)} hypotheses")
    errs = words = 0
    for r, h in zip(refs, hyps):
        c = edit_counts(normalize(r), normalize(h))
        errs += c["sub"] + c["del"] + c["ins"]
        words += c["ref_words"]
    if words == 0:
        raise ValueError("wer: the reference has no words")
    return errs / words
