"""Start patches whose rows trade unique values: applied in any order they are written."""

from __future__ import annotations

import pytest

from engine.errors import TaskError
from engine.spec.task import RowChange, Task
from engine.world import World


def _email(world: World, cid: str, email: str) -> RowChange:
    s = world.session()
    cur = s.conn.execute("SELECT * FROM customers WHERE customer_id = ?", [cid])
    row = dict(zip([d[0] for d in cur.description], cur.fetchone(), strict=True))
    return RowChange(
        table="customers", key={"customer_id": cid}, before=row, after={**row, "email": email}
    )


def test_a_value_taken_before_it_is_given_up_is_applied(tiny_world: World) -> None:
    # Ann takes Bob's address and Bob moves to a new one: in patch order Ann's row comes
    # first, while Bob still holds the address (a sequence of calls did it the other way)
    patch = [_email(tiny_world, "C0001", "bob@example.com"),
             _email(tiny_world, "C0002", "bob2@example.com")]  # fmt: skip
    task = Task.model_construct(id="t-trade", domain=tiny_world.spec.name, start_patch=patch)
    s = tiny_world.session()
    s.reset(task)
    got = dict(s.conn.execute("SELECT customer_id, email FROM customers"))
    assert got["C0001"] == "bob@example.com" and got["C0002"] == "bob2@example.com"
    s.reset()
    assert dict(s.conn.execute("SELECT customer_id, email FROM customers"))["C0001"] == (
        "ann@example.com"
    )


def test_a_patch_that_breaks_a_unique_value_is_refused_and_nothing_applied(
    tiny_world: World,
) -> None:
    patch = [_email(tiny_world, "C0001", "cy@example.com")]
    task = Task.model_construct(id="t-dup", domain=tiny_world.spec.name, start_patch=patch)
    s = tiny_world.session()
    before = s.conn.execute("SELECT * FROM customers ORDER BY customer_id").fetchall()
    with pytest.raises(TaskError, match=r"start_patch\[0\] on customers .*UNIQUE"):
        s.reset(task)
    s.reset()
    assert s.conn.execute("SELECT * FROM customers ORDER BY customer_id").fetchall() == before


def test_a_rowid_reused_by_another_key_is_a_delete_and_an_insert(tiny_world: World) -> None:
    # every payment deleted, then a new one: SQLite gives it rowid 1 again. The change log
    # is by rowid; the changes must say "PAY00001 gone, PAY09999 new", not "PAY00001 became
    # PAY09999" (a start patch made of that kept PAY00001 and broke its foreign keys)
    s = tiny_world.session()
    s.guard.internal()
    s.conn.execute("BEGIN")
    s.conn.execute("DELETE FROM payments")
    s.conn.execute("INSERT INTO payments VALUES ('PAY09999', '#W0001', 'card', 39.0)")
    s.conn.execute("COMMIT")
    changes = s.changes()
    for ch in changes:
        if ch.after is not None:
            assert ch.after["payment_id"] == ch.key["payment_id"], ch
    keys = {(ch.key["payment_id"], ch.after is None) for ch in changes}
    assert ("PAY00001", True) in keys and ("PAY09999", False) in keys
    task = Task.model_construct(id="t-reuse", domain=tiny_world.spec.name, start_patch=changes)
    fresh = tiny_world.session()
    fresh.reset(task)
    got = fresh.conn.execute("SELECT payment_id FROM payments ORDER BY payment_id").fetchall()
    assert got == [("PAY09999",)]
