"""Text metrics: BLEU-1 / BLEU-4 (Papineni et al. 2002), implemented here.

Sentence-level BLEU with one reference, averaged over sentences (as DeepSC reports it).
Words: lowercased, ``\\w+`` runs and single punctuation marks (so "closed." -> "closed", ".").
BLEU-n = BP * exp(sum_{i<=n} (1/n) log p_i), p_i the clipped i-gram precision,
BP = 1 if len(hyp) > len(ref) else exp(1 - len(ref)/len(hyp)). No smoothing: a zero i-gram
precision gives BLEU 0 (texts shorter than n words therefore have BLEU-n = 0 unless both are
identical, which scores 1). Empty hypothesis: 0; both empty: 1.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from typing import Sequence

_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def words(text: str) -> list[str]:
    """'The house, closed.' -> ['the', 'house', ',', 'closed', '.']"""
    return _TOKEN.findall(text.lower())


def _ngrams(ws: list[str], n: int) -> Counter:
    return Counter(tuple(ws[i:i + n]) for i in range(len(ws) - n + 1))


def sentence_bleu(reference: str, hypothesis: str, n: int = 4) -> float:
    """BLEU-n of one hypothesis against one reference, in [0, 1]."""
    ref, hyp = words(reference), words(hypothesis)
    if not hyp:
        return 1.0 if not ref else 0.0
    if hyp == ref:
        return 1.0
    logp = 0.0
    for i in range(1, n + 1):
        h = _ngrams(hyp, i)
        total = sum(h.values())
        if total == 0:
            return 0.0
        r = _ngrams(ref, i)
        match = sum(min(c, r[g]) for g, c in h.items())
        if match == 0:
            return 0.0
        logp += math.log(match / total) / n
    bp = 1.0 if len(hyp) > len(ref) else math.exp(1.0 - len(ref) / len(hyp))
    return bp * math.exp(logp)


def mean_bleu(references: Sequence[str], hypotheses: Sequence[str], n: int) -> float:
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    if not references:
        return float("nan")
    return sum(sentence_bleu(r, h, n) for r, h in zip(references, hypotheses)) / len(references)
