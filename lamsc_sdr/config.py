"""The run configuration: one YAML file with ``schema_version`` and ``seed`` describes a run.

Load with :func:`load_config`; every section is a typed dataclass owned by its subpackage.
Unknown or ill-typed keys raise :class:`ConfigError` naming the key and the file.
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from .channel.config import ChannelConfig
from .config_base import from_mapping, read_yaml_mapping, to_dict
from .errors import ConfigError
from .estimation.config import EstimatorConfig
from .kb.config import KBConfig
from .mma.config import MMAConfig
from .phy.config import FrameConfig
from .radio.config import RadioConfig
from .semantic.config import SemanticConfig

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class RunConfig:
    schema_version: int = SCHEMA_VERSION
    seed: int = 0
    frame: FrameConfig = field(default_factory=FrameConfig)
    channel: ChannelConfig = field(default_factory=ChannelConfig)
    estimator: EstimatorConfig = field(default_factory=EstimatorConfig)
    radio: RadioConfig = field(default_factory=RadioConfig)
    semantic: SemanticConfig = field(default_factory=SemanticConfig)
    mma: MMAConfig = field(default_factory=MMAConfig)
    kb: KBConfig = field(default_factory=KBConfig)

    def __post_init__(self):
        if not 0 <= self.seed < 2 ** 63:
            raise ConfigError(f"config key 'seed': must be an integer in [0, 2**63), got {self.seed}")

    def to_dict(self) -> dict:
        return to_dict(self)

    def digest(self) -> str:
        """Short hash of the resolved config, for file names and provenance."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:12]

    def replace(self, **sections) -> "RunConfig":
        """A copy with some sections (or fields of sections, given as dicts) replaced."""
        kw = {}
        for name, value in sections.items():
            cur = getattr(self, name)
            if isinstance(value, Mapping) and dataclasses.is_dataclass(cur):
                value = from_mapping(type(cur), {**to_dict(cur), **value}, prefix=name)
            kw[name] = value
        return dataclasses.replace(self, **kw)


def config_from_mapping(data: Mapping[str, Any] | None, path: str | None = None) -> RunConfig:
    data = {} if data is None else data
    if not isinstance(data, Mapping):
        raise ConfigError(f"config{' ' + path if path else ''}: top level must be a mapping")
    version = data.get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise ConfigError(f"config key 'schema_version'{' in ' + path if path else ''}: "
                          f"this lamsc_sdr reads version {SCHEMA_VERSION}, got {version!r}")
    return from_mapping(RunConfig, data, path=path)


def _merge(base: Mapping, top: Mapping) -> dict:
    """``top`` over ``base``, section by section (nested mappings merge, other values replace)."""
    out = dict(base)
    for k, v in top.items():
        out[k] = _merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) else v
    return out


def load_config(path: str | Path | None = None, overrides: Mapping[str, Any] | None = None,
                base: Mapping[str, Any] | None = None) -> RunConfig:
    """Read a run config YAML (``None``: all defaults), apply dotted ``overrides`` (``{"channel.snr_db": 10}``).

    ``base``: a nested mapping applied over the defaults and under the file (a command's own
    defaults, e.g. the demo's channel), so the file and the overrides always win over it."""
    data: dict = copy.deepcopy(dict(base or {}))
    spath = None
    if path is not None:
        spath = str(path)
        data = _merge(data, read_yaml_mapping(path))
    for dotted, value in (overrides or {}).items():
        node = data
        parts = dotted.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override '{dotted}': '{p}' is not a section")
        node[parts[-1]] = value
    return config_from_mapping(data, spath)


def dump_config(cfg: RunConfig) -> str:
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)
