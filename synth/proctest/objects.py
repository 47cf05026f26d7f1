"""Values for ``object`` params and arrays of objects (tau2's passengers, flights, payments).

A valid object gets each required field (and some optional ones) drawn like a param of
its own: an enum member, a value from the field's ``references`` column, else a plain
value of its type. The fields of one object and the objects of one array are drawn with
the rows already chosen for the call, so a flight's date is one of that flight's dates and
a payment method is one of the call's user. Lineage the SQL suggests for the whole param
(the column ``json_each(:param)`` is compared with) is ignored: it is not the lineage of
an object. ``synth.proctest.casegen.Sampler`` calls in here for these params.

Amounts in objects often must add up to a total the tool computes (tau2's payments must
equal the booking's price): ``settle`` sometimes rewrites a numeric field of the objects so
that they sum to one of the numbers the tool's lets compute for the drawn call.
"""

from __future__ import annotations

import random
import sqlite3
from typing import TYPE_CHECKING, Any

from engine.runtime.argcheck import ArgError
from engine.runtime.call import prepare_call
from engine.spec.models import Param

if TYPE_CHECKING:
    from engine.session import Session
    from synth.proctest.casegen import Sampler


def is_objects(p: Param) -> bool:
    """An object param, or an array of objects."""
    return p.type == "object" or (
        p.type == "array" and p.items is not None and p.items.type == "object"
    )


def _fields(
    sampler: Sampler, p: Param, chosen: list, rng: random.Random, generic: bool
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for fname, field in (p.properties or {}).items():
        if not field.required and rng.random() < 0.5:
            continue
        if generic:
            v = sampler.generic(field, rng)
        else:
            refs = [(field.references, "cmp")] if field.references else []
            v = sampler.value(field, refs, chosen, rng, 1)
        out[fname] = v
    return out


def object_value(
    sampler: Sampler, p: Param, chosen: list, rng: random.Random, n: int, generic: bool = False
) -> Any:
    """A valid value of an object param (a dict) or an array of objects (a list of dicts,
    ``n`` of them within the array's limits); ``generic`` draws no row values."""
    if p.type == "object":
        return _fields(sampler, p, chosen, rng, generic)
    assert p.items is not None
    k = max(p.min_items or 1, min(n, p.max_items or n))
    return [_fields(sampler, p.items, chosen, rng, generic) for _ in range(k)]


def let_numbers(s: Session, name: str, args: dict[str, Any]) -> list[int | float]:
    """The numbers the tool's lets compute for ``args`` on the session's current state (none
    when the call cannot be prepared): the totals amounts may have to add up to. Shared with
    task drawing (``synth.tasks.object_rows``)."""
    pt = s.prepared(name)
    if pt is None or not pt.lets:
        return []
    try:
        binds, _ = prepare_call(
            s.conn, pt, pt.validate(args), s.spec.now, s.spec.name, preconditions=False
        )
    except (ArgError, sqlite3.Error, OverflowError, ValueError):
        return []
    nums = [binds[n] for n, _ in pt.lets]
    return [v for v in nums if type(v) in (int, float)]


def amount_fields(items: Param) -> list[str]:
    """The numeric fields of an object that reference no column: amounts a call chooses."""
    return [
        f for f, fp in (items.properties or {}).items()
        if fp.type in ("integer", "number") and not fp.references
    ]  # fmt: skip


def settled(
    items: list[Any], field: str, target: int | float, integer: bool
) -> list[dict[str, Any]] | None:
    """``items`` with ``field`` of the first object set so that the field adds up to
    ``target`` over all of them (None: the remainder is not a whole number where it must be)."""
    if not items or not isinstance(items[0], dict):
        return None
    rest = sum(x.get(field) or 0 for x in items[1:] if isinstance(x, dict))
    first = target - rest
    if integer:
        if first != int(first):
            return None
        first = int(first)
    return [{**items[0], field: first}, *items[1:]]


def settle(sampler: Sampler, name: str, args: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """``args`` where, half of the time, one numeric field of an array of objects is made to
    add up to a number the tool's lets compute (the first object takes the remainder)."""
    tool = sampler.spec.tools[name]
    for pname, p in tool.params.items():
        items = args.get(pname)
        if not (is_objects(p) and p.type == "array" and isinstance(items, list) and items):
            continue
        assert p.items is not None
        numeric = amount_fields(p.items)
        if not numeric or rng.random() < 0.5:
            continue
        targets = let_numbers(sampler.s, name, args)
        if not targets:
            continue
        field, target = rng.choice(numeric), rng.choice(targets)
        props = p.items.properties or {}
        integer = field in props and props[field].type == "integer"
        new = settled(items, field, target, integer)
        if new is not None:
            args = {**args, pname: new}
    return args
