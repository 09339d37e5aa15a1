"""The paths that may move in this tick (`live`: waiting ones and new entries) and, per entry, the first time
an `exit_when` condition (or, with `exit_on_goal`, a goal) was met since it entered, or the journey's stop
(`exit_at`, and why: `exit_cause`): any departure after it becomes an exit, on every path of the entry. A
condition's `within` bounds its window after the entry (docs/semantics.md)."""

from __future__ import annotations

from sqlglot import exp

from journey_compiler.ir import ExitPlan
from journey_compiler.sqlgen.ast import aliased, col, eq, is_null, lit, not_null, plus, union_all
from journey_compiler.sqlgen.tick import lifecycle, state_exits
from journey_compiler.sqlgen.tick.builder import TickSql, tick_col
from journey_compiler.sqlgen.tick.entries import ENTRY_COLUMNS
from journey_compiler.sqlgen.tick.matching import detail_reached, nth_event
from journey_compiler.sqlgen.tick.paths import LIVE_COLUMNS


def build(tick: TickSql) -> None:
    waiting = exp.select(*LIVE_COLUMNS[:-1], exp.alias_(exp.true(), "carried")).from_("open_paths")
    entered = exp.select(
        "entry_id",
        exp.alias_(col("entry_id"), "path_id"),
        *LIVE_COLUMNS[2:5],
        exp.alias_(exp.cast(exp.null(), "TEXT"), "ab_group"),
        exp.alias_(lit(tick.plan.start), "node_id"),
        exp.alias_(col("entry_at"), "arrived_at"),
        exp.alias_(exp.false(), "carried"),
    ).from_("new_entries")
    tick.cte("live_paths", union_all([waiting, entered]))
    # the exit conditions are the entry's: asked once per entry, they end all its paths at one time
    tick.cte("live_entries", exp.select(*ENTRY_COLUMNS, "carried").distinct().from_("live_paths"))
    firsts = [_first(tick, i, rule) for i, rule in enumerate(tick.plan.exits)]
    query = exp.select(*(col(c, "l") for c in LIVE_COLUMNS)).from_(aliased("live_paths", "l"))
    stop = lifecycle.stop_seen()
    if not firsts:
        stopped = exp.Case(ifs=[exp.If(this=not_null(stop), true=lit(lifecycle.STOPPED))])
        tick.cte(
            "live",
            query.select(
                exp.alias_(exp.cast(stop.copy(), "TIMESTAMP"), "exit_at"), exp.alias_(stopped, "exit_cause")
            ),
        )
        return
    exit_events = union_all(
        [
            exp.select("entry_id", "event_time", exp.alias_(lit(rule.reason), "exit_cause")).from_(first)
            for first, rule in zip(firsts, tick.plan.exits, strict=True)
        ]
    )
    # the first condition met; at one instant an `exit_when` condition before a goal
    order = exp.Window(
        this=exp.RowNumber(),
        partition_by=[col("entry_id")],
        order=exp.Order(
            expressions=[
                exp.Ordered(this=col("event_time")),
                exp.Ordered(this=eq(col("exit_cause"), "goal")),
            ]
        ),
    )
    ranked = exp.select("entry_id", "event_time", "exit_cause", exp.alias_(order, "n")).from_(
        exit_events.subquery("exit_events")
    )
    tick.cte(
        "exits",
        exp.select("entry_id", exp.alias_(col("event_time"), "exit_at"), "exit_cause")
        .from_(ranked.subquery("ranked"))
        .where(eq(col("n"), 1)),
    )
    # the stop ends the path unless an exit condition was met first (a tie is the stop's)
    by_event = col("exit_at", "x")
    stopped_first = exp.and_(
        exp.not_(is_null(stop)),
        exp.or_(is_null(by_event), exp.LTE(this=stop.copy(), expression=by_event.copy())),
    )
    exit_at = exp.Case(ifs=[exp.If(this=stopped_first, true=stop.copy())], default=by_event.copy())
    cause = exp.Case(
        ifs=[exp.If(this=stopped_first.copy(), true=lit(lifecycle.STOPPED))], default=col("exit_cause", "x")
    )
    tick.cte(
        "live",
        query.select(exp.alias_(exit_at, "exit_at"), exp.alias_(cause, "exit_cause")).join(
            aliased("exits", "x"), join_type="left", on=eq(col("entry_id", "x"), col("entry_id", "l"))
        ),
    )


def _first(tick: TickSql, i: int, rule: ExitPlan) -> str:
    """CTE `exit_<i>`: per live path, when the condition was first met (an event, a detail goal's
    threshold, or a rule on the profile's state)."""
    name, entered = f"exit_{i + 1}", col("entry_at", "s")
    if rule.rule is not None:
        return state_exits.first_true(tick, name, "live_entries", rule.rule)
    if rule.detail is not None:
        return detail_reached(tick, name, "live_entries", rule.detail, entered, _window_end(rule))
    assert rule.match is not None
    return nth_event(tick, name, "live_entries", rule.match, entered, _window_end(rule))


def _window_end(rule: ExitPlan) -> exp.Expression:
    """Spec section 2: an event condition's window is "`within` after ... entering"; none: up to now."""
    if rule.within is None:
        return tick_col("horizon")
    return exp.func("LEAST", plus(col("entry_at", "s"), rule.within), tick_col("horizon"))
