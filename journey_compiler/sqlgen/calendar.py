"""The trading calendar in the tick: which local days are closed, and the first open day after a point."""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from journey_compiler.sqlgen.ast import aliased, col, eq
from journey_compiler.sqlgen.relations import ref

DAY = col("day", "cal")
"""The calendar day inside `first_trading_day`'s condition."""


def first_trading_day(after: Callable[[exp.Column], exp.Expression]) -> exp.Expression:
    """The earliest trading day for which `after(day)` holds (a scalar subquery; NULL if none is listed)."""
    return (
        exp.select(exp.func("MIN", DAY.copy()))
        .from_(aliased(ref("stg_raw__trading_calendar"), "cal"))
        .where(exp.and_(col("is_trading_day", "cal"), after(DAY.copy())))
        .subquery()
    )


def closed_day(local: exp.Expression) -> exp.Expression:
    """The calendar says the local day of `local` is not a trading day."""
    return exp.Exists(
        this=exp.select("1")
        .from_(aliased(ref("stg_raw__trading_calendar"), "cal"))
        .where(
            exp.and_(eq(DAY.copy(), exp.cast(local.copy(), "DATE")), exp.not_(col("is_trading_day", "cal")))
        )
    )
