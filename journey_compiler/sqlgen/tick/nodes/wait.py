"""`wait`: leave when the wait's end (a logical time) has come — a duration, a fixed time, or the next
local clock time / weekday / month day / trading day in the profile's timezone. A wait `until` a time
already past when the path arrives ends it with reason `missed`."""

from __future__ import annotations

from datetime import time

from sqlglot import exp

from journey_compiler.config import journey as cfg
from journey_compiler.ir import Step, naive_utc
from journey_compiler.sqlgen.ast import aliased, col, eq, lit, plus, ts
from journey_compiler.sqlgen.calendar import first_trading_day
from journey_compiler.sqlgen.localtime import (
    clock_on,
    next_clock,
    next_month_day,
    next_weekday,
    plus_days,
    to_local,
    to_utc,
)
from journey_compiler.sqlgen.relations import ref
from journey_compiler.sqlgen.tick.builder import TickSql, tick_col
from journey_compiler.sqlgen.tick.paths import EXIT_BRANCH, Answer


def answer(tick: TickSql, step: Step) -> Answer:
    wait = step.node_as(cfg.WaitNode).wait
    at = f"at_{step.id}"
    arrived = col("arrived_at", at)
    query = exp.select(f"{at}.*").from_(at).join("tick", join_type="cross")
    branch: exp.Expression = lit("next")
    if wait.form == "for":
        assert wait.for_ is not None
        ends: exp.Expression = plus(arrived, wait.for_)
    elif wait.form == "until":
        assert wait.until is not None
        until = ts(naive_utc(wait.until))
        missed = exp.GT(this=arrived.copy(), expression=until)
        ends = exp.Case(ifs=[exp.If(this=missed, true=arrived.copy())], default=until.copy())
        branch = exp.Case(
            ifs=[exp.If(this=missed.copy(), true=lit(f"{EXIT_BRANCH}missed"))], default=lit("next")
        )
    else:
        tz = exp.func("COALESCE", col("timezone", "p"), lit(tick.plan.timezone))
        query = query.join(
            aliased(ref("stg_raw__profiles"), "p"),
            join_type="left",
            on=eq(col("profile_id", "p"), col("profile_id", at)),
        )
        ends = to_utc(local_wait_end(wait, to_local(arrived, tz)), tz)
    due = exp.Case(ifs=[exp.If(this=exp.LTE(this=ends, expression=tick_col("horizon")), true=ends.copy())])
    return Answer(query.select(exp.alias_(due, "due_at"), exp.alias_(branch, "branch")))


def local_wait_end(wait: cfg.WaitSpec, local: exp.Expression) -> exp.Expression:
    clock = wait.at or time(0, 0)
    if wait.form == "weekday":
        return next_weekday(local, cfg.WEEKDAYS.index(str(wait.weekday)) + 1, clock)
    if wait.form == "month_day":
        assert wait.month_day is not None
        return next_month_day(local, wait.month_day, clock)
    if wait.form == "trading_day":
        today = exp.cast(local.copy(), "DATE")
        start = exp.Case(
            ifs=[
                exp.If(this=exp.GTE(this=clock_on(today, clock), expression=local.copy()), true=today.copy())
            ],
            default=exp.cast(plus_days(today.copy(), 1), "DATE"),
        )
        return clock_on(first_trading_day(start), clock)
    return plus_days(next_clock(local, clock), (wait.day or 1) - 1)
