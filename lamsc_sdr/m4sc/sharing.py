"""Semantic sharing: split many users' task semantics into public parts and a private part each.

How the split is decided (our interpretation of the abstract's "public and private semantic
information"; the paper's own rule is not public):

1. Each user's extracted semantics (``tasks.extract``) is cut into sentence units.
2. Units are clustered greedily, in user order, by sentence-embedding cosine (all-MiniLM-L6-v2):
   a unit joins the first cluster whose representative it matches with cosine >= ``threshold``
   (default 0.85), that holds no unit of the same user yet, and that names the same people
   (``protect``: profile names and first-person words -- personalization is private by nature);
   otherwise it opens a cluster.
3. A cluster needed by at least ``min_share`` users (default 2) is **public**: its
   representative (the first user's wording) is sent once. Public units with the same set of
   users form one group message (:attr:`SharePlan.groups`, in order of first appearance); every
   other unit is **private** to its user.
4. A receiver recombines its groups' texts (in group order) and then its private text.

Input: texts (N users' semantics). Output: :class:`SharePlan`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .tasks import sentences

FIRST_PERSON = frozenset({"i", "me", "my", "mine", "myself", "we", "us", "our"})


@dataclass
class SharePlan:
    """``groups[g] = (users, units)``: public units sent once to ``users`` (0-based slots);
    ``private[i]``: units sent to user ``i`` only."""

    groups: list[tuple[tuple[int, ...], list[str]]]
    private: list[list[str]]
    threshold: float

    @property
    def public(self) -> list[str]:
        return [u for _, units in self.groups for u in units]

    @property
    def public_text(self) -> str:
        return " ".join(self.public)

    @property
    def private_texts(self) -> list[str]:
        return [" ".join(p) for p in self.private]

    def group_texts(self) -> list[str]:
        return [" ".join(units) for _, units in self.groups]

    def public_for(self, user: int) -> str:
        """The public text user slot ``user`` takes."""
        return " ".join(" ".join(units) for owners, units in self.groups if user in owners)

    def user_text(self, user: int) -> str:
        """What user slot ``user`` recombines on a clean channel."""
        return " ".join(x for x in (self.public_for(user), self.private_texts[user]) if x)


def _embed(units: list[str]) -> np.ndarray:
    from ..semantic.similarity import embed
    return embed(units)


def _protected(unit: str, protect: frozenset[str]) -> frozenset[str]:
    return frozenset(w for w in re.findall(r"[\w']+", unit.lower()) if w in protect)


def split(texts: list[str], threshold: float = 0.85, min_share: int = 2, embed_fn=_embed,
          names=(), max_groups: int = 15, derive=None) -> SharePlan:
    """Split ``texts`` (one per user) into public groups and private units (module docstring).

    ``names``: profile names whose presence makes a unit personal (never merged with a unit that
    does not name the same people); ``max_groups``: public groups beyond this stay private;
    ``derive[i]``: None or ``f(text) -> str | None``, user ``i``'s receiver generation: when
    ``f(unit)`` of another user's unit gives exactly ``texts[i]`` (e.g. an answer the receiver can
    read off the description), user ``i`` joins that unit's cluster instead of sending its own --
    kept only if ``f`` of everything the user then receives still gives ``texts[i]``.
    """
    protect = frozenset(n.lower() for n in names) | FIRST_PERSON
    units = [(u, s) for u, t in enumerate(texts) for s in sentences(t)]
    if not units:
        return SharePlan([], [[] for _ in texts], threshold)
    e = np.asarray(embed_fn([s for _, s in units]), np.float32)          # (n_units, d)
    tags = [_protected(s, protect) for _, s in units]
    clusters: list[dict] = []                                             # {"rep": idx, "members": {user: idx}}
    for i, (u, _) in enumerate(units):
        for c in clusters:
            if u not in c["members"] and tags[i] == tags[c["rep"]] and float(e[i] @ e[c["rep"]]) >= threshold:
                c["members"][u] = i
                break
        else:
            clusters.append({"rep": i, "members": {u: i}})
    plan = _plan(clusters, units, len(texts), min_share, max_groups, threshold)
    for u, f in enumerate(derive or []):
        if f is None:
            continue
        want = _norm(texts[u])
        for c in clusters:
            if u not in c["members"] and (got := f(units[c["rep"]][1])) is not None and _norm(got) == want:
                trial = [dict(x, members=dict(x["members"])) for x in clusters]
                tc = trial[clusters.index(c)]
                tc["members"][u] = None                                   # u reads it; its own unit is not sent
                for x in trial:
                    x["members"] = {k: v for k, v in x["members"].items() if k != u or x is tc}
                cand = _plan(trial, units, len(texts), min_share, max_groups, threshold)
                got = f(cand.user_text(u))
                if got is not None and _norm(got) == want:
                    clusters, plan = trial, cand
                break
    return plan


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[\w']+", text.lower()))


def _plan(clusters, units, n_users: int, min_share: int, max_groups: int, threshold: float) -> SharePlan:
    """Public groups (clusters of >= min_share users) and private units (units still in a cluster)."""
    groups: dict[tuple[int, ...], list[str]] = {}
    shared_idx = set()
    for c in clusters:
        owners = tuple(sorted(c["members"]))
        if len(owners) >= min_share and (owners in groups or len(groups) < max_groups):
            groups.setdefault(owners, []).append(units[c["rep"]][1])
            shared_idx.update(v for v in c["members"].values() if v is not None)
    private = [[] for _ in range(n_users)]
    for i, (u, s) in enumerate(units):
        if i not in shared_idx and any(c["members"].get(u) == i for c in clusters):
            private[u].append(s)
    return SharePlan(list(groups.items()), private, threshold)


def recombine(public_parts: list[str | None], private_text: str | None) -> str:
    """A receiver's semantics: its public groups' texts (None = lost: skipped, the caller reports
    it; nothing of another user is ever used), then its private text."""
    parts = [p.strip() for p in public_parts if p] + [(private_text or "").strip()]
    return " ".join(p for p in parts if p)


def overlap(texts: list[str], plan: SharePlan) -> float:
    """Redundancy of the users' semantics: 1 - characters sent by sharing / characters of unicast."""
    total = sum(len(t) for t in texts)
    sent = sum(len(g) for g in plan.group_texts()) + sum(len(p) for p in plan.private_texts)
    return 0.0 if total == 0 else max(0.0, 1.0 - sent / total)
