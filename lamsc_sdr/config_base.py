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
        if value != value:
            raise ConfigError(f"config key '{key}'{_where(path)}: expected a number, got NaN")
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


# YAML 1.1 (PyYAML) reads ``1e6``, ``1.0e6``, ``915e6`` and ``2.4e9`` as strings; YAML 1.2 and every
# user read them as numbers. One loader for every file and ``--set`` value the project reads.
_FLOAT_RE = (r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?"
             r"|[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)"
             r"|\.[0-9_]+(?:[eE][-+]?[0-9]+)?"
             r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")


def _loader():
    import re

    import yaml

    class Loader(yaml.SafeLoader):
        """``yaml.SafeLoader`` with YAML 1.2 floats (``1e6`` is a number)."""

    Loader.yaml_implicit_resolvers = {k: [r for r in v if r[0] != "tag:yaml.org,2002:float"]
                                      for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    Loader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(_FLOAT_RE), list("-+0123456789."))
    return Loader


def yaml_load(text: str):
    """``yaml.safe_load`` with YAML 1.2 floats: ``1e6``, ``1.0e6``, ``915e6``, ``2.4e9`` are floats.
    Raises ``yaml.YAMLError`` like ``safe_load``."""
    import yaml
    global _LOADER
    if _LOADER is None:
        _LOADER = _loader()
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 -- a SafeLoader subclass


_LOADER = None


def read_text_file(path, what: str = "file") -> str:
    """A UTF-8 text file's contents; unreadable, missing or non-UTF-8 files raise ConfigError
    naming ``what`` and the path (one line, no traceback)."""
    from pathlib import Path
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{what} {path} is not UTF-8 text (byte {err.start}: {err.reason})") from err
    except OSError as err:
        raise ConfigError(f"cannot read {what} {path}: {err.strerror or err}") from err


def parse_yaml_text(text: str, what: str, path=None):
    """:func:`yaml_load` whose syntax errors become ConfigError naming ``what`` and ``path``."""
    import yaml
    try:
        return yaml_load(text)
    except yaml.YAMLError as err:
        first = " ".join(str(err).split())
        raise ConfigError(f"{what} {path if path is not None else ''} is not valid YAML: {first}".replace("  ", " ")) \
            from err
    except (ValueError, TypeError, OverflowError, RecursionError) as err:  # e.g. a bad timestamp value
        raise ConfigError(f"{what} {path if path is not None else ''}: unreadable YAML value ({err})") from err


def read_yaml_mapping(path, what: str = "config file") -> dict:
    """Read a YAML file (:func:`yaml_load`) whose top level must be a mapping (empty file: ``{}``);
    every failure (missing, non-UTF-8, bad YAML, not a mapping) is a ConfigError naming ``what``
    and the path."""
    data = parse_yaml_text(read_text_file(path, what), what, path) or {}
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
