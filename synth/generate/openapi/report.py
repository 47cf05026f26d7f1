"""The explained compile report: every operation compiled (to which tool) or skipped (why),
and every schema field left out of its table (why). Nothing is dropped silently."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from synth.generate.openapi.model import CRUD_KINDS


@dataclass
class OpOutcome:
    op_id: str
    kind: str  # list/get/... or "other" for what the reader could not place
    where: str
    tool: str | None = None
    reason: str | None = None


@dataclass
class FieldOutcome:
    table: str
    field: str
    where: str
    reason: str


@dataclass
class CompileReport:
    api: str
    source: str
    tables: list[str] = field(default_factory=list)
    operations: list[OpOutcome] = field(default_factory=list)
    fields: list[FieldOutcome] = field(default_factory=list)

    @property
    def compiled(self) -> list[OpOutcome]:
        return [o for o in self.operations if o.tool]

    @property
    def skipped(self) -> list[OpOutcome]:
        return [o for o in self.operations if not o.tool]

    def crud(self) -> tuple[int, int]:
        """(CRUD operations compiled to tools, CRUD operations in the document)."""
        ops = [o for o in self.operations if o.kind in CRUD_KINDS]
        return sum(1 for o in ops if o.tool), len(ops)

    def to_dict(self) -> dict[str, Any]:
        done, total = self.crud()
        return {
            "api": self.api,
            "source": self.source,
            "tables": self.tables,
            "operations_compiled": len(self.compiled),
            "operations_skipped": len(self.skipped),
            "crud_compiled": done,
            "crud_total": total,
            "operations": [asdict(o) for o in self.operations],
            "fields_left_out": [asdict(f) for f in self.fields],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n"

    def summary_line(self) -> str:
        done, total = self.crud()
        return (
            f"{self.api}: {len(self.tables)} tables, {len(self.compiled)} operations compiled, "
            f"{len(self.skipped)} skipped (CRUD {done}/{total}), {len(self.fields)} fields left out"
        )

    def lines(self) -> list[str]:
        """One line per operation, then per field left out: the explained report."""
        out = [self.summary_line()]
        for o in self.operations:
            if o.tool:
                out.append(f"  compiled {o.op_id} ({o.kind}) -> {o.tool}")
            else:
                out.append(f"  skipped  {o.op_id} ({o.kind}) at {o.where}: {o.reason}")
        for f in self.fields:
            out.append(f"  field    {f.table}.{f.field} at {f.where}: {f.reason}")
        return out
