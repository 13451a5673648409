"""Results for people: scalars as ``key: value`` lines, lists of rows as aligned tables (the JSON
goes to ``--json``)."""
from __future__ import annotations

from typing import Any


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e12 else f"{v:.4g}"
    if isinstance(v, (list, tuple)) and len(v) <= 4 and all(isinstance(x, (int, float)) for x in v):
        return "[" + ", ".join(_cell(float(x)) for x in v) + "]"
    return str(v)


def format_rows(rows: list[dict]) -> str:
    """Rows (dicts with the same keys) as an aligned text table."""
    if not rows:
        return "(no rows)"
    cols: list[str] = []
    for r in rows:
        cols += [c for c in r if c not in cols]
    cells = [[_cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    head = "  ".join(c.rjust(w) for c, w in zip(cols, widths))
    return "\n".join([head, "-" * len(head)] + ["  ".join(v.rjust(w) for v, w in zip(row, widths)) for row in cells])


def format_results(payload: dict, skip=("config", "provenance")) -> str:
    """Scalars first (``key: value``), nested dicts flattened one level, then each list of rows as
    a table under its key."""
    lines, tables = [], []
    for k, v in payload.items():
        if k in skip:
            continue
        if isinstance(v, list) and v and all(isinstance(r, dict) for r in v):
            tables.append(f"\n{k}:\n" + format_rows(v))
        elif isinstance(v, dict):
            lines.append(f"{k}: " + ", ".join(f"{a}={_cell(b)}" for a, b in v.items()
                                              if not isinstance(b, (dict, list)) or _cell(b).startswith("[")))
        else:
            lines.append(f"{k}: {_cell(v)}")
    return "\n".join(lines + tables)
