"""`event_check`, `wait_for_event`, `event_split`: one mechanism. The path waits at the node; the first
branch whose event condition is met inside the window wins, at that event's time; if none is, the
otherwise-branch (`else` / `timeout`) when the window closes."""

from __future__ import annotations

from datetime import timedelta

from sqlglot import exp

from journey_compiler.config import journey as cfg
from journey_compiler.ir import Step
from journey_compiler.sqlgen.ast import aliased, col, earliest, eq, lit, plus
from journey_compiler.sqlgen.tick.builder import TickSql, tick_col
from journey_compiler.sqlgen.tick.matching import nth_event
from journey_compiler.sqlgen.tick.paths import Answer


def event_check(tick: TickSql, step: Step) -> Answer:
    return _race(tick, step, step.node_as(cfg.EventCheckNode).event_check.within, "else")


def wait_for_event(tick: TickSql, step: Step) -> Answer:
    return _race(tick, step, step.node_as(cfg.WaitForEventNode).wait_for_event.within, "timeout")


def event_split(tick: TickSql, step: Step) -> Answer:
    return _race(tick, step, step.node_as(cfg.EventSplitNode).event_split.within, "else")


def _race(tick: TickSql, step: Step, within: timedelta, otherwise: str) -> Answer:
    at = f"at_{step.id}"
    closes = plus(col("arrived_at", at), within)
    upper = exp.func("LEAST", plus(col("arrived_at", "s"), within), tick_col("horizon"))
    hits = []
    query = exp.select(f"{at}.*").from_(at).join("tick", join_type="cross")
    for i, (branch, match) in enumerate(step.events.items()):
        alias = f"h{i + 1}"
        name = nth_event(tick, f"hits_{step.id}_{i + 1}", at, match, col("arrived_at", "s"), upper, held=True)
        query = query.join(
            aliased(name, alias), join_type="left", on=eq(col("entry_id", alias), col("entry_id", at))
        )
        hits.append((branch, col("event_time", alias)))
    first = earliest([h for _, h in hits])
    window_closed = exp.Case(
        ifs=[exp.If(this=exp.LTE(this=closes, expression=tick_col("horizon")), true=closes)]
    )
    branch = exp.Case(
        ifs=[exp.If(this=eq(h.copy(), first.copy()), true=lit(b)) for b, h in hits], default=lit(otherwise)
    )
    return Answer(
        query.select(
            exp.alias_(exp.func("COALESCE", first, window_closed), "due_at"), exp.alias_(branch, "branch")
        )
    )
