"""Statistics every reported rate carries: Wilson score intervals and two-proportion tests.

Shared by all three systems and the radio benchmarks, so that every accuracy, frame error rate
or recall in the project is reported the same way: ``k``, ``n``, the rate and a 95 % interval.
"""
from __future__ import annotations

import math
from typing import Any

Z95 = 1.959963984540054  # two-sided 95 % normal quantile


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``k/n``; ``(0, 1)`` when ``n == 0``."""
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, c - h), min(1.0, c + h))


def proportion(k: int, n: int, z: float = Z95) -> dict[str, Any]:
    """``{"k", "n", "rate", "ci_low", "ci_high"}`` for a count of successes ``k`` out of ``n``."""
    lo, hi = wilson(int(k), int(n), z)
    return {"k": int(k), "n": int(n), "rate": (k / n) if n else float("nan"),
            "ci_low": lo, "ci_high": hi}


def two_proportion_p(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided p-value of H0: equal proportions (pooled z-test); 1.0 when both are 0 or 1."""
    p = (k1 + k2) / (n1 + n2)
    if p in (0.0, 1.0):
        return 1.0
    se = math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    z = abs(k1 / n1 - k2 / n2) / se
    return math.erfc(z / math.sqrt(2))
