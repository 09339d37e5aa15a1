"""The paths that may move in this tick (`live`: waiting ones and new entries) and, per path, the first time
an `exit_when` condition was met since it entered, or the journey's stop (`exit_at`): any departure after it
becomes an exit. A condition's `within` bounds its window after the entry (docs/semantics.md)."""

from __future__ import annotations

from sqlglot import exp

from journey_compiler.ir import ExitPlan
from journey_compiler.sqlgen.ast import aliased, col, eq, is_null, lit, plus, union_all
from journey_compiler.sqlgen.tick import lifecycle
from journey_compiler.sqlgen.tick.builder import TickSql, tick_col
from journey_compiler.sqlgen.tick.matching import nth_event
from journey_compiler.sqlgen.tick.paths import LIVE_COLUMNS


def build(tick: TickSql) -> None:
    waiting = exp.select(*LIVE_COLUMNS[:-1], exp.alias_(exp.true(), "carried")).from_("open_paths")
    entered = exp.select(
        *LIVE_COLUMNS[:4],
        exp.alias_(exp.cast(exp.null(), "TEXT"), "ab_group"),
        exp.alias_(lit(tick.plan.start), "node_id"),
        exp.alias_(col("entry_at"), "arrived_at"),
        exp.alias_(exp.false(), "carried"),
    ).from_("new_entries")
    tick.cte("live_entries", union_all([waiting, entered]))
    firsts = [
        nth_event(tick, f"exit_{i + 1}", "live_entries", rule.match, col("entry_at", "s"), _window_end(rule))
        for i, rule in enumerate(tick.plan.exits)
    ]
    query = exp.select(*(col(c, "l") for c in LIVE_COLUMNS)).from_(aliased("live_entries", "l"))
    stop = lifecycle.stop_seen()
    if not firsts:
        tick.cte("live", query.select(exp.alias_(exp.cast(stop, "TIMESTAMP"), "exit_at")))
        return
    exit_events = union_all([exp.select("*").from_(first) for first in firsts])
    tick.cte(
        "exits",
        exp.select("entry_id", exp.alias_(exp.func("MIN", col("event_time")), "exit_at"))
        .from_(exit_events.subquery("exit_events"))
        .group_by("entry_id"),
    )
    # the stop ends the path unless an exit event came first (a tie is the stop's)
    by_event = col("exit_at", "x")
    stopped_first = exp.and_(
        exp.not_(is_null(stop)),
        exp.or_(is_null(by_event), exp.LTE(this=stop.copy(), expression=by_event.copy())),
    )
    exit_at = exp.Case(ifs=[exp.If(this=stopped_first, true=stop.copy())], default=by_event.copy())
    tick.cte(
        "live",
        query.select(exp.alias_(exit_at, "exit_at")).join(
            aliased("exits", "x"), join_type="left", on=eq(col("entry_id", "x"), col("entry_id", "l"))
        ),
    )


def _window_end(rule: ExitPlan) -> exp.Expression:
    """Spec section 2: an event condition's window is "`within` after ... entering"; none: up to now."""
    if rule.within is None:
        return tick_col("horizon")
    return exp.func("LEAST", plus(col("entry_at", "s"), rule.within), tick_col("horizon"))
