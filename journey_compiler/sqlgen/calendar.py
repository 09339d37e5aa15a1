"""The trading calendar in the tick: which local days are closed, and the first open day after a point."""

from __future__ import annotations

from sqlglot import exp

from journey_compiler.sqlgen.ast import aliased, col, eq
from journey_compiler.sqlgen.relations import ref

DAY = col("day", "cal")
"""The calendar day inside `closed_day`'s subquery."""
SHUT = col("day", "shut")
"""A closed calendar day inside `first_trading_day`'s subquery."""


def first_trading_day(start: exp.Expression) -> exp.Expression:
    """The first day on or after `start` (a date) that the calendar does not close. A day the calendar does
    not list trades (docs/semantics.md, "A day missing from the trading calendar"), so the answer is `start`
    itself, or the day after the first closed day from `start` on whose next day is not closed."""
    after_shut = exp.cast(
        exp.Add(this=SHUT.copy(), expression=exp.Interval(this=exp.Literal.number(1), unit=exp.var("DAY"))),
        "DATE",
    )
    reopens = (
        exp.select(exp.func("MIN", after_shut))
        .from_(aliased(ref("stg_raw__trading_calendar"), "shut"))
        .where(
            exp.and_(
                exp.not_(col("is_trading_day", "shut")),
                exp.GTE(this=SHUT.copy(), expression=start.copy()),
                exp.not_(closed_day(after_shut.copy())),
            )
        )
        .subquery()
    )
    return exp.Case(ifs=[exp.If(this=exp.not_(closed_day(start)), true=start.copy())], default=reopens)


def closed_day(local: exp.Expression) -> exp.Expression:
    """The calendar says the local day of `local` is not a trading day."""
    return exp.Exists(
        this=exp.select("1")
        .from_(aliased(ref("stg_raw__trading_calendar"), "cal"))
        .where(
            exp.and_(eq(DAY.copy(), exp.cast(local.copy(), "DATE")), exp.not_(col("is_trading_day", "cal")))
        )
    )
