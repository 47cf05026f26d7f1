"""Alembic revision files from two versions of a spec: diff their metadata, render Python.

Autogenerate needs a live database and misses CHECK changes (an enum widened is a new
``ck_<table>_<col>_enum`` and a longer VARCHAR), so the diff is done here between two
``MetaData`` built by ``engine.spec.metadata`` with every constraint named, and Alembic only
renders the operations. Revision ids hash the previous id and the new schema, and files
carry no dates: the same chain of specs gives byte-identical files.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from alembic.autogenerate import render_python_code
from alembic.operations import ops

from engine.errors import ScaleEnvError
from engine.spec.metadata import build_metadata, sqlite_ddl
from engine.spec.models import DomainSpec


class MigrationError(ScaleEnvError):
    """A spec change cannot be turned into a migration, or a migration failed."""


VERSIONS_DIR = "migrations/versions/"
_FILE_RE = re.compile(r"^migrations/versions/(\d{4})_(\w+)\.py$")

_TEMPLATE = '''"""{title}

{changes}
"""

import sqlalchemy as sa
from alembic import op

revision = "{rev}"
down_revision = {down}
branch_labels = None
depends_on = None
schema_digest = "{schema}"


def upgrade() -> None:
    {upgrade}


def downgrade() -> None:
    {downgrade}
'''


@dataclass(frozen=True)
class Revision:
    """One revision file of a chain, as parsed from its text."""

    path: str
    number: int
    rev: str
    down: str | None
    schema: str


def schema_digest(spec: DomainSpec) -> str:
    """SHA-256 of the spec's SQLite DDL: what the database looks like, nothing else."""
    return hashlib.sha256("\n".join(sqlite_ddl(spec)).encode()).hexdigest()


def parse_chain(files: Mapping[str, bytes]) -> list[Revision]:
    """The revision files among ``files``, root first; refuses a broken or branched chain."""
    revs: list[Revision] = []
    for rel, data in files.items():
        m = _FILE_RE.match(rel)
        if not m:
            continue
        text = data.decode("utf-8")
        rev = re.search(r'^revision = "(\w+)"$', text, re.M)
        down = re.search(r'^down_revision = (?:None|"(\w+)")$', text, re.M)
        schema = re.search(r'^schema_digest = "(\w+)"$', text, re.M)
        if not (rev and down and schema):
            raise MigrationError(f"{rel}: not a scaleenv revision file")
        revs.append(Revision(rel, int(m.group(1)), rev.group(1), down.group(1), schema.group(1)))
    revs.sort(key=lambda r: r.number)
    prev: str | None = None
    for i, r in enumerate(revs, start=1):
        if r.number != i or r.down != prev:
            raise MigrationError(f"{r.path}: breaks the chain (expected #{i} after {prev})")
        prev = r.rev
    return revs


def _metadata(spec: DomainSpec | None) -> sa.MetaData:
    """``build_metadata`` with boolean defaults as ``sa.true()``/``sa.false()``.

    ``engine.spec.metadata`` writes them as ``1``/``0``, which PostgreSQL refuses for a BOOLEAN;
    the expressions compile to ``1``/``0`` on SQLite (same DDL) and ``true``/``false`` there.
    """
    if spec is None:
        return sa.MetaData()
    md = build_metadata(spec)
    for table in md.tables.values():
        for col in table.columns:
            if isinstance(col.type, sa.Boolean) and col.server_default is not None:
                flag = str(col.server_default.arg) not in ("0", "false")  # type: ignore[attr-defined]
                col.server_default = sa.DefaultClause(sa.true() if flag else sa.false())
    return md


def _render_item(kind: str, obj: object, ctx: object) -> str | bool:
    """Render boolean server defaults as ``sa.true()``/``sa.false()`` (portable)."""
    arg = obj.arg if isinstance(obj, sa.DefaultClause) else obj  # type: ignore[attr-defined]
    if kind == "server_default" and isinstance(arg, sa.sql.elements.True_ | sa.sql.elements.False_):
        return "sa.true()" if isinstance(arg, sa.sql.elements.True_) else "sa.false()"
    return False


def _default_sql(col: sa.Column) -> str | None:
    if col.server_default is None:
        return None
    arg = col.server_default.arg  # type: ignore[attr-defined]
    return "'" + arg.replace("'", "''") + "'" if isinstance(arg, str) else str(arg)


def _fill_sql(spec: DomainSpec, table: str, name: str, strict: bool = True) -> str | None:
    """A value that lets a NOT NULL column without default be added to a table with rows.

    Strict: None when no value is known to be safe (the column has a check, is unique or
    references a table). Not strict (downgrades re-adding a dropped column): a guess that
    the database may still refuse, which beats refusing to write the downgrade.
    """
    col = spec.entities[table].columns[name]
    if col.primary_key or (strict and (col.check or col.unique or col.references)):
        return None
    if col.type == "boolean":
        return "false"  # a keyword on both SQLite (0) and PostgreSQL
    literal = {
        "string": "",
        "text": "",
        "integer": 0,
        "decimal": 0,
        "date": spec.now[:10],
        "datetime": spec.now,
        "enum": (col.values or [""])[0],
    }[col.type]
    return str(literal) if isinstance(literal, int) else "'" + literal.replace("'", "''") + "'"


def _plain_column(col: sa.Column, server_default: str | None) -> sa.Column:
    """A copy without constraints: FKs and checks are added as named constraints."""
    default = None if server_default is None else sa.text(server_default)
    if isinstance(col.type, sa.Boolean) and server_default in ("true", "false"):
        default = sa.true() if server_default == "true" else sa.false()
    return sa.Column(col.name, col.type, nullable=col.nullable, server_default=default)


def _signature(c: sa.Constraint | sa.Index) -> tuple:
    cols = tuple(col.name for col in c.columns)  # type: ignore[attr-defined]
    if isinstance(c, sa.CheckConstraint):
        return ("check", str(c.sqltext))
    if isinstance(c, sa.ForeignKeyConstraint):
        targets = tuple(e.target_fullname for e in c.elements)
        return ("fk", cols, targets, c.ondelete, c.onupdate)
    if isinstance(c, sa.Index):
        return ("index", cols, bool(c.unique))
    return (type(c).__name__, cols)


def _named(table: sa.Table) -> dict[str, sa.Constraint]:
    return {str(c.name): c for c in table.constraints if c.name is not None}


def _table_ops(
    old: sa.Table, new: sa.Table, spec: DomainSpec, strict: bool, notes: list[str]
) -> list[ops.MigrateOperation]:
    """Operations turning ``old`` into ``new`` (same name); ``spec`` describes ``new``."""
    t = new.name
    drops: list[ops.MigrateOperation] = []
    alters: list[ops.MigrateOperation] = []
    adds: list[ops.MigrateOperation] = []
    creates: list[ops.MigrateOperation] = []
    after: list[ops.MigrateOperation] = []
    before: list[ops.MigrateOperation] = []
    constraint_notes: list[str] = []
    old_c, new_c = _named(old), _named(new)
    for name in sorted(set(old_c) | set(new_c)):
        a, b = old_c.get(name), new_c.get(name)
        if a is not None and b is not None and _signature(a) == _signature(b):
            continue
        if isinstance(a or b, sa.PrimaryKeyConstraint):
            raise MigrationError(f"{t}: changing the primary key is not supported")
        if a is not None:
            drops.append(ops.DropConstraintOp.from_constraint(a))
        if b is not None:
            creates.append(ops.AddConstraintOp.from_constraint(b))
        constraint_notes.append(
            f"{'replace' if a is not None and b is not None else 'add' if b is not None else 'drop'} constraint {name}"
        )
    old_i = {str(i.name): i for i in old.indexes}
    new_i = {str(i.name): i for i in new.indexes}
    for name in sorted(set(old_i) | set(new_i)):
        a, b = old_i.get(name), new_i.get(name)
        if a is not None and b is not None and _signature(a) == _signature(b):
            continue
        if a is not None:
            drops.insert(0, ops.DropIndexOp.from_index(a))
        if b is not None:
            creates.append(ops.CreateIndexOp.from_index(b))
    for col in old.columns:
        if col.name not in new.c:
            alters.append(ops.DropColumnOp.from_column_and_tablename(None, t, col))
            notes.append(f"drop column {t}.{col.name}")
    for col in new.columns:
        if col.name in old.c:
            continue
        default, fill = _default_sql(col), None
        if not col.nullable and default is None:
            fill = _fill_sql(spec, t, col.name, strict)
            if fill is None and strict:
                raise MigrationError(
                    f"{t}.{col.name}: a NOT NULL column added to an existing table needs a "
                    "default (or make it nullable)"
                )
        adds.append(
            ops.AddColumnOp.from_column_and_tablename(None, t, _plain_column(col, default or fill))
        )
        if fill is not None:  # rows got the fill value; the column itself has no default
            after.append(
                ops.AlterColumnOp(
                    t,
                    col.name,
                    existing_type=col.type,
                    existing_nullable=False,
                    modify_server_default=None,
                )
            )
        notes.append(f"add column {t}.{col.name}")
    for col in new.columns:
        if col.name not in old.c:
            continue
        was = old.c[col.name]
        kw: dict = {}
        if repr(was.type) != repr(col.type):
            kw["modify_type"] = col.type
        if was.nullable != col.nullable:
            kw["modify_nullable"] = col.nullable
            fill = _default_sql(col) or _fill_sql(spec, t, col.name, strict)
            if not col.nullable and fill is not None:
                before.append(
                    ops.ExecuteSQLOp(
                        f'UPDATE "{t}" SET "{col.name}" = {fill} WHERE "{col.name}" IS NULL'
                    )
                )
        if _default_sql(was) != _default_sql(col):
            kw["modify_server_default"] = col.server_default  # a DefaultClause renders right
        if kw:
            alters.append(
                ops.AlterColumnOp(
                    t, col.name, existing_type=was.type, existing_nullable=was.nullable, **kw
                )
            )
            notes.append(f"alter column {t}.{col.name} ({', '.join(k[7:] for k in kw)})")
    notes.extend(constraint_notes)
    out: list[ops.MigrateOperation] = list(before)
    body = drops + alters + adds + creates
    if body:
        out.append(ops.ModifyTableOps(t, body))
    if after:
        out.append(ops.ModifyTableOps(t, after))
    return out


def diff_ops(
    old: DomainSpec | None, new: DomainSpec, strict: bool = True
) -> tuple[list[ops.MigrateOperation], list[str]]:
    """Operations that turn ``old``'s schema (None: empty database) into ``new``'s.

    Order: create new tables (parents first), modify kept tables, drop removed tables
    (children first). ``strict`` refuses a NOT NULL column no value can fill.
    """
    old_md, new_md = _metadata(old), _metadata(new)
    result: list[ops.MigrateOperation] = []
    notes: list[str] = []
    for table in new_md.sorted_tables:
        if table.name in old_md.tables:
            continue
        result.append(ops.CreateTableOp.from_table(table))
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            result.append(ops.CreateIndexOp.from_index(index))
        notes.append(f"create table {table.name}")
    for table in new_md.sorted_tables:
        if table.name in old_md.tables:
            result.extend(_table_ops(old_md.tables[table.name], table, new, strict, notes))
    for table in reversed(old_md.sorted_tables):
        if table.name not in new_md.tables:
            result.append(ops.DropTableOp.from_table(table))
            notes.append(f"drop table {table.name}")
    return result, notes


def _body(op_list: list[ops.MigrateOperation]) -> str:
    code = render_python_code(
        ops.UpgradeOps(ops=op_list), render_as_batch=True, render_item=_render_item
    )
    lines = [ln.removeprefix("    ").rstrip() for ln in code.splitlines()]
    return "\n    ".join(ln for ln in lines if ln and not ln.startswith("# ###")) or "pass"


def render_revision(
    number: int, down: str | None, old: DomainSpec | None, new: DomainSpec
) -> tuple[str, bytes]:
    """The relative path and bytes of the revision from ``old`` (None: empty) to ``new``."""
    digest = schema_digest(new)
    rev = hashlib.sha256(f"{down or ''}:{digest}".encode()).hexdigest()[:12]
    up, notes = diff_ops(old, new, strict=True)
    if not up:
        raise MigrationError(f"{new.name}: the schema did not change; no revision to make")
    down_ops, _ = diff_ops(new, old, strict=False) if old is not None else (None, None)
    if old is None:
        md = _metadata(new)
        down_ops = [ops.DropTableOp.from_table(t) for t in reversed(md.sorted_tables)]
    more = f" (+{len(notes) - 1} more)" if len(notes) > 1 else ""
    title = f"{new.name}: {'initial schema' if old is None else notes[0] + more}"
    text = _TEMPLATE.format(
        title=title,
        changes="\n".join(f"- {n}" for n in notes),
        rev=rev,
        down="None" if down is None else f'"{down}"',
        schema=digest,
        upgrade=_body(up),
        downgrade=_body(down_ops or []),
    )
    return f"{VERSIONS_DIR}{number:04d}_{rev}.py", text.encode()


def stub_revision(rev: Revision) -> bytes:
    """A stand-in for a revision file that came with a world: the same ids, and a body that
    refuses to run. A world's Python is data: only revisions made in this process run."""
    refuse = f'raise RuntimeError("revision {rev.rev} came with the world and is never run")'
    return _TEMPLATE.format(
        title=f"revision {rev.rev} (stand-in)",
        changes="- carried by the world; not executed",
        rev=rev.rev,
        down="None" if rev.down is None else f'"{rev.down}"',
        schema=rev.schema,
        upgrade=refuse,
        downgrade=refuse,
    ).encode()
