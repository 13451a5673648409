"""Typed YAML configuration: dataclasses checked key by key, errors that name the key and file.

Every config section is a (frozen) dataclass. :func:`from_mapping` turns a ``yaml.safe_load``
result into one, recursively, rejecting unknown keys and wrong types with a :class:`ConfigError`
that names the dotted key path and the file it came from. A section may define
``validate(self) -> None`` to check cross-field rules; it raises ``ConfigError`` naming the field.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Mapping

from .errors import ConfigError


def _where(path: str | None) -> str:
    return f" in {path}" if path else ""


def _coerce(tp: Any, value: Any, key: str, path: str | None) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(a, value, key, path)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(f"config key '{key}'{_where(path)}: {value!r} does not fit {tp}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(
                f"config key '{key}'{_where(path)}: {value!r} is not one of {list(args)}")
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"config key '{key}'{_where(path)}: expected a mapping, got {type(value).__name__}")
        return from_mapping(tp, value, path=path, prefix=key)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"config key '{key}'{_where(path)}: expected a list, got {type(value).__name__}")
        inner = args[0] if args else Any
        items = [_coerce(inner, v, f"{key}[{i}]", path) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"config key '{key}'{_where(path)}: expected a mapping, got {type(value).__name__}")
        return dict(value)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"config key '{key}'{_where(path)}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"config key '{key}'{_where(path)}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"config key '{key}'{_where(path)}: expected true/false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"config key '{key}'{_where(path)}: expected a string, got {value!r}")
        return value
    if isinstance(tp, type) and not isinstance(value, tp):
        raise ConfigError(f"config key '{key}'{_where(path)}: expected {tp.__name__}, got {value!r}")
    return value


def from_mapping(cls: type, data: Mapping[str, Any], path: str | None = None, prefix: str = ""):
    """Build dataclass ``cls`` from ``data``; unknown keys and bad types raise ConfigError."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"config section '{prefix or '<root>'}'{_where(path)}: expected a mapping")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    kwargs = {}
    for k, v in data.items():
        dotted = f"{prefix}.{k}" if prefix else str(k)
        if k not in fields:
            raise ConfigError(
                f"unknown config key '{dotted}'{_where(path)}; known keys: {sorted(fields)}")
        kwargs[k] = _coerce(hints[k], v, dotted, path)
    try:
        obj = cls(**kwargs)
    except ConfigError as err:
        raise ConfigError(f"{err}{_where(path)}" if path and path not in str(err) else str(err)) from None
    except TypeError as err:
        raise ConfigError(f"config section '{prefix or '<root>'}'{_where(path)}: {err}") from err
    return obj


def read_yaml_mapping(path, what: str = "config file") -> dict:
    """``yaml.safe_load`` a file whose top level must be a mapping (empty file: ``{}``); every
    failure is a ConfigError naming ``what`` and the path."""
    import yaml
    from pathlib import Path
    try:
        text = Path(path).read_text()
    except OSError as err:
        raise ConfigError(f"cannot read {what} {path}: {err.strerror}") from err
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{what} {path} is not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path}: top level must be a mapping, got {type(data).__name__}")
    return data


def to_dict(obj: Any) -> Any:
    """A dataclass (tree) as plain dicts/lists, ready for YAML or JSON."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj
