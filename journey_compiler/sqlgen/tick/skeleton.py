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
from journey_compiler.sqlgen.ast import col, eq, ts, union_all
from journey_compiler.sqlgen.relations import HISTORY, ref
from journey_compiler.sqlgen.tick import entries, exits, goals, outcomes
from journey_compiler.sqlgen.tick.builder import KNOWN_EVENTS, TickSql, tick_col
from journey_compiler.sqlgen.tick.nodes import handler_for
from journey_compiler.sqlgen.tick.paths import PATH_COLUMNS


def tick_query(plan: JourneyPlan, project: Project) -> exp.Select:
    tick = TickSql(plan, project)
    start(tick)
    entries.build(tick)
    exits.build(tick)
    for step in plan.steps:
        node(tick, step)
    goals.build(tick)
    return finish(tick)


def start(tick: TickSql) -> None:
    """`tick` (one row: its time, watermark, previous tick and horizon), the events it may see, the history
    before it, and `state`: every entry's latest position."""
    horizon: exp.Expression = col("tick_at")
    if tick.plan.active_until is not None:
        horizon = exp.func("LEAST", horizon, ts(tick.plan.active_until))
    tick.cte(
        "tick",
        exp.select("tick_at", "watermark", "previous_tick_at", exp.alias_(horizon, "horizon")).from_(
            ref("stg_control__tick")
        ),
    )
    tick.cte(
        KNOWN_EVENTS,
        exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier("e")))
        .from_(exp.alias_(ref("stg_raw__events"), "e", table=True))
        .join("tick", join_type="cross")
        .where(
            exp.and_(
                exp.LTE(this=col("event_time", "e"), expression=tick_col("tick_at")),
                exp.LTE(this=col("loaded_at", "e"), expression=tick_col("watermark")),
            )
        ),
    )
    tick.cte(
        "history",
        exp.select("*")
        .from_(HISTORY)
        .where(exp.LT(this=col("tick_at"), expression=exp.select("tick_at").from_("tick").subquery())),
    )
    latest = exp.Window(
        this=exp.RowNumber(),
        partition_by=[col("entry_id")],
        order=exp.Order(expressions=[exp.Ordered(this=col("tick_at"), desc=True)]),
    )
    tick.cte(
        "state",
        exp.select("*")
        .from_(
            exp.select("*", exp.alias_(latest, "latest"))
            .from_("history")
            .where(eq(col("record"), "position"))
            .subquery("positions")
        )
        .where(eq(col("latest"), 1)),
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
    outcomes.build(tick, step, answer.ab_group)


def finish(tick: TickSql) -> exp.Select:
    tick.cte("tick_records", union_all(tick.records))
    applied = (
        exp.select("1")
        .from_(HISTORY)
        .where(exp.GTE(this=col("tick_at"), expression=exp.select("tick_at").from_("tick").subquery()))
    )
    query = exp.select("*").from_("tick_records").where(exp.not_(exp.Exists(this=applied)))
    for name, body in tick.ctes:
        query = query.with_(name, as_=body)
    return query
