"""Deterministic perspective rewriting: the part of extraction and recovery the profiles make certain.

Sender (:func:`extract_rules`): generic person mentions of a description ("a boy", "the girl's",
"two children") are resolved to the people of the sender's prompt base, by gender and age class
(from ``age``, else from the relation: a sister is of the sender's generation, a grandmother two
above), preferring people the intent names, then the sender, the receiver, the sender's circle.
A mention is resolved only when every best assignment agrees on it; the sender becomes
"I"/"me"/"my", everyone else their name ("A boy and a girl in a playful pose" -> "Jane and me in
a playful pose").

Receiver (:func:`recover_rules`): the sender's first person becomes the sender's name, the
receiver's name and "you" become the receiver's first person, verbs agree, caption fragments
get their verb ("Jane and me in a playful pose" -> "Mike and I are in a playful pose").
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from . import grammar as g
from .extract import verb_after_phrase
from .ground import SELF, Person, grounded_people
from .profiles import PETS, Profile, PromptBase

# noun -> (gender or None, allowed age classes or None = any, species for animals)
_ANY = None
NOUNS: dict[str, tuple[str | None, frozenset | None]] = {
    "boy": ("male", frozenset({"baby", "child"})), "girl": ("female", frozenset({"baby", "child"})),
    "man": ("male", frozenset({"teen", "adult"})), "woman": ("female", frozenset({"teen", "adult"})),
    "lady": ("female", frozenset({"adult", "elder"})), "gentleman": ("male", frozenset({"adult", "elder"})),
    "guy": ("male", frozenset({"teen", "adult"})), "child": (None, frozenset({"baby", "child"})),
    "kid": (None, frozenset({"baby", "child", "teen"})), "baby": (None, frozenset({"baby"})),
    "toddler": (None, frozenset({"baby", "child"})), "infant": (None, frozenset({"baby"})),
    "teenager": (None, frozenset({"teen"})), "teen": (None, frozenset({"teen"})),
    "person": (None, _ANY), "someone": (None, _ANY), "figure": (None, _ANY), "individual": (None, _ANY),
    "adult": (None, frozenset({"adult", "elder"})),
}
PLURALS = {"boys": "boy", "girls": "girl", "men": "man", "women": "woman", "ladies": "lady",
           "children": "child", "kids": "kid", "babies": "baby", "teenagers": "teenager", "teens": "teen",
           "people": "person", "persons": "person", "adults": "adult", "guys": "guy",
           "dogs": "dog", "cats": "cat", "puppies": "puppy", "kittens": "kitten"}
ANIMALS = {p: p for p in PETS} | {"puppy": "dog", "kitten": "cat", "pony": "horse"}
ELDER_ADJ = {"old", "elderly", "older", "aged", "senior", "grey-haired", "gray-haired", "white-haired"}
TEEN_ADJ = {"teenage", "teen", "adolescent", "teenaged"}
YOUNG_ADJ = {"young", "little", "small", "tiny", "younger"}
DETS = {"a", "an", "one", "the", "another", "two", "three", "both", "some", "couple"}
COUNTS = {"two": 2, "three": 3, "both": 2, "couple": 2}
PRONOUNS = {"male": {"he": "I", "him": "me", "his": "my", "himself": "myself"},
            "female": {"she": "I", "hers": "mine", "herself": "myself"}}
FIRST_SG = {"i", "me", "my", "mine", "myself", "i'm", "i've", "i'll", "i'd"}
SECOND = {"you", "your", "yours", "yourself", "you're", "you've", "you'll", "you'd"}


def people_in_scope(base: PromptBase, sender: Profile, receiver: Profile, intent: str | None) -> list[Person]:
    """Only the people the intent or the profiles ground (:func:`.ground.grounded_people`)."""
    return grounded_people(base, sender, receiver, intent)


@dataclass
class Mention:
    start: int          # token span [start, end)
    end: int
    noun: str           # singular noun
    count: int          # entities it introduces (0: refers back)
    gender: str | None
    ages: frozenset | None
    species: str | None
    possessive: bool
    entities: list[int]


def _noun_info(word: str):
    w = word.lower().replace("’", "'")
    poss = w.endswith("'s") or w.endswith("s'")
    if w.endswith("'s"):
        w = w[:-2]
    elif w.endswith("'"):
        w = w[:-1]
    plural = w in PLURALS
    w = PLURALS.get(w, w)
    if w in NOUNS:
        gender, ages = NOUNS[w]
        return w, gender, ages, None, plural, poss
    if w in ANIMALS:
        return w, None, None, ANIMALS[w], plural, poss
    return None


def find_mentions(tokens) -> list[Mention]:
    """Person/pet noun phrases: determiner + up to two modifiers + noun (``an old woman``)."""
    out: list[Mention] = []
    i = 0
    while i < len(tokens):
        det = g.low(tokens, i)
        if det not in DETS:
            i += 1
            continue
        j, mods = i + 1, []
        if det == "couple" or (det == "a" and g.low(tokens, i + 1) == "couple" and g.low(tokens, i + 2) == "of"):
            j = i + (1 if det == "couple" else 3)
            det = "couple"
        for k in range(j, min(j + 3, len(tokens))):
            info = _noun_info(tokens[k][0])
            if info:
                noun, gender, ages, species, plural, poss = info
                if det == "the" and plural:
                    break
                if any(m in TEEN_ADJ for m in mods):
                    ages = frozenset({"teen"})
                elif any(m in ELDER_ADJ for m in mods):
                    ages = frozenset({"elder"}) if ages is None or ages & {"teen", "adult", "elder"} else ages
                elif any(m in YOUNG_ADJ for m in mods) and ages is not None and len(ages) > 1:
                    ages = ages - {"elder"}
                count = COUNTS.get(det, 2 if plural else 1)
                if det == "the" or (det == "both" and not plural):
                    count = 0
                out.append(Mention(i, k + 1, noun, count, gender, ages, species, poss, []))
                i = k
                break
            w = g.low(tokens, k)
            if not g.is_word(w) or w in g.NOT_VERBS or w in DETS:
                break
            mods.append(w)
        i += 1
    return out


def _compatible(m: Mention, p: Person) -> bool:
    if (m.species or None) != (p.species or None):
        return False
    if m.gender and p.gender and m.gender != p.gender:
        return False
    return m.ages is None or p.ages is None or bool(m.ages & p.ages)


def assign(mentions: list[Mention], people: list[Person]) -> dict[int, Person]:
    """Entity index -> person, keeping only what every best assignment agrees on."""
    slots: list[Mention] = []
    for m in mentions:
        if m.count == 0:  # "the boy": the latest earlier entity with the same noun
            prev = [e for x in mentions[:mentions.index(m)] if x.noun == m.noun and x.count for e in x.entities]
            if prev:
                m.entities = [prev[-1]]
                continue
            m.count = 1
        m.entities = list(range(len(slots), len(slots) + m.count))
        slots.extend([m] * m.count)
    if not slots or len(slots) > 6:
        return {}
    options = [[None] + [p for p in people if _compatible(m, p)] for m in slots]
    best, winners = None, []
    for combo in itertools.product(*options):
        chosen = [p.label for p in combo if p is not None]
        if len(chosen) != len(set(chosen)):
            continue
        score = (len(chosen), sum(p.priority for p in combo if p is not None))
        if best is None or score > best:
            best, winners = score, [combo]
        elif score == best:
            winners.append(combo)
    # entities of one plural mention ("two children") are interchangeable: compare them as a set
    canon = set()
    for combo in winners:
        combo = list(combo)
        for m in mentions:
            if len(m.entities) > 1 and m.count:
                part = sorted((combo[e] for e in m.entities), key=lambda p: (p is None, p.label if p else ""))
                for e, p in zip(m.entities, part):
                    combo[e] = p
        canon.add(tuple(combo))
    winners = list(canon)
    out = {}
    for e in range(len(slots)):
        labels = {w[e].label if w[e] else None for w in winners}
        if len(labels) == 1 and winners and winners[0][e] is not None:
            out[e] = winners[0][e]
    return _all_or_none(mentions, people, out)


def _all_or_none(mentions: list[Mention], people: list[Person], out: dict[int, Person]) -> dict[int, Person]:
    """Counts must agree: a plural mention ("three people") is resolved whole or not at all, and
    people grounded together ("Jane and I") are all resolved or none of them."""
    changed = True
    while changed:
        changed = False
        for m in mentions:
            if m.count > 1 and any(e in out for e in m.entities) and not all(e in out for e in m.entities):
                for e in m.entities:
                    out.pop(e, None)
                changed = True
        placed = {p.label for p in out.values()}
        for b in {p.bundle for p in people if p.bundle >= 0}:
            members = {p.label for p in people if p.bundle == b}
            if placed & members and not members <= placed:
                out = {e: p for e, p in out.items() if p.label not in members}
                changed = True
    return out


def _group_spans(tokens, mentions: list[Mention]) -> list[list[Mention]]:
    """Mentions joined by 'and' / ',' form one coordinated group."""
    groups: list[list[Mention]] = []
    for m in mentions:
        if groups:
            last = groups[-1][-1]
            between = [g.low(tokens, k) for k in range(last.end, m.start)]
            if between and all(w in {"and", ","} for w in between) and not last.possessive:
                groups[-1].append(m)
                continue
        groups.append([m])
    return groups


def extract_rules(description: str, base: PromptBase, sender: Profile, receiver: Profile,
                  intent: str | None = None) -> str:
    """The sender's personalized semantics of ``description`` (see module docstring)."""
    tokens = g.tokenize(description)
    mentions = find_mentions(tokens)
    people = people_in_scope(base, sender, receiver, intent)
    who = assign(mentions, people)
    edits: dict[int, str] = {}
    deletes: set[int] = set()
    self_gender, self_in, self_group_plural = None, False, False
    for grp in _group_spans(tokens, mentions):
        labels = [who[e].label if e in who else None for m in grp for e in m.entities]
        if not any(labels):
            continue
        if not all(labels):  # partly resolved group: resolve the certain members one by one
            for m in grp:
                ls = [who[e].label for e in m.entities if e in who]
                if len(ls) == len(m.entities):
                    _render_group(tokens, [m], ls, edits, deletes)
                    self_in |= SELF in ls
            continue
        _render_group(tokens, grp, labels, edits, deletes)
        if SELF in labels:
            self_in = True
            self_group_plural |= len(labels) > 1
    if self_in:
        self_gender = sender.gender
        genders = [who[e].gender for e in who]
        others_same = sum(1 for e in who if who[e].gender == self_gender) > 1
        table = PRONOUNS.get(self_gender or "", {})
        for i, (tok, _, _) in enumerate(tokens):
            w = tok.lower()
            if any(m.start <= i < m.end for m in mentions):
                continue
            if w in table and not others_same and i >= mentions[0].end and genders:
                new = table[w]
                role = g.grammatical_role(tokens, i, i + 1)
                if w in ("he", "she") or role == "subject":
                    new = "I"
                edits[i] = new if not g.clause_start(tokens, i) else new[:1].upper() + new[1:]
                if new == "I":
                    _agree_first(tokens, i + 1, edits)
            elif w == "her" and self_gender == "female" and not others_same and i >= mentions[0].end:
                nxt = g.low(tokens, i + 1)
                edits[i] = "my" if nxt and g.is_word(nxt) and nxt not in g.NOT_VERBS else "me"
            elif self_group_plural and w in ("they", "them", "their", "themselves", "theirs"):
                edits[i] = {"they": "we", "them": "us", "their": "our", "themselves": "ourselves",
                            "theirs": "ours"}[w]
                if g.clause_start(tokens, i):
                    edits[i] = edits[i].capitalize()
    return g.capitalize_sentences(g.render(description, tokens, edits, deletes))


def _render_group(tokens, grp: list[Mention], labels: list[str], edits, deletes) -> None:
    a, b = grp[0].start, grp[-1].end
    poss = grp[-1].possessive
    role = g.grammatical_role(tokens, a, b)
    others = [lb for lb in labels if lb != SELF]
    has_self = SELF in labels
    if poss:
        if not has_self:
            text = g.join_names(others) + "'s"
        else:
            text = g.join_names(others) + "'s and my" if others else "my"
    else:
        me = "I" if role == "subject" else "me"
        text = g.join_names(others + ([me] if has_self else []))
    if g.clause_start(tokens, a):
        text = text[:1].upper() + text[1:]
    edits[a] = text
    deletes.update(range(a + 1, b))
    if not poss and role == "subject" and labels == [SELF]:
        _agree_first(tokens, b, edits)


def _agree_first(tokens, i: int, edits) -> None:
    j = g.verb_index(tokens, i)
    if j is not None and j not in edits:
        edits[j] = g.base_form(tokens[j][0])


# ----------------------------------------------------------------------------------- receiver


def recover_rules(text: str, sender: Profile, receiver: Profile) -> str:
    """The received semantics rewritten from ``receiver``'s point of view (see module docstring)."""
    tokens = g.tokenize(text)
    known = {n.lower() for n in (*sender.relationships, *receiver.relationships, sender.name)}

    def name_at(k: int) -> bool:
        if not 0 <= k < len(tokens):
            return False
        bare = re.sub(r"['’]s$", "", tokens[k][0])
        return (bare.lower() in known or _is_name(tokens, k)) and not _vocative(tokens, k)

    sname, rname = sender.name, receiver.name
    refs: dict[int, str] = {}    # token -> "S" (sender) or "R" (receiver)
    for i, (tok, _, _) in enumerate(tokens):
        w = tok.lower().replace("’", "'")
        bare = re.sub(r"'s$", "", w)
        if w in FIRST_SG:
            refs[i] = "S"
        elif w in SECOND:
            refs[i] = "R"
        elif bare == rname.lower() and not _vocative(tokens, i):
            refs[i] = "R"
    edits: dict[int, str] = {}
    deletes: set[int] = set()
    inserts: dict[int, str] = {}
    i = 0
    while i < len(tokens):
        if i not in refs:
            i += 1
            continue
        # a coordinated group of refs and names: "Jane and me", "you and Mike"
        j, members = i, [i]
        while g.low(tokens, i - 1) in ("and", ",") and name_at(i - 2) and i - 2 not in refs:
            i -= 2
            members.insert(0, i)
        while g.low(tokens, j + 1) in ("and", ",") and (j + 2 in refs or name_at(j + 2)):
            if g.low(tokens, j + 2) == "i" and g.grammatical_role(tokens, members[0], members[0] + 1) == "object":
                break  # "I miss you and I love ...": a new clause, not "you and I"
            j += 2
            members.append(j)
        poss = any(g.low(tokens, k) in ("my", "mine", "your", "yours") or g.low(tokens, k).endswith("'s")
                   for k in members)
        role = g.grammatical_role(tokens, i, j + 1)
        labels = []
        for k in members:
            if refs.get(k) == "S":
                labels.append(sname)
            elif refs.get(k) == "R":
                labels.append(SELF)
            else:
                labels.append(re.sub(r"['’]s$", "", tokens[k][0]))
        if len(members) == 1:
            edits[i] = _single(tokens, i, refs[i], sender, role)
            if role in ("subject", "fragment") and not poss:
                _agree_after(tokens, i, j, refs[i], edits, inserts, role)
        else:
            others = [lb for lb in labels if lb != SELF]
            me = "I" if role in ("subject", "fragment") else "me"
            edits[i] = g.join_names(others + ([me] if SELF in labels else []))
            if poss:
                edits[i] = g.join_names(others) + ("'s" if SELF not in labels else "'s and my")
            deletes.update(range(i + 1, j + 1))
            if role == "fragment" and not poss:
                inserts[j + 1] = "are"
                if j + 1 >= len(tokens):
                    edits[i] += " are here"
        if g.clause_start(tokens, i):
            edits[i] = edits[i][:1].upper() + edits[i][1:]
        i = j + 1
    return g.capitalize_sentences(g.render(text, tokens, edits, deletes, inserts))


def _vocative(tokens, i: int) -> bool:
    """"Hi Jane," / "Jane, look" / "..., Jane!": the name addresses the reader; keep it."""
    prev, nxt = g.low(tokens, i - 1), g.low(tokens, i + 1)
    if prev in {"hi", "hey", "hello", "dear", "dearest", "thanks", "congratulations", "birthday", "bye"}:
        return True
    return (g.clause_start(tokens, i) and nxt == "," and prev in (None, ",", ".", "!", "?")) or \
        (prev == "," and nxt in (None, "!", ".", "?"))


def _is_name(tokens, k: int) -> bool:
    tok = tokens[k][0] if 0 <= k < len(tokens) else ""
    return bool(tok) and tok[0].isupper() and tok.lower() not in g.NOT_VERBS and k > 0 and \
        not g.clause_start(tokens, k) and g.is_word(tok)


def _single(tokens, i: int, who: str, sender: Profile, role: str) -> str:
    w = tokens[i][0].lower().replace("’", "'")
    s = sender.name
    if who == "S":
        reflexive = {"male": "himself", "female": "herself"}.get(sender.gender or "", "themself")
        return {"i": s, "me": s, "my": s + "'s", "mine": s + "'s", "myself": reflexive,
                "i'm": s + " is", "i've": s + " has", "i'll": s + " will", "i'd": s + " would"}[w]
    if w.endswith("'s"):
        return "my"
    table = {"you": "I" if role in ("subject", "fragment") else "me", "your": "my", "yours": "mine",
             "yourself": "myself", "you're": "I'm", "you've": "I've", "you'll": "I'll", "you'd": "I'd"}
    return table.get(w, "I" if role in ("subject", "fragment") else "me")


def _agree_after(tokens, i: int, j: int, who: str, edits, inserts, role: str) -> None:
    w = g.low(tokens, i)
    k = g.verb_index(tokens, j + 1)
    if role == "fragment":  # "Me playing with Max" -> "Mike is playing with Max"
        later = verb_after_phrase(tokens, j + 1) if g.low(tokens, j + 1) in g.PREPOSITIONS else None
        if later is not None and later not in edits:   # "I in a helmet ride a bike" -> "Mike ... rides"
            v = tokens[later][0]
            edits[later] = g.third_person(v) if who == "S" else g.base_form(v)
            return
        if "'" not in w and j + 1 < len(tokens) and (k is None or g.low(tokens, k).endswith("ing")
                                    or g.low(tokens, j + 1) in g.PREPOSITIONS):
            inserts[j + 1] = "is" if who == "S" else "am"
        return
    if w not in ("i", "you") and who == "S":
        return
    if k is None or k in edits:
        return
    v = tokens[k][0]
    if who == "S":
        edits[k] = g.third_person(v)
    elif w == "you":
        edits[k] = g.AUX_SECOND_TO_FIRST.get(v.lower(), v)
    else:
        edits[k] = g.base_form(v)
