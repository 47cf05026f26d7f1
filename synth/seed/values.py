"""Column values for seeding: seeded Faker pools, id patterns, unique suffixes, name guesses.

Faker is slow (10-100 µs a call) and its date providers read the wall clock, so it is only
used to fill a small pool per (provider, args) from a seed derived from the world seed;
rows then sample from pools with ``random.Random``. Everything here is a pure function of
its seed: same spec + seed -> same values, in any process (no set iteration, no clock).
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import random
import re
import string
import uuid
from functools import lru_cache
from typing import Any

from engine.errors import ScaleEnvError
from engine.spec.fakerhints import provider_problem as allowed_provider_problem
from engine.spec.models import Column
from engine.spec.patterns import compile_pattern, pattern_capacity

POOL_MIN, POOL_MAX = 50, 300
ALPHA = string.ascii_uppercase
DIGITS = string.digits
_NAME_JUNK = {"MD", "DDS", "PHD", "DVM", "JR", "SR", "II", "III", "IV", "V"}


class SeedError(ScaleEnvError):
    """Seeding cannot satisfy the spec's constraints; the message names table/column/rule."""


def sub_seed(seed: int, *parts: object) -> int:
    """A stable 64-bit seed for one table/column/purpose (independent of call order)."""
    key = ":".join(str(p) for p in (seed, *parts)).encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big")


def sub_rng(seed: int, *parts: object) -> random.Random:
    return random.Random(sub_seed(seed, *parts))


# ---- patterns ------------------------------------------------------------------------------
class Pattern:
    """An id pattern (``engine.spec.patterns``: '#' digit, '?' letter, '\\' escape); values <-> integers."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._fmt, radices = compile_pattern(pattern)
        self.radices = list(radices)
        self.capacity = pattern_capacity(pattern)
        self.digits_only = all(r == 10 for r in self.radices)

    def format(self, v: int) -> str:
        if self.digits_only:
            return self._fmt.format(*f"{v:0{len(self.radices)}d}") if self.radices else self._fmt
        chars: list[str] = []
        for r in reversed(self.radices):
            v, d = divmod(v, r)
            chars.append(DIGITS[d] if r == 10 else ALPHA[d])
        return self._fmt.format(*reversed(chars))

    def draw(self, rng: random.Random, n: int, unique: bool = False) -> list[str]:
        """``n`` values; unique ones are sampled without replacement and sorted (ids ascend)."""
        if unique:
            if n > self.capacity:
                raise SeedError(f"pattern {self.pattern!r} has only {self.capacity} values")
            nums = sorted(rng.sample(range(self.capacity), n))
        else:
            cap, rnd = self.capacity, rng.random
            nums = [int(rnd() * cap) for _ in range(n)]
        fmt = self.format
        return [fmt(v) for v in nums]


# ---- Faker pools ---------------------------------------------------------------------------
_FAKER: Any = None


def _faker() -> Any:
    global _FAKER
    if _FAKER is None:
        from faker import Faker

        _FAKER = Faker("en_US")
    return _FAKER


def _plain(v: Any) -> Any:
    """Faker output as a SQLite-storable value (dates as ISO text, Decimal as float)."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, dt.datetime):
        return v.replace(microsecond=0, tzinfo=None).isoformat(sep=" ")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, int | float | str) or v is None:
        return v
    if isinstance(v, uuid.UUID):
        return str(v)
    # containers and objects have no stable text (reprs with addresses): not a column value
    raise SeedError(f"a Faker provider returned {type(v).__name__}, not a value for a column")


def provider_problem(provider: str) -> str | None:
    """Why a Faker provider cannot seed a world (the spec's allow-list decides)."""
    return allowed_provider_problem(provider)


@lru_cache(maxsize=256)
def _pool(seed: int, provider: str, args_json: str, size: int) -> tuple[Any, ...]:
    problem = provider_problem(provider)
    if problem:
        raise SeedError(problem)
    fake = _faker()
    fake.seed_instance(sub_seed(seed, "pool", provider, args_json))
    fn = getattr(fake, provider)
    args = json.loads(args_json)
    return tuple(_plain(fn(**args)) for _ in range(size))


def pool(
    seed: int, provider: str, args: dict[str, Any], n: int, max_length: int | None = None
) -> list:
    """Up to ``POOL_MAX`` values of ``provider(**args)`` from a seeded Faker (cached)."""
    size = min(POOL_MAX, max(POOL_MIN, n // 2))
    try:
        values = _pool(seed, provider, json.dumps(args, sort_keys=True, default=str), size)
    except SeedError:
        raise
    except Exception as exc:  # a provider rejecting its args
        raise SeedError(f"Faker {provider}({args}) failed: {exc}") from exc
    if max_length:
        return [
            v[:max_length].rstrip() or v[:max_length] if isinstance(v, str) else v for v in values
        ]
    return list(values)


def make_unique(values: list[Any], max_length: int | None = None) -> list[Any]:
    """Repeats get a counter suffix (``x``, ``x 2``, ``x 3`` ...; emails before the '@')."""
    seen: dict[Any, int] = {}
    out = []
    for v in values:
        if v not in seen:
            seen[v] = 1
            out.append(v)
            continue
        k = seen[v]
        while True:
            k += 1
            cand = _suffixed(v, k, max_length)
            if cand not in seen:
                break
        seen[v] = k
        seen[cand] = 1
        out.append(cand)
    return out


def _suffixed(v: Any, k: int, max_length: int | None) -> Any:
    if isinstance(v, int | float):
        return v + k * 1_000_000
    s = str(v)
    if "@" in s:
        local, _, domain = s.partition("@")
        s = f"{local}{k}@{domain}"
        return s if not max_length or len(s) <= max_length else f"{k}{s}"[-max_length:]
    sfx = f" {k}"
    if max_length and len(s) + len(sfx) > max_length:
        s = s[: max(0, max_length - len(sfx))]
    return (s + sfx)[-max_length:] if max_length else s + sfx


def emails_from_names(names: list[Any], domains: list[str], rng: random.Random) -> list[str]:
    """``mary.jones@gmail.com`` from each row's name: users can be found by their email."""
    locals_: dict[Any, str] = {}
    out = []
    rnd, nd = rng.random, len(domains)
    for name in names:
        local = locals_.get(name)
        if local is None:
            tokens = [
                re.sub(r"[^a-z]", "", t.lower())
                for t in str(name or "").split()
                if not t.endswith(".") and t.upper().strip(",") not in _NAME_JUNK
            ]
            local = locals_[name] = ".".join(t for t in tokens[:3] if t) or "user"
        out.append(f"{local}@{domains[int(rnd() * nd)]}")
    return out


# ---- what a column is, by its name ---------------------------------------------------------
_BY_TOKEN: list[tuple[frozenset[str], str]] = [
    (frozenset({"phone", "mobile", "telephone", "fax"}), "phone_number"),
    (frozenset({"city", "town"}), "city"),
    (frozenset({"address", "street"}), "street_address"),
    (frozenset({"zip", "zipcode", "postcode", "postal"}), "postcode"),
    (frozenset({"country"}), "country"),
    (frozenset({"state", "province"}), "state"),
    (frozenset({"url", "website", "homepage"}), "url"),
    (frozenset({"username", "login", "handle"}), "user_name"),
    (frozenset({"job", "occupation", "profession"}), "job"),
    (frozenset({"color", "colour"}), "color_name"),
    (frozenset({"currency"}), "currency_code"),
    (frozenset({"iban"}), "iban"),
    (frozenset({"ssn"}), "ssn"),
    (frozenset({"title", "headline", "subject", "slogan"}), "catch_phrase"),
]
_ORG = frozenset(
    {
        "company",
        "employer",
        "vendor",
        "supplier",
        "manufacturer",
        "brand",
        "merchant",
        "organization",
        "organisation",
        "bank",
        "airline",
        "carrier",
        "agency",
    }
)
_THING = frozenset(
    {
        "product",
        "item",
        "plan",
        "service",
        "hotel",
        "store",
        "shop",
        "course",
        "event",
        "project",
        "team",
        "package",
        "room",
        "menu",
        "dish",
        "book",
    }
)
_PROSE = frozenset(
    {
        "description",
        "note",
        "notes",
        "comment",
        "comments",
        "reason",
        "message",
        "summary",
        "details",
        "bio",
        "body",
        "text",
        "content",
        "remarks",
        "feedback",
        "review",
        "instructions",
    }
)
_CODE = frozenset({"code", "sku", "number", "ref", "reference", "serial", "token", "tag"})


def guess_source(cname: str, col: Column) -> tuple[str, str, dict[str, Any]]:
    """('provider', name, args) or ('pattern', pattern, {}) for a string/text column."""
    tokens = frozenset(cname.lower().split("_"))
    if "email" in tokens or cname.lower().endswith("email"):
        return "provider", "email", {}
    if cname in ("first_name", "given_name", "firstname", "forename"):
        return "provider", "first_name", {}
    if cname in ("last_name", "surname", "family_name", "lastname"):
        return "provider", "last_name", {}
    if "name" in tokens or cname.lower().endswith("name"):
        if tokens & _ORG:
            return "provider", "company", {}
        if tokens & _THING:
            return "provider", "catch_phrase", {}
        return "provider", "name", {}
    if tokens & _ORG:
        return "provider", "company", {}
    for keys, provider in _BY_TOKEN:
        if tokens & keys:
            return "provider", provider, {}
    if col.type == "text" or tokens & _PROSE:
        return "provider", "sentence", {}
    if tokens & _CODE:
        return "pattern", "??####", {}
    return "provider", "word", {}
