"""What a received message's status is, and the exit code of a run that delivers messages.

Exit codes of ``lamsc link``, ``lamsc replay`` and ``lamsc capture OUT FILE...`` (also in README):

* ``0`` every message delivered;
* ``3`` some delivered, some not (partial);
* ``4`` nothing delivered (every frame lost, or the recording held no decodable message);
* ``1`` an error (bad input, unreadable file: one ``lamsc: error:`` line); ``2`` bad usage.

A message is *delivered* when its text was reassembled from every segment and, where a
sentence-embedding similarity was measured (the ``lamsc`` codec), it is at least
:data:`SIMILARITY_THRESHOLD` (the paper's 0.6): garbled text that arrived is not "delivered".
"""
from __future__ import annotations

EXIT_ALL = 0
EXIT_PARTIAL = 3
EXIT_NOTHING = 4
#: A message is correct when the cosine similarity of sent and received semantics reaches this
#: (LAM-MSC, Jiang et al., the paper's threshold).
SIMILARITY_THRESHOLD = 0.6


def delivered(m: dict, threshold: float = SIMILARITY_THRESHOLD) -> bool:
    """``m``: one message of the link/replay JSON (``text_received``, optional ``similarity``)."""
    if m.get("text_received") is None:
        return False
    sim = m.get("similarity")
    return sim is None or sim >= threshold


def message_status(m: dict, threshold: float = SIMILARITY_THRESHOLD) -> str:
    """One status phrase: ``exact``; ``delivered, similarity 0.912``; ``garbled: similarity 0.431
    < 0.6``; ``partial: 70/237 segments``; ``lost (0/3 segments)``; ``sent (3 frames)``."""
    if "text_received" not in m:
        n = m.get("frames") or m.get("segments")
        return "sent" + (f" ({n} frame{'s' * (n != 1)})" if n else "")
    n, k = m.get("segments"), m.get("segments_received") or 0
    if m.get("text_received") is None:
        if k:
            return f"partial: {k}/{n if n else '?'} segments"
        return "lost" + (f" (0/{n} segments)" if n else "")
    sim = m.get("similarity")
    if m.get("exact"):
        return "exact"
    if sim is not None:
        if sim < threshold:
            return f"garbled: similarity {sim:.3f} < {threshold:g}"
        return f"delivered, similarity {sim:.3f}"
    return "delivered, differs from sent" if m.get("text_sent") is not None else "delivered"


def exit_code(messages: list[dict], threshold: float = SIMILARITY_THRESHOLD) -> int:
    """0 all delivered, 3 partial, 4 nothing (no messages at all counts as nothing)."""
    ok = sum(delivered(m, threshold) for m in messages)
    if messages and ok == len(messages):
        return EXIT_ALL
    return EXIT_PARTIAL if ok else EXIT_NOTHING


def summary_line(messages: list[dict], threshold: float = SIMILARITY_THRESHOLD) -> str:
    ok = sum(delivered(m, threshold) for m in messages)
    code = exit_code(messages, threshold)
    word = {EXIT_ALL: "all delivered", EXIT_PARTIAL: "partial", EXIT_NOTHING: "nothing delivered"}[code]
    return f"delivered {ok}/{len(messages)} messages: {word} (exit {code})"
