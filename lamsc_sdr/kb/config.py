"""Knowledge-base (LKB) configuration section (``kb:`` in the run YAML)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KBConfig:
    llm: str = "offline"                 # offline | transformers:<id or path> | openai:<model>
    profiles: str | None = None          # YAML/CSV prompt base; None = the shipped example
    sender: str = "Mike"
    receiver: str = "Jane"
    intent: str | None = None
