"""Explicit name -> object registries filled by a decorator.

A duplicate name is an error at import time; an unknown name raises a ``RegistryError`` listing
the valid names and the closest match.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from dfard_pipeline.errors import RegistryError

T = TypeVar("T")


def closest(name: str, choices: list[str]) -> str | None:
    """The most similar of ``choices`` to ``name``, or None when nothing is close."""
    matches = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    return matches[0] if matches else None


def unknown_name_message(kind: str, name: str, choices: list[str]) -> str:
    hint = closest(name, choices)
    did_you_mean = f" Did you mean '{hint}'?" if hint else ""
    return f"unknown {kind} '{name}'.{did_you_mean} Valid: {', '.join(sorted(choices))}."


class Registry(Generic[T]):
    """A named collection of factories, e.g. models, attacks, ITA rules."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str | None = None) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            key = name or obj.__name__
            if key in self._entries:
                raise RegistryError(f"duplicate {self.kind} name '{key}'")
            self._entries[key] = obj
            return obj

        return decorator

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise RegistryError(unknown_name_message(self.kind, name, list(self._entries))) from None

    def names(self, pattern: str = "*") -> list[str]:
        return sorted(n for n in self._entries if fnmatch.fnmatch(n, pattern))

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
