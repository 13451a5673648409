"""The one task instruction template of M4SC, and the users file that asks for tasks with it.

Every task the system serves is written in one format with five fields (task, modality, user,
instruction, content). As text (what a user types, what the sender parses, what the receiver's
generation reads)::

    <task>answer</task><modality>image</modality><user>Jane</user><instruction>What is in the
    picture?</instruction><content>photo.jpg</content>

The same five keys as a YAML/JSON mapping are equivalent (``TaskInstruction.from_mapping``).

==============  ===========================================================================
task            ``describe`` | ``answer`` | ``transcribe`` | ``summarize`` (:data:`TASKS`)
modality        ``image`` | ``audio`` | ``video`` (``auto``: from the content file's extension)
user            the receiver's profile name in the prompt base (the LKB personalizes for it)
instruction     free text: the question for ``answer``; optional for the other tasks
content         the media file the task is about (one media item shared by all users)
==============  ===========================================================================

``transcribe`` needs speech (audio, or a video with a soundtrack); ``answer`` needs an
instruction. A bad template is a :class:`~lamsc_sdr.errors.ConfigError` naming the field.

Users file (``lamsc link FILE --users USERS.yaml``)::

    schema_version: 1
    sender: Mike                      # optional, the sender's profile (default Mike)
    users:
      - {id: 1, profile: Jane, task: describe}
      - {id: 2, profile: Tom, task: answer, instruction: "What is in the picture?"}
      - {id: 3, profile: Rose, task: summarize, channel: {snr_db: 9, cfo_hz: 3000}}
      - {id: 4, profile: Leo, task: transcribe}

``id`` (1..31, default the position) is the user's address in the frame header; ``channel``
overrides that receiver's channel (any :class:`~lamsc_sdr.channel.ChannelConfig` field).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..phy.header import MAX_USER_ID

TASKS = ("describe", "answer", "transcribe", "summarize")
MODALITIES = ("image", "audio", "video")
FIELDS = ("task", "modality", "user", "instruction", "content")
_TAG = re.compile(r"<(task|modality|user|instruction|content)>(.*?)</\1>", re.S)


@dataclass(frozen=True)
class TaskInstruction:
    """One task in the unified template (see the module docstring). Validated on construction."""

    task: str
    modality: str
    user: str
    instruction: str = ""
    content: str = ""

    def __post_init__(self):
        if self.task not in TASKS:
            raise ConfigError(f"template.task: {self.task!r} is not one of {list(TASKS)}")
        if self.modality not in MODALITIES:
            raise ConfigError(f"template.modality: {self.modality!r} is not one of {list(MODALITIES)}")
        if not str(self.user).strip():
            raise ConfigError("template.user: a receiver profile name is required")
        if self.task == "answer" and not self.instruction.strip():
            raise ConfigError("template.instruction: the answer task needs a question")
        if self.task == "transcribe" and self.modality == "image":
            raise ConfigError("template.task: transcribe needs speech (audio or video), not an image")

    def render(self) -> str:
        """The template as one line of tagged text."""
        return "".join(f"<{f}>{getattr(self, f)}</{f}>" for f in FIELDS)

    @classmethod
    def parse(cls, text: str) -> "TaskInstruction":
        """Inverse of :meth:`render`; missing optional fields default to ''."""
        if not isinstance(text, str):
            raise ConfigError(f"template: expected text, got {type(text).__name__}")
        found = {k: v.strip() for k, v in _TAG.findall(text)}
        missing = [f for f in ("task", "modality", "user") if f not in found]
        if missing:
            raise ConfigError(f"template: missing field(s) {missing} in {text[:80]!r}")
        return cls(**found)

    @classmethod
    def from_mapping(cls, data: Any, src: str = "template") -> "TaskInstruction":
        if not isinstance(data, dict):
            raise ConfigError(f"{src}: expected a mapping with keys {list(FIELDS)}")
        bad = sorted(set(data) - set(FIELDS))
        if bad:
            raise ConfigError(f"{src}: unknown key(s) {bad}; allowed {list(FIELDS)}")
        return cls(**{k: str(v) for k, v in data.items() if v is not None})

    def to_dict(self) -> dict:
        return {f: getattr(self, f) for f in FIELDS}


@dataclass(frozen=True)
class UserSpec:
    """One receiver of a multi-user session: header id, profile, task, instruction, channel overrides."""

    id: int
    profile: str
    task: str
    instruction: str = ""
    channel: dict = field(default_factory=dict)

    def template(self, modality: str, content: str = "") -> TaskInstruction:
        return TaskInstruction(self.task, modality, self.profile, self.instruction, content)


@dataclass(frozen=True)
class Session:
    """The users file: a sender and its receivers."""

    users: tuple[UserSpec, ...]
    sender: str = "Mike"

    def templates(self, modality: str, content: str = "") -> list[TaskInstruction]:
        return [u.template(modality, content) for u in self.users]


_USER_KEYS = {"id", "profile", "task", "instruction", "channel"}


def session_from_mapping(data: Any, src: str = "users") -> Session:
    """A users mapping (see the module docstring) -> :class:`Session`; errors name the key and file."""
    if not isinstance(data, dict):
        raise ConfigError(f"{src}: expected a mapping with a 'users' list")
    bad = sorted(set(data) - {"schema_version", "sender", "users", "seed"})
    if bad:
        raise ConfigError(f"{src}: unknown key(s) {bad}")
    if data.get("schema_version", 1) != 1:
        raise ConfigError(f"{src}: schema_version {data.get('schema_version')!r} is not supported (1)")
    rows = data.get("users")
    if not isinstance(rows, list) or not rows:
        raise ConfigError(f"{src}: 'users' must be a non-empty list")
    if len(rows) > MAX_USER_ID:
        raise ConfigError(f"{src}: at most {MAX_USER_ID} users, got {len(rows)}")
    users, ids = [], set()
    for i, r in enumerate(rows):
        where = f"{src}: users[{i}]"
        if not isinstance(r, dict):
            raise ConfigError(f"{where}: expected a mapping")
        extra = sorted(set(r) - _USER_KEYS)
        if extra:
            raise ConfigError(f"{where}: unknown key(s) {extra}; allowed {sorted(_USER_KEYS)}")
        for k in ("profile", "task"):
            if not isinstance(r.get(k), str) or not r[k].strip():
                raise ConfigError(f"{where}.{k}: required (a string)")
        if r["task"] not in TASKS:
            raise ConfigError(f"{where}.task: {r['task']!r} is not one of {list(TASKS)}")
        uid = r.get("id", i + 1)
        if isinstance(uid, bool) or not isinstance(uid, int) or not 1 <= uid <= MAX_USER_ID or uid in ids:
            raise ConfigError(f"{where}.id: must be a unique integer in [1, {MAX_USER_ID}], got {uid!r}")
        ids.add(uid)
        ch = r.get("channel") or {}
        if not isinstance(ch, dict):
            raise ConfigError(f"{where}.channel: expected a mapping of channel fields")
        if r["task"] == "answer" and not str(r.get("instruction") or "").strip():
            raise ConfigError(f"{where}.instruction: the answer task needs a question")
        users.append(UserSpec(uid, r["profile"].strip(), r["task"], str(r.get("instruction") or ""), dict(ch)))
    return Session(tuple(users), str(data.get("sender") or "Mike"))


def load_session(path: str | Path) -> Session:
    """Read a users YAML file (the project's one YAML-mapping reader: errors name the file)."""
    from ..config_base import read_yaml_mapping
    return session_from_mapping(read_yaml_mapping(path, "users file"), str(path))
