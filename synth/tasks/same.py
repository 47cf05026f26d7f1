"""When two stored values are the same value (1 and '1' as ids, amounts at the cent), and a
set that answers it in O(1): what the user can say is deduplicated by it on every read."""

from __future__ import annotations

import math
from typing import Any


def same(a: Any, b: Any) -> bool:
    """Equal as stored values (1 == '1' as ids; floats at cents)."""
    if a == b:
        return True
    if isinstance(a, int | float) and isinstance(b, int | float):
        return abs(float(a) - float(b)) < 0.005
    return str(a) == str(b)


class SameSet:
    """Scalar values, asked "is one of them ``same`` as x?" in O(1) instead of a scan: equal
    values, equal texts, and numbers in the neighbouring half-cent buckets."""

    def __init__(self) -> None:
        self._eq: set[Any] = set()
        self._text: set[str] = set()
        self._num: dict[int, list[float]] = {}

    @staticmethod
    def _bucket(x: Any) -> int | None:
        if not isinstance(x, int | float):
            return None
        try:
            return math.floor(float(x) * 200)
        except (OverflowError, ValueError):  # inf, nan, huge ints: equality and text decide
            return None

    def add(self, x: Any) -> None:
        self._eq.add(x)
        self._text.add(str(x))
        b = self._bucket(x)
        if b is not None:
            self._num.setdefault(b, []).append(float(x))

    def __contains__(self, x: Any) -> bool:
        if x in self._eq or str(x) in self._text:
            return True
        b = self._bucket(x)
        if b is None:
            return False
        f = float(x)
        return any(abs(f - y) < 0.005 for k in (b - 1, b, b + 1) for y in self._num.get(k, ()))

    def copy(self) -> SameSet:
        out = SameSet()
        out._eq, out._text = set(self._eq), set(self._text)
        out._num = {k: list(v) for k, v in self._num.items()}
        return out
