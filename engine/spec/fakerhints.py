"""Faker hints are data, checked before any build: a provider from an allow-list and bounded
arguments, so a hint can neither change Faker's global state for the next build nor ask for
gigabytes (``digits=5000``, ``length=2e7``).

The allow-list is every public data method of Faker's en_US providers, minus methods that
seed or reconfigure Faker, produce files or blobs, or read the wall clock.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

MAX_NUMBER = 1_000  # any numeric argument (digits, length, max_chars, nb ...)
MAX_TEXT = 200  # any text argument
MAX_ITEMS = 100  # any list argument
MAX_ARGS_JSON = 2_000  # all arguments of one hint, as JSON
MAX_CHOICES = 10_000

CLOCK = re.compile(
    r"^(date|date_.*|.*_date|time|time_.*|.*_time|datetime.*|future_.*|past_.*|unix_time|"
    r"iso8601|year|month|month_name|day_of_.*|century|timezone|pytimezone)$"
)
_DENY = re.compile(
    r"^(seed.*|.*_arguments|add_provider|get_providers|provider|providers|format|parse|"
    r"set_formatter|get_formatter|generator_attrs|random|binary|image|zip|tar|json|json_bytes|"
    r"csv|tsv|psv|dsv|xml|fixed_width|enum|py(iterable|list|set|tuple|dict|struct|object)|"
    r"profile|simple_profile|items|tld_pool|local_latlng|location_on_land|latlng)$"
)


@lru_cache(maxsize=1)
def allowed_providers() -> frozenset[str]:
    """The Faker methods a hint may name (computed once from the installed Faker)."""
    from faker import Faker  # lazy: Faker takes a while to import and only hints need it

    fake = Faker("en_US")
    names: set[str] = set()
    for provider in fake.get_providers():
        for name in dir(provider):
            if name.startswith("_") or _DENY.match(name) or CLOCK.match(name):
                continue
            if callable(getattr(provider, name, None)):
                names.add(name)
    return frozenset(names)


def _bounded(value: Any, where: str) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        if not abs(value) <= MAX_NUMBER:  # also refuses NaN
            return f"{where}: {value!r} is out of bounds (at most {MAX_NUMBER} in size)"
        return None
    if isinstance(value, str):
        return f"{where}: longer than {MAX_TEXT} characters" if len(value) > MAX_TEXT else None
    if isinstance(value, list):
        if len(value) > MAX_ITEMS:
            return f"{where}: more than {MAX_ITEMS} items"
        return next((p for i, v in enumerate(value) if (p := _bounded(v, f"{where}[{i}]"))), None)
    return f"{where}: {type(value).__name__} is not plain data"


def provider_problem(provider: str) -> str | None:
    """Why ``provider`` cannot seed a world (None: it can)."""
    if CLOCK.match(provider):
        return (
            f"Faker provider {provider!r} reads the wall clock (worlds must not depend on the "
            "day they are built): give the column min_value/max_value instead"
        )
    if provider not in allowed_providers():
        return f"{provider!r} is not an allowed Faker provider (data methods of en_US only)"
    return None


def hint_problems(
    provider: str | None, args: dict[str, Any], choices: list[Any] | None
) -> list[tuple[str, str]]:
    """(field, message) for every problem of one hint; empty when it is safe to run."""
    out: list[tuple[str, str]] = []
    if provider is not None:
        problem = provider_problem(provider)
        if problem:
            out.append(("provider", problem))
    try:
        size = len(json.dumps(args, allow_nan=False))
    except (TypeError, ValueError):
        size = MAX_ARGS_JSON + 1
    if size > MAX_ARGS_JSON:
        out.append(("args", f"arguments must be plain data under {MAX_ARGS_JSON} characters"))
    else:
        for key, value in sorted(args.items()):
            problem = _bounded(value, key)
            if problem:
                out.append(("args", problem))
    if choices is not None and len(choices) > MAX_CHOICES:
        out.append(("choices", f"more than {MAX_CHOICES} choices"))
    return out
