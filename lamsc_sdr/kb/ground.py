"""Grounded identities: who in the media may become the sender, the receiver or a named person.

A person the description mentions ("a man", "two people", "a dog") is only ever resolved to
someone the sender's *intent* or *profile* grounds; everyone else stays a third person:

- the sender: ``me``/``myself``/``selfie``, ``I am ...``/``I'm ...``, ``X and I``, ``we``/``us``/``our``
  (a bare ``I`` says who writes, not who is shown: "the photo I took"), or the sender profile's
  ``in_media: [me]``;
- the receiver: only together with the sender (``Jane and I``, ``you and me``, ``we``, ``our``);
  a receiver named as the addressee ("tell Jane", "show Ben", "for Zoe") is not grounded;
- a relative, friend or pet: named in the intent (a name in the sender's relationships),
  ``my sister`` / ``my dog`` when exactly one relation fits, or ``in_media: [Name]``.

People grounded together by one phrase ("Jane and I", "we") form a *bundle*: they are resolved
all together or not at all, so counts must agree ("me and you" never maps two of "three
people"). Gender and age class must agree with the mention (:func:`rules.assign`).
"""
from __future__ import annotations

from dataclasses import dataclass

from . import grammar as g
from .profiles import RELATIONS, Profile, PromptBase

SELF = "\x00self"
ANIMAL_WORDS = {"dog": "dog", "cat": "cat", "puppy": "dog", "kitten": "cat", "horse": "horse", "pony": "horse",
                "rabbit": "rabbit", "bird": "bird", "parrot": "bird", "hamster": "hamster"}
_SHIFT = ["baby", "child", "teen", "adult", "elder"]
_ADDRESS = {"tell", "show", "send", "sending", "give", "remind", "ask", "for", "to", "dear", "hi", "hey"}
_SELF_WORDS = {"me", "myself", "selfie"}
_SYNONYM = {"mum": "mother", "mom": "mother", "mommy": "mother", "dad": "father", "daddy": "father",
            "grandma": "grandmother", "granny": "grandmother", "grandpa": "grandfather", "puppy": "dog",
            "kitten": "cat", "wife": "wife", "husband": "husband"}
_GROUP_WORDS = {"we", "us", "our", "ours", "ourselves", "we're", "we've"}


def age_class(age: int) -> str:
    return "baby" if age < 3 else "child" if age < 13 else "teen" if age < 18 else "adult" if age < 60 else "elder"


@dataclass(frozen=True)
class Person:
    """Someone who may appear in the sender's media: gender, age classes, species (None = human)."""
    label: str                    # SELF or a name
    gender: str | None
    ages: frozenset | None
    species: str | None = None
    priority: int = 0
    bundle: int = -1              # people grounded by one phrase share a bundle id (all or none)


def person_of(p: Profile, label: str, priority: int = 0, bundle: int = -1) -> Person:
    species = ANIMAL_WORDS.get((p.identity or "").lower())
    ages = frozenset({age_class(p.age)}) if p.age is not None and species is None else None
    return Person(label, p.gender, ages, species, priority, bundle)


def related(name: str, relation: str, owner: Profile, priority: int = 0) -> Person:
    """A person known only as ``owner``'s relation: gender and age class from the relation word."""
    rel = relation.lower().strip()
    if rel in ANIMAL_WORDS:
        return Person(name, None, None, ANIMAL_WORDS[rel], priority)
    gender, rel_age = RELATIONS.get(rel, (None, None))
    ages = None
    if owner.age is not None and rel_age is not None:
        i = _SHIFT.index(age_class(owner.age))
        if rel_age == "same":
            ages = frozenset(_SHIFT[max(0, i - 1):i + 2]) if i >= 2 else frozenset({_SHIFT[i]})
        elif rel_age == "older":
            ages = frozenset(_SHIFT[max(i + 1, 3):]) or frozenset({"elder"})
        elif rel_age == "elder":
            ages = frozenset({"adult", "elder"} if i < 2 else {"elder"})
        elif rel_age == "younger":
            ages = frozenset(_SHIFT[:max(i, 1)])
        elif rel_age == "grandchild":
            ages = frozenset(_SHIFT[:max(i - 1, 1)])
    return Person(name, gender, ages, None, priority)


def _addressed(words: list[str], i: int) -> bool:
    return i > 0 and words[i - 1] in _ADDRESS


def grounded_people(base: PromptBase, sender: Profile, receiver: Profile, intent: str | None) -> list[Person]:
    """The people the intent or the sender's profile grounds (see module docstring)."""
    words = [w for w, *_ in g.tokenize(intent or "")]
    low = [w.lower().replace("’", "'") for w in words]
    rels = {n.lower(): (n, r) for n, r in sender.relationships.items()}
    out: dict[str, Person] = {}
    bundle_id = 0

    def add(person: Person) -> None:
        if person.label not in out:
            out[person.label] = person

    def of(name: str, bundle: int = -1) -> Person:
        if name.lower() == receiver.name.lower():
            return person_of(receiver, receiver.name, 8, bundle)
        if name in base and name.lower() not in rels:
            return person_of(base.get(name), base.get(name).name, 5, bundle)
        n, r = rels[name.lower()]
        p = person_of(base.get(n), n, 5) if n in base else related(n, r, sender, 5)
        return Person(p.label, p.gender, p.ages, p.species, p.priority, bundle)

    # coordinated phrases ground a bundle: "Jane and I", "me and you", "you and me"
    for i, w in enumerate(low):
        if w != "and" or i == 0 or i + 1 >= len(low):
            continue
        pair = {low[i - 1], low[i + 1]}
        firsts = pair & {"i", "me"}
        if not firsts:
            continue
        other = (pair - firsts) or {"i"}
        o = next(iter(other))
        k = i - 1 if low[i - 1] == o else i + 1
        if o == "you":
            names = [receiver.name]
        elif o in rels or o == receiver.name.lower() or words[k] in base:
            names = [words[k]]
        else:
            continue
        add(person_of(sender, SELF, 100, bundle_id))
        for n in names:
            add(of(n, bundle_id))
        bundle_id += 1
    if SELF not in out and (set(low) & _SELF_WORDS and not any(
            w == "me" and _addressed(low, i) for i, w in enumerate(low))
            or any(w == "i'm" or (w == "i" and i + 1 < len(low) and low[i + 1] == "am") for i, w in enumerate(low))):
        add(person_of(sender, SELF, 100))
    if any(w in _GROUP_WORDS for w in low) and SELF not in out:
        add(person_of(sender, SELF, 100, bundle_id))
        add(person_of(receiver, receiver.name, 8, bundle_id))
        bundle_id += 1
    for flag in getattr(sender, "in_media", ()) or ():
        if flag.lower() in ("me", "self", sender.name.lower()):
            add(person_of(sender, SELF, 100))
        elif flag.lower() in rels or flag in base:
            add(of(flag))
    # names and "my <relation>" from the sender's relationships
    for i, w in enumerate(low):
        if w in rels and not _addressed(low, i) and words[i][:1].isupper():
            add(of(rels[w][0]))
        elif i > 0 and low[i - 1] in ("my", "our"):
            want = _SYNONYM.get(w, w)
            fits = [n for n, r in sender.relationships.items() if _SYNONYM.get(r.lower(), r.lower()) == want]
            if len(fits) == 1:
                add(of(fits[0]))
    # the receiver alone: "a photo of you", "you are ...", "you're ..."
    for i, w in enumerate(low):
        if (w == "you" and (i > 0 and low[i - 1] == "of" or i + 1 < len(low) and low[i + 1] in ("are", "were")))\
                or w == "you're":
            add(person_of(receiver, receiver.name, 8))
    return list(out.values())
