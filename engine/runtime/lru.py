"""A memo with a fixed number of entries, least recently used dropped first.

Why: a generation run makes thousands of tasks, and a memo that keeps every start patch,
digest or lookup it ever made grows with the number of tasks (issue 21: memory flat in the
number of tasks). Entries are only ever a shortcut for a value that can be made again from
its key, so dropping one changes what is recomputed, never a result.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar, overload

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
D = TypeVar("D")
_MISSING = object()


class Lru(Generic[K, V]):
    """At most ``limit`` entries; a read or a write makes an entry the most recent."""

    __slots__ = ("limit", "_data")

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"Lru limit must be at least 1, got {limit}")
        self.limit = limit
        self._data: OrderedDict[K, V] = OrderedDict()

    @overload
    def get(self, key: K) -> V | None: ...
    @overload
    def get(self, key: K, default: D) -> V | D: ...
    def get(self, key: K, default: object = None) -> object:
        value = self._data.get(key, _MISSING)
        if value is _MISSING:
            return default
        self._data.move_to_end(key)
        return value

    def __getitem__(self, key: K) -> V:
        value = self._data[key]
        self._data.move_to_end(key)
        return value

    def __setitem__(self, key: K, value: V) -> None:
        data = self._data
        data[key] = value
        data.move_to_end(key)
        self._trim()

    def resize(self, limit: int) -> None:
        """A new ``limit``; the least recently used entries past it are dropped now."""
        if limit < 1:
            raise ValueError(f"Lru limit must be at least 1, got {limit}")
        self.limit = limit
        self._trim()

    def _trim(self) -> None:
        data = self._data
        while len(data) > self.limit:
            data.popitem(last=False)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        self._data.clear()
