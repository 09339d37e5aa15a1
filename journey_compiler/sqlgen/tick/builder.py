"""The state shared while one journey's tick query is built: its CTEs, in order, and its output records.

Every part of the generator (skeleton, entries, exits, node handlers, outcomes, goals) adds CTEs and records
through this one object, so the pieces stay independent modules and the query is assembled in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlglot import exp

from journey_compiler.config.project import Project
from journey_compiler.ir import JourneyPlan
from journey_compiler.sqlgen.ast import col, eq, lit, ts, union_all
from journey_compiler.sqlgen.records import record_select
from journey_compiler.sqlgen.relations import ref
from journey_compiler.sqlgen.segments import SegmentSql


def tick_col(name: str) -> exp.Column:
    """A column of the one-row `tick` CTE (tick_at, watermark, previous_tick_at, horizon, stopped_at,
    stop_seen)."""
    return col(name, "tick")


def tick_value(name: str) -> exp.Expression:
    """The same as a scalar subquery, for filters DuckDB can push into a table scan (zone maps)."""
    return exp.select(name).from_("tick").subquery()


def _events_where(*conditions: exp.Expression) -> exp.Select:
    return exp.select("*").from_(ref("stg_raw__events")).where(exp.and_(*conditions))


def known_events(since: exp.Expression | None = None) -> exp.Expression:
    """The events this tick may see (loaded by its watermark, happened by its time; with `since`, not
    before it), as a derived table. Not a CTE: a CTE used several times is materialized whole, while each
    use here filters it further (names, times, profiles) and DuckDB pushes those filters into the scan."""
    conditions = [
        exp.LTE(this=col("event_time"), expression=tick_value("tick_at")),
        exp.LTE(this=col("loaded_at"), expression=tick_value("watermark")),
    ]
    if since is not None:
        conditions.append(exp.GTE(this=col("event_time"), expression=since))
    return _events_where(*conditions).subquery()


def fresh_events() -> exp.Expression:
    """The known events the previous tick could not see: staged by this tick (loaded since the previous
    watermark, or admitted now after being held), or happening after the previous tick. Both halves are
    ranges over columns the events are laid out by, so the scan skips the rest."""
    previous = exp.func("COALESCE", tick_value("previous_tick_at"), ts(datetime(1, 1, 1)))
    happened = exp.LTE(this=col("event_time"), expression=tick_value("tick_at"))
    loaded = exp.LTE(this=col("loaded_at"), expression=tick_value("watermark"))
    staged_now = eq(col("staged_at"), tick_value("tick_at"))
    return union_all(
        [
            _events_where(happened, loaded, staged_now),
            _events_where(
                happened.copy(),
                loaded.copy(),
                exp.LT(
                    this=exp.func("COALESCE", col("staged_at"), ts(datetime(1, 1, 1))),
                    expression=tick_value("tick_at"),
                ),
                exp.GT(this=col("event_time"), expression=previous),
            ),
        ]
    ).subquery()


class TickSql:
    def __init__(self, plan: JourneyPlan, project: Project) -> None:
        self.plan = plan
        self.project = project
        self.ctes: list[tuple[str, exp.Expression]] = []
        self.recursive = False
        self.records: list[exp.Select] = []
        self.after_admission: list[Callable[[], None]] = []
        """Parts that must see only admitted entries (admission.py decides at the end of the nodes)."""
        self.segments = SegmentSql(project, known_events(), ref("stg_raw__profiles"), ref("int_profile_tags"))

    def cte(self, name: str, query: exp.Expression, recursive: bool = False) -> str:
        self.ctes.append((name, query))
        self.recursive = self.recursive or recursive
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
        columns = record_select(base | values, typed_nulls=not self.records)
        query = exp.select(*columns).from_(source).join("tick", join_type="cross")
        for table, on in joins:
            query = query.join(table, on=on, join_type="left")
        self.records.append(query.where(where) if where is not None else query)
