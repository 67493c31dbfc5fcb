"""One strict loader: YAML -> frozen dataclasses.

Unknown keys are errors naming the closest valid key; wrong types are errors naming the field
and the expected type. The loaded config is never mutated: overrides build a new one.
"""

from __future__ import annotations

import dataclasses
import math
import os
import reprlib
import types
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

from dfard_pipeline.atomic import write_text_atomic
from dfard_pipeline.errors import ConfigError
from dfard_pipeline.registry import closest

C = TypeVar("C")


INT_BOUND = 2**63


def _short(value: Any) -> str:
    """A bounded repr for messages: a hostile value is never printed in full."""
    return reprlib.repr(value)


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " | ".join(_type_name(a) for a in get_args(tp))
    if origin in (list, tuple):
        return f"list of {_type_name(get_args(tp)[0])}"
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp))


def _convert(value: Any, tp: Any, where: str) -> Any:
    """Check ``value`` against the annotation ``tp`` and return it in canonical form."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in get_args(tp):
            return None
        for option in get_args(tp):
            if option is type(None):
                continue
            try:
                return _convert(value, option, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: expected {_type_name(tp)}, got {_short(value)}")
    if origin is Literal:
        if value not in get_args(tp):
            hint = closest(str(value), [str(a) for a in get_args(tp)])
            extra = f" (did you mean {hint!r}?)" if hint else ""
            raise ConfigError(f"{where}: expected one of {_type_name(tp)}, got {_short(value)}{extra}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {_short(value)}")
        (item_type, *_) = get_args(tp)
        return tuple(_convert(v, item_type, f"{where}[{i}]") for i, v in enumerate(value))
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {_short(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {_short(value)}")
        if not -INT_BOUND <= value < INT_BOUND:  # a number with thousands of digits is a mistake or an attack
            raise ConfigError(f"{where}: {_short(value)} is out of range (|value| < 2**63)")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {_short(value)}")
        if isinstance(value, int) and not -INT_BOUND <= value < INT_BOUND:
            raise ConfigError(f"{where}: {_short(value)} is out of range")
        if not math.isfinite(float(value)):
            raise ConfigError(f"{where}: expected a finite number, got {value}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {_short(value)}")
        return value
    raise TypeError(f"config type {tp!r} at {where} is not supported by the loader")


def from_dict(cls: type[C], data: Any, where: str = "config") -> C:
    """Build the dataclass ``cls`` from a plain mapping, strictly."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {_short(data)}")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        if key not in fields:
            hint = closest(str(key), list(fields))
            extra = f"; did you mean '{hint}'?" if hint else f"; valid keys: {', '.join(fields)}"
            raise ConfigError(f"{where}: unknown key '{key}'{extra}")
        kwargs[key] = _convert(value, hints[key], f"{where}.{key}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:  # __post_init__ validation
        raise ConfigError(f"{where}: {exc}") from None


def to_dict(config: Any) -> dict[str, Any]:
    """Plain-data view of a config (tuples become lists so YAML stays readable)."""

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value

    return plain(config)


MAX_YAML_BYTES = 1 << 20  # a config or device profile is a few kB


class _StrictYamlLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` (no Python objects) that also refuses duplicate keys, where PyYAML lets
    the last one win silently, and aliases (``*name``), whose nesting is how a small file expands
    into billions of values (the "billion laughs" bomb); no config needs them."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise ConfigError(f"line {event.start_mark.line + 1}: YAML aliases (*{event.anchor}) are not "
                              "accepted in configs; write the value out")
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, list | dict):
                raise ConfigError(f"line {key_node.start_mark.line + 1}: a mapping key must be a plain value")
            if key in seen:
                raise ConfigError(f"line {key_node.start_mark.line + 1}: duplicate key '{key}'")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: str | os.PathLike) -> Any:
    """The plain data of a YAML file, read strictly (see ``_StrictYamlLoader``); a ``ConfigError``
    naming the file for anything else."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    if path.stat().st_size > MAX_YAML_BYTES:
        raise ConfigError(f"{path}: {path.stat().st_size:,} bytes is too large for a config "
                          f"(at most {MAX_YAML_BYTES:,})")
    try:
        return yaml.load(path.read_text(), Loader=_StrictYamlLoader)  # noqa: S506 - a SafeLoader subclass
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except (yaml.YAMLError, UnicodeDecodeError, ValueError) as exc:  # ValueError: an integer of 5,000 digits
        raise ConfigError(f"{path}: not valid YAML ({exc})".replace("\n", " ")[:400]) from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid YAML (nested too deeply for a config)") from None


def load_yaml(path: str | os.PathLike, cls: type[C]) -> C:
    """Read a YAML file into ``cls``; every problem is a ``ConfigError`` naming the file."""
    path = Path(path)
    data = read_yaml(path)
    try:
        return from_dict(cls, data, where=path.name)
    except ConfigError as exc:
        raise ConfigError(str(exc)) from None


def with_overrides(config: C, overrides: dict[str, Any]) -> C:
    """A new config with dotted-key overrides applied, e.g. ``{"distill.epochs": 3}``.

    The result goes through the same strict conversion, so a bad override is a ``ConfigError``.
    """
    data = to_dict(config)
    for dotted, value in overrides.items():
        node = data
        *parents, leaf = dotted.split(".")
        for part in parents:
            if not isinstance(node.get(part), dict):
                raise ConfigError(f"override '{dotted}': '{part}' is not a config section")
            node = node[part]
        if leaf not in node:
            hint = closest(leaf, list(node))
            extra = f"; did you mean '{hint}'?" if hint else ""
            raise ConfigError(f"override '{dotted}': unknown key{extra}")
        node[leaf] = value
    return from_dict(type(config), data)


def write_yaml_atomic(data: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write YAML atomically (temporary file, then rename)."""
    return write_text_atomic(path, yaml.safe_dump(data, sort_keys=False))


__all__ = ["from_dict", "to_dict", "load_yaml", "with_overrides", "write_yaml_atomic"]
