"""The personalized prompt base: user profiles (YAML or CSV), validated into dataclasses.

A prompt base stays on the device. Only what :meth:`KnowledgeBase.extract` returns is sent.

YAML::

    schema_version: 1
    profiles:
      - name: Mike
        age: 10
        gender: male            # male | female | other
        identity: schoolboy     # free text; "dog", "cat", ... mark a pet
        interests: [football, drawing]
        language: en
        relationships: {Jane: sister, Rose: grandmother}
        in_media: [me]          # optional: who the media this person sends shows ("me" or names)

CSV: a header ``name,age,gender,identity,interests,language,relationships``; ``interests``
separated by ``;``, relationships as ``Jane:sister;Rose:grandmother``.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..errors import ConfigError

PROFILE_FIELDS = ("name", "age", "gender", "identity", "interests", "language", "relationships", "in_media")
GENDERS = {"male": "male", "m": "male", "man": "male", "boy": "male",
           "female": "female", "f": "female", "woman": "female", "girl": "female",
           "other": "other", "nonbinary": "other", "non-binary": "other", "x": "other"}
PETS = {"dog", "cat", "puppy", "kitten", "horse", "rabbit", "bird", "parrot", "hamster", "pony"}
_NAME_RE = re.compile(r"^[A-Z][A-Za-z'\-]*(?: [A-Z][A-Za-z'\-]*)*$")

# relation word -> (gender or None, age relative to the profile owner: "older", "younger",
# "same", "elder" = two generations up, "grandchild" = two down, None = unknown)
RELATIONS: dict[str, tuple[str | None, str | None]] = {
    "sister": ("female", "same"), "brother": ("male", "same"), "sibling": (None, "same"),
    "twin": (None, "same"), "cousin": (None, "same"), "friend": (None, "same"),
    "best friend": (None, "same"), "classmate": (None, "same"), "colleague": (None, "same"),
    "girlfriend": ("female", "same"), "boyfriend": ("male", "same"),
    "wife": ("female", "same"), "husband": ("male", "same"), "partner": (None, "same"),
    "mother": ("female", "older"), "mom": ("female", "older"), "mum": ("female", "older"),
    "father": ("male", "older"), "dad": ("male", "older"), "parent": (None, "older"),
    "aunt": ("female", "older"), "uncle": ("male", "older"), "teacher": (None, "older"),
    "coach": (None, "older"), "neighbor": (None, None), "neighbour": (None, None),
    "grandmother": ("female", "elder"), "grandma": ("female", "elder"),
    "grandfather": ("male", "elder"), "grandpa": ("male", "elder"), "grandparent": (None, "elder"),
    "son": ("male", "younger"), "daughter": ("female", "younger"), "child": (None, "younger"),
    "niece": ("female", "younger"), "nephew": ("male", "younger"), "student": (None, "younger"),
    "grandson": ("male", "grandchild"), "granddaughter": ("female", "grandchild"),
    "grandchild": (None, "grandchild"),
}


@dataclass(frozen=True)
class Profile:
    """One person (or pet) of the prompt base. ``relationships`` maps a name to a relation word
    (``{"Jane": "sister"}``: Jane is this person's sister)."""

    name: str
    age: int | None = None
    gender: str | None = None
    identity: str | None = None
    interests: tuple[str, ...] = ()
    language: str = "en"
    relationships: Mapping[str, str] = field(default_factory=dict)
    in_media: tuple[str, ...] = ()   # who this person's media shows: "me" and/or names (grounds identities)

    @property
    def is_pet(self) -> bool:
        return (self.identity or "").lower() in PETS

    def private_values(self) -> list[str]:
        """Every value of this profile except the name: what must never leave the device."""
        vals = [str(self.age)] if self.age is not None else []
        vals += [v for v in (self.identity,) if v]
        vals += list(self.interests)
        vals += list(self.relationships.values())
        return vals


def _where(src: str | None) -> str:
    return f" in {src}" if src else ""


def profile_from_mapping(data: Any, src: str | None = None, key: str = "profile") -> Profile:
    """Validate one profile mapping; errors name the field (``profiles[1].age``) and the file."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"profile field '{key}'{_where(src)}: expected a mapping, got {type(data).__name__}")
    unknown = sorted(set(map(str, data)) - set(PROFILE_FIELDS))
    if unknown:
        raise ConfigError(f"unknown profile field '{key}.{unknown[0]}'{_where(src)}; "
                          f"known fields: {list(PROFILE_FIELDS)}")
    name = data.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name.strip()):
        raise ConfigError(f"profile field '{key}.name'{_where(src)}: expected a capitalized name "
                          f"such as 'Mike', got {name!r}")
    age = data.get("age")
    if age is not None:
        if isinstance(age, str) and age.strip().isdigit():
            age = int(age)
        if isinstance(age, bool) or not isinstance(age, int) or not 0 <= age <= 130:
            raise ConfigError(f"profile field '{key}.age'{_where(src)}: expected an integer 0..130, got {age!r}")
    gender = data.get("gender")
    if gender is not None:
        g = GENDERS.get(str(gender).strip().lower())
        if g is None:
            raise ConfigError(f"profile field '{key}.gender'{_where(src)}: expected male, female or other, "
                              f"got {gender!r}")
        gender = g
    identity = data.get("identity")
    if identity is not None and not isinstance(identity, str):
        raise ConfigError(f"profile field '{key}.identity'{_where(src)}: expected text, got {identity!r}")
    interests = data.get("interests") or ()
    if isinstance(interests, str):
        interests = [s for s in re.split(r"[;,]", interests)]
    if not isinstance(interests, (list, tuple)) or not all(isinstance(s, str) for s in interests):
        raise ConfigError(f"profile field '{key}.interests'{_where(src)}: expected a list of text, got {interests!r}")
    language = data.get("language") or "en"
    if not isinstance(language, str) or not re.fullmatch(r"[A-Za-z]{2,3}([-_][A-Za-z]{2,4})?|[A-Za-z]+", language):
        raise ConfigError(f"profile field '{key}.language'{_where(src)}: expected a language code such as 'en', "
                          f"got {language!r}")
    rel = data.get("relationships") or {}
    if isinstance(rel, str):
        pairs = [p for p in rel.split(";") if p.strip()]
        try:
            rel = {a.strip(): b.strip() for a, b in (p.split(":", 1) for p in pairs)}
        except ValueError as err:
            raise ConfigError(f"profile field '{key}.relationships'{_where(src)}: expected 'Name:relation;...', "
                              f"got {data.get('relationships')!r}") from err
    if not isinstance(rel, Mapping):
        raise ConfigError(f"profile field '{key}.relationships'{_where(src)}: expected a mapping name -> relation")
    for other, what in rel.items():
        if not isinstance(other, str) or not _NAME_RE.match(other) or not isinstance(what, str) or not what.strip():
            raise ConfigError(f"profile field '{key}.relationships.{other}'{_where(src)}: expected "
                              f"Name: relation (e.g. Jane: sister), got {other!r}: {what!r}")
    in_media = data.get("in_media") or ()
    if isinstance(in_media, str):
        in_media = [in_media]
    if not isinstance(in_media, (list, tuple)) or not all(isinstance(s, str) and s.strip() for s in in_media):
        raise ConfigError(f"profile field '{key}.in_media'{_where(src)}: expected a list such as [me, Jane], "
                          f"got {in_media!r}")
    return Profile(name=name.strip(), age=age, in_media=tuple(s.strip() for s in in_media), gender=gender,
                   identity=identity.strip() if identity else None,
                   interests=tuple(s.strip() for s in interests if s.strip()), language=language,
                   relationships={k: v.strip().lower() for k, v in rel.items()})


class PromptBase:
    """Profiles by name (case-insensitive), with look-ups the knowledge base needs."""

    def __init__(self, profiles: Iterable[Profile] = (), source: str | None = None):
        self.source = source
        self._by_name: dict[str, Profile] = {}
        for p in profiles:
            if p.name.lower() in self._by_name:
                raise ConfigError(f"profile field 'name'{_where(source)}: duplicate profile {p.name!r}")
            self._by_name[p.name.lower()] = p

    def __contains__(self, name: str) -> bool:
        return name.lower() in self._by_name

    def __iter__(self):
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def get(self, name: str | Profile) -> Profile:
        if isinstance(name, Profile):
            return name
        try:
            return self._by_name[name.lower()]
        except KeyError:
            raise ConfigError(f"no profile named {name!r}{_where(self.source)}; known: "
                              f"{[p.name for p in self]}") from None

    def with_profiles(self, *profiles: Profile) -> "PromptBase":
        """A copy where the given profiles replace (or add to) the stored ones."""
        merged = {**self._by_name, **{p.name.lower(): p for p in profiles}}
        return PromptBase(merged.values(), self.source)


def _from_rows(rows: list, src: str | None) -> PromptBase:
    return PromptBase([profile_from_mapping(r, src, f"profiles[{i}]") for i, r in enumerate(rows)], src)


def load_profiles(path: str | Path) -> PromptBase:
    """Read a prompt base from ``.yaml``/``.yml`` or ``.csv``; ConfigError names field and file."""
    path = Path(path)
    src = str(path)
    from ..config_base import parse_yaml_text, read_text_file
    text = read_text_file(path, "prompt base")      # missing / non-UTF-8: one ConfigError line
    if path.suffix.lower() == ".csv":
        rows = [{k.strip(): (v.strip() if isinstance(v, str) else v) for k, v in r.items() if k and v not in (None, "")}
                for r in csv.DictReader(io.StringIO(text))]
        return _from_rows(rows, src)
    data = parse_yaml_text(text, "prompt base", src)
    if isinstance(data, Mapping):
        unknown = sorted(set(data) - {"schema_version", "profiles"})
        if unknown:
            raise ConfigError(f"unknown key '{unknown[0]}' in prompt base {src}; known: ['profiles', 'schema_version']")
        if data.get("schema_version", 1) != 1:
            raise ConfigError(f"key 'schema_version' in prompt base {src}: expected 1, got {data['schema_version']!r}")
        data = data.get("profiles")
    if not isinstance(data, list):
        raise ConfigError(f"key 'profiles' in prompt base {src}: expected a list of profiles")
    return _from_rows(data, src)


def example_profiles_path() -> Path:
    return Path(__file__).with_name("profiles_example.yaml")


def load_example() -> PromptBase:
    """The shipped example prompt base (Mike, Jane and their family)."""
    return load_profiles(example_profiles_path())
