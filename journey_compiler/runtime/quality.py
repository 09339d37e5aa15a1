"""What the data-quality log (journeys.rejected_rows, written by every tick) says, per raw table: rows kept
out now, rows used after a repair, and what the latest tick listed. The CLI prints it after a tick; a Dagster
asset check warns with it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlglot import exp

from journey_compiler.runtime.lock import open_warehouse
from journey_compiler.warehouse.dialect import DUCKDB
from journey_compiler.warehouse.tables import CONTROL_SCHEMA

REJECTED_ROWS = f"{CONTROL_SCHEMA}.rejected_rows"


@dataclass(frozen=True)
class TableQuality:
    rejected: int
    """Rows kept out of the ticks now (rejected and not admitted since)."""
    repaired: int
    listed_last_tick: int


@dataclass(frozen=True)
class QualityReport:
    tables: dict[str, TableQuality] = field(default_factory=dict)

    @property
    def rejected(self) -> int:
        return sum(t.rejected for t in self.tables.values())

    @property
    def listed_last_tick(self) -> int:
        return sum(t.listed_last_tick for t in self.tables.values())

    def line(self) -> str:
        """One line for people: what is kept out and where to look."""
        parts = [f"{t.rejected} in {name}" for name, t in sorted(self.tables.items()) if t.rejected]
        return (
            f"{self.rejected} raw rows kept out of the ticks ({', '.join(parts)}); "
            f"why: select * from {REJECTED_ROWS}"
        )


def _summary() -> exp.Select:
    log = exp.to_table(REJECTED_ROWS)
    last_tick = exp.select(exp.func("MAX", exp.column("tick_at"))).from_(log.copy())
    latest = exp.select(
        "source_table",
        "row_key",
        exp.alias_(exp.func("ARG_MAX", exp.column("status"), exp.column("tick_at")), "status"),
        exp.alias_(exp.func("MAX", exp.column("tick_at")).eq(last_tick.subquery()), "last_tick"),
    ).from_(log.copy())
    latest = latest.group_by("source_table", "row_key")

    def count_if(condition: exp.Expression, name: str) -> exp.Expression:
        return exp.alias_(exp.func("COUNT_IF", condition), name)

    return (
        exp.select(
            "source_table",
            count_if(exp.column("status").eq(exp.Literal.string("rejected")), "rejected"),
            count_if(exp.column("status").eq(exp.Literal.string("repaired")), "repaired"),
            count_if(exp.column("last_tick"), "listed_last_tick"),
        )
        .from_(latest.subquery("latest"))
        .group_by("source_table")
    )


def quality_report(warehouse: Path, target: str = DUCKDB) -> QualityReport:
    """The log's state per raw table; empty before the first tick wrote it."""
    schema, table = REJECTED_ROWS.split(".")
    with open_warehouse(warehouse, target) as con:
        if table not in con.tables(schema):
            return QualityReport()
        rows = con.execute(_summary()).fetchall()
    return QualityReport({table: TableQuality(*counts) for table, *counts in rows})
