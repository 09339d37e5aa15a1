"""`event_check`, `wait_for_event`, `event_split`: one mechanism. The path waits at the node; the first
branch whose event rule holds inside the window wins, at the time it holds (the event that completed it,
or for `did_not` the window's close); if none does, the otherwise-branch (`else` / `timeout`) when the
window closes."""

from __future__ import annotations

from datetime import timedelta

from sqlglot import exp

from journey_compiler.config import journey as cfg
from journey_compiler.ir import EventAnswer, Step
from journey_compiler.sqlgen.ast import aliased, col, earliest, eq, is_null, lit, not_null, plus
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
    window_closed = exp.LTE(this=closes, expression=tick_col("horizon"))
    upper = exp.func("LEAST", plus(col("arrived_at", "s"), within), tick_col("horizon"))
    hits = []
    query = exp.select(f"{at}.*").from_(at).join("tick", join_type="cross")
    for i, (branch, answer) in enumerate(step.events.items()):
        # a part of a rule that moves the path on its own was not met by a row still waiting
        alone = not answer.absent and (answer.match == "any" or len(answer.parts) == 1)
        times = []
        for k, match in enumerate(answer.parts):
            alias = f"h{i + 1}_{k + 1}"
            name = nth_event(
                tick,
                f"hits_{step.id}_{i + 1}_{k + 1}",
                at,
                match,
                col("arrived_at", "s"),
                upper,
                True,
                not alone,
            )
            query = query.join(
                aliased(name, alias), join_type="left", on=eq(col("entry_id", alias), col("entry_id", at))
            )
            times.append(col("event_time", alias))
        hits.append((branch, _holds(answer, times, closes, window_closed)))
    first = earliest([h for _, h in hits])
    branch = exp.Case(
        ifs=[exp.If(this=eq(h.copy(), first.copy()), true=lit(b)) for b, h in hits], default=lit(otherwise)
    )
    due = exp.func("COALESCE", first, exp.Case(ifs=[exp.If(this=window_closed.copy(), true=closes.copy())]))
    return Answer(query.select(exp.alias_(due, "due_at"), exp.alias_(branch, "branch")))


def _holds(
    answer: EventAnswer, times: list[exp.Expression], closes: exp.Expression, window_closed: exp.Expression
) -> exp.Expression:
    """When the branch's rule holds, from the times its parts were met (NULL: not met in the window so
    far): the first part (`any`) or the last once all are (`all`); `did_not` when the window closes with
    every part (`all`) or one of them (`any`) unmet."""
    if not answer.absent:
        if answer.match == "any" or len(times) == 1:
            return earliest(times)
        met = exp.and_(*(not_null(t.copy()) for t in times))
        return exp.Case(ifs=[exp.If(this=met, true=exp.func("GREATEST", *times))])
    unmet = [is_null(t) for t in times]
    absent = exp.and_(*unmet) if answer.match == "all" else exp.or_(*unmet)
    return exp.Case(ifs=[exp.If(this=exp.and_(window_closed.copy(), absent), true=closes.copy())])
