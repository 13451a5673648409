"""Semantic codec configuration section (``semantic:`` in the run YAML)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SemanticConfig:
    checkpoint: str | None = None        # None = the shipped checkpoint
