"""The state shared while one journey's tick query is built: its CTEs, in order, and its output records.

Every part of the generator (skeleton, entries, exits, node handlers, outcomes, goals) adds CTEs and records
through this one object, so the pieces stay independent modules and the query is assembled in one place.
"""

from __future__ import annotations

from sqlglot import exp

from journey_compiler.config.project import Project
from journey_compiler.ir import JourneyPlan
from journey_compiler.sqlgen.ast import col, lit
from journey_compiler.sqlgen.records import record_select
from journey_compiler.sqlgen.relations import ref
from journey_compiler.sqlgen.segments import SegmentSql

KNOWN_EVENTS = "known_events"
"""The CTE of the events this tick may see (event time and load both by the tick)."""


def tick_col(name: str) -> exp.Column:
    """A column of the one-row `tick` CTE (tick_at, watermark, previous_tick_at, horizon)."""
    return col(name, "tick")


class TickSql:
    def __init__(self, plan: JourneyPlan, project: Project) -> None:
        self.plan = plan
        self.project = project
        self.ctes: list[tuple[str, exp.Expression]] = []
        self.records: list[exp.Select] = []
        self.segments = SegmentSql(
            project, exp.to_table(KNOWN_EVENTS), ref("stg_raw__profiles"), ref("int_profile_tags")
        )

    def cte(self, name: str, query: exp.Expression) -> str:
        self.ctes.append((name, query))
        return name

    def record(
        self,
        source: str | exp.Expression,
        where: exp.Expression | None,
        values: dict[str, exp.Expression],
        joins: tuple[tuple[exp.Expression, exp.Expression], ...] = (),
    ) -> None:
        """Add one kind of output row, selected from `source` (a CTE name or an aliased CTE)."""
        base = {
            "tick_at": tick_col("tick_at"),
            "journey_id": lit(self.plan.id),
            "version": lit(self.plan.version),
        }
        query = exp.select(*record_select(base | values)).from_(source).join("tick", join_type="cross")
        for table, on in joins:
            query = query.join(table, on=on, join_type="left")
        self.records.append(query.where(where) if where is not None else query)
