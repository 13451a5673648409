"""Knowledge-base (LKB) configuration section (``kb:`` in the run YAML)."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError


@dataclass(frozen=True)
class KBConfig:
    llm: str = "offline"                 # offline[:qwen1.5b] | rules | transformers:<path>[#file.gguf] | openai:<model>
    profiles: str | None = None          # YAML/CSV prompt base; None = the shipped example
    sender: str = "Mike"
    receiver: str = "Jane"
    intent: str | None = None
    base_url: str | None = None          # openai: default $OPENAI_BASE_URL or https://api.openai.com/v1
    api_key_env: str = "OPENAI_API_KEY"  # openai: the environment variable holding the key
    timeout_s: float = 30.0              # openai: per-request timeout
    retries: int = 3                     # openai: retries with exponential backoff
    threads: int | None = None           # local models: CPU threads (None: min(4, cores))
    runtime: str = "auto"                # offline: auto | ct2 | transformers
    max_tokens: int = 80                 # reply budget per LLM call

    def validate(self) -> None:
        kind = self.llm.partition(":")[0]
        if kind not in ("offline", "rules", "transformers", "openai"):
            raise ConfigError(f"config key 'kb.llm': expected offline, rules, transformers:<path> or "
                              f"openai:<model>, got {self.llm!r}")
        if self.runtime not in ("auto", "ct2", "transformers"):
            raise ConfigError(f"config key 'kb.runtime': expected auto, ct2 or transformers, got {self.runtime!r}")
        if self.timeout_s <= 0 or self.retries < 0 or self.max_tokens < 1:
            raise ConfigError("config keys 'kb.timeout_s' > 0, 'kb.retries' >= 0, 'kb.max_tokens' >= 1 required")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"config key 'kb.threads': expected >= 1, got {self.threads}")

    def __post_init__(self) -> None:
        self.validate()
