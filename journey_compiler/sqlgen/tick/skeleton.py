"""The tick of one journey, start to end: what it may see, the state it starts from, entries, exits, every
node in topological order, goals, and the one insert of records (nothing if the tick was already applied).

Per node two CTEs: `step_<n>` (from the node kind's handler) says *when* the node's answer became known
(`due_at`, a logical time, NULL while unknown) and *which* branch; `out_<n>` (outcomes.py) turns that into
leave / stay / exit, so a profile runs through as many nodes as it can within one tick. Every time is
logical, which makes the result independent of the tick cadence.
"""

from __future__ import annotations

from sqlglot import exp

from journey_compiler.config.project import Project
from journey_compiler.ir import JourneyPlan, Step
from journey_compiler.sqlgen.ast import aliased, col, eq, lit, ts, union_all
from journey_compiler.sqlgen.relations import history, open_paths, ref
from journey_compiler.sqlgen.tick import admission, entries, exits, goals, lifecycle, outcomes, versions
from journey_compiler.sqlgen.tick.builder import TickSql, tick_value
from journey_compiler.sqlgen.tick.entries import ENTRY_COLUMNS
from journey_compiler.sqlgen.tick.nodes import handler_for
from journey_compiler.sqlgen.tick.open_paths import latest_snapshot
from journey_compiler.sqlgen.tick.paths import PATH_COLUMNS


def tick_query(plan: JourneyPlan, project: Project) -> exp.Select:
    tick = TickSql(plan, project)
    start(tick)
    entries.build(tick)
    exits.build(tick)
    for step in plan.steps:
        node(tick, step)
    versions.build(tick, outcomes.record_moves(tick))
    goals.build(tick)
    admission.build(tick)
    for part in tick.after_admission:
        part()
    return finish(tick)


def start(tick: TickSql) -> None:
    """`tick` (one row: its time, watermark, previous tick, horizon, the journey's stop and whether this tick
    has reached it), the pauses (lifecycle.py) and the state it starts from: the open paths the previous
    tick left (`open_paths`), and the entries made before it (`earlier_entries`, with `ended_entries`) that
    admission and goals look at."""
    horizon: exp.Expression = col("tick_at")
    if tick.plan.active_until is not None:
        horizon = exp.func("LEAST", horizon, ts(tick.plan.active_until))
    times = exp.select(
        "tick_at",
        "watermark",
        "previous_tick_at",
        exp.alias_(horizon, "horizon"),
        exp.alias_(lifecycle.stop_time(tick), "stopped_at"),
    ).from_(ref("stg_control__tick"))
    tick.cte("tick", exp.select("*", lifecycle.stop_seen_column()).from_(times.subquery("t")))
    lifecycle.build(tick)
    tick.cte("open_paths", latest_snapshot(open_paths()))
    tick.cte(
        "earlier_entries",
        exp.select(*ENTRY_COLUMNS)
        .from_(history())
        .where(exp.and_(eq(col("record"), "transition"), eq(col("reason"), "entered"))),
    )
    # an entry has ended when its last path has: none of them is open any more
    still_open = (
        exp.select("1")
        .from_(aliased("open_paths", "o"))
        .where(eq(col("entry_id", "o"), col("entry_id", "h")))
    )
    tick.cte(
        "ended_entries",
        exp.select(col("entry_id", "h"), exp.alias_(exp.func("MAX", col("logical_at", "h")), "ended_at"))
        .from_(aliased(history(), "h"))
        .where(
            exp.and_(
                eq(col("record", "h"), "position"),
                exp.In(this=col("status", "h"), expressions=[lit("exited"), lit("completed")]),
                exp.not_(exp.Exists(this=still_open)),
            )
        )
        .group_by(col("entry_id", "h")),
    )


def node(tick: TickSql, step: Step) -> None:
    """`at_<n>`: who is at the node in this tick (waiting from before, or arriving from a predecessor at
    its logical departure time); then the handler's `step_<n>` and the outcome."""
    arrivals: list[exp.Query] = [exp.select(*PATH_COLUMNS).from_("live").where(eq(col("node_id"), step.id))]
    for source, branch in tick.plan.predecessors(step.id):
        moved = [
            exp.alias_(col("left_at"), "arrived_at")
            if c == "arrived_at"
            else exp.alias_(exp.false(), "carried")
            if c == "carried"
            else col(c)
            for c in PATH_COLUMNS
        ]
        arrivals.append(
            exp.select(*moved)
            .from_(f"out_{source}")
            .where(exp.and_(eq(col("outcome"), "leave"), eq(col("branch"), branch)))
        )
    tick.cte(f"at_{step.id}", union_all(arrivals))
    answer = handler_for(tick.plan, step)(tick, step)
    tick.cte(f"step_{step.id}", answer.query)
    outcomes.build(tick, step, answer)


def finish(tick: TickSql) -> exp.Select:
    """The records of the admitted entries (and those of no entry), unless the tick was applied already."""
    tick.cte("tick_records", union_all(tick.records))
    applied = (
        exp.select("1").from_(history()).where(exp.GTE(this=col("tick_at"), expression=tick_value("tick_at")))
    )
    keep = [exp.not_(exp.Exists(this=applied))]
    if admission.needed(tick.plan.entry):
        refused = (
            exp.select("1")
            .from_("refused_entries")
            .where(eq(col("entry_id", "refused_entries"), col("entry_id", "tick_records")))
        )
        keep.append(exp.not_(exp.Exists(this=refused)))
    query = exp.select("*").from_("tick_records").where(exp.and_(*keep))
    for name, body in tick.ctes:
        query = query.with_(name, as_=body, recursive=tick.recursive, copy=False)
    return query
