"""Local wall-clock arithmetic in SQL: the one place UTC timestamps meet a profile's timezone.

Timestamps in the warehouse are naive UTC; a local rule (quiet hours, "at 08:00") converts to the profile's
timezone (else the journey's), decides there, and converts the answer back to UTC.
"""

from __future__ import annotations

from datetime import time

from sqlglot import exp


def to_local(utc: exp.Expression, timezone: exp.Expression) -> exp.Expression:
    return exp.ConvertTimezone(
        source_tz=exp.Literal.string("UTC"), target_tz=timezone.copy(), timestamp=utc.copy()
    )


def to_utc(local: exp.Expression, timezone: exp.Expression) -> exp.Expression:
    converted = exp.ConvertTimezone(
        source_tz=timezone.copy(), target_tz=exp.Literal.string("UTC"), timestamp=local.copy()
    )
    return exp.cast(converted, "TIMESTAMP")


def minute_of_day(local: exp.Expression) -> exp.Expression:
    hours = exp.Extract(this=exp.var("HOUR"), expression=local.copy())
    minutes = exp.Extract(this=exp.var("MINUTE"), expression=local.copy())
    return exp.Add(this=exp.Mul(this=hours, expression=exp.Literal.number(60)), expression=minutes)


def _minutes(clock: time) -> exp.Expression:
    return exp.Literal.number(clock.hour * 60 + clock.minute)


def in_window(local: exp.Expression, start: time, end: time) -> exp.Expression:
    """Is the local time inside [start, end)? A window with start > end wraps midnight (22:00-08:00)."""
    now = minute_of_day(local)
    after_start = exp.GTE(this=now, expression=_minutes(start))
    before_end = exp.LT(this=now.copy(), expression=_minutes(end))
    return exp.paren(exp.and_(after_start, before_end) if start < end else exp.or_(after_start, before_end))


def next_clock(local: exp.Expression, clock: time) -> exp.Expression:
    """The first local instant at `clock` that is not before `local` (today's, else tomorrow's)."""
    midnight = exp.TimestampTrunc(this=local.copy(), unit=exp.var("DAY"))
    today = exp.Add(this=midnight, expression=exp.Interval(this=_minutes(clock), unit=exp.var("MINUTE")))
    tomorrow = exp.Add(
        this=today.copy(), expression=exp.Interval(this=exp.Literal.number(1), unit=exp.var("DAY"))
    )
    return exp.Case(
        ifs=[exp.If(this=exp.GTE(this=today.copy(), expression=local.copy()), true=today)], default=tomorrow
    )


def plus_days(local: exp.Expression, days: exp.Expression | int) -> exp.Expression:
    """`local` + `days` days; a computed number of days as `INTERVAL 1 DAY * (n)`, since Spark takes only a
    literal inside INTERVAL."""
    if isinstance(days, int):
        amount = exp.Literal.number(days)
        return exp.Add(this=local, expression=exp.Interval(this=amount, unit=exp.var("DAY")))
    one_day = exp.Interval(this=exp.Literal.number(1), unit=exp.var("DAY"))
    return exp.Add(this=local, expression=exp.Mul(this=one_day, expression=exp.paren(days)))


def next_weekday(local: exp.Expression, isodow: int, clock: time) -> exp.Expression:
    """The first local instant on ISO weekday `isodow` (1 = Monday) at `clock`, not before `local`."""
    ahead = exp.Mod(
        this=exp.paren(
            exp.Add(
                this=exp.Sub(this=exp.Literal.number(isodow), expression=exp.DayOfWeekIso(this=local.copy())),
                expression=exp.Literal.number(7),
            )
        ),
        expression=exp.Literal.number(7),
    )
    midnight = exp.TimestampTrunc(this=local.copy(), unit=exp.var("DAY"))
    candidate = exp.Add(
        this=plus_days(midnight, ahead), expression=exp.Interval(this=_minutes(clock), unit=exp.var("MINUTE"))
    )
    return exp.Case(
        ifs=[exp.If(this=exp.GTE(this=candidate.copy(), expression=local.copy()), true=candidate)],
        default=plus_days(candidate.copy(), 7),
    )


MONTHS_AHEAD = 4
"""Months looked at by `next_month_day`: from any month, one that has day 29, 30 or 31 and is still ahead
comes within the next three."""


def next_month_day(local: exp.Expression, day: int, clock: time) -> exp.Expression:
    """The first local instant on day `day` of a month at `clock`, not before `local`. Spec: "next such day of
    month": a month without that day (31 in April) is skipped (docs/semantics.md, "A month without the
    day")."""
    this_month = exp.TimestampTrunc(this=local.copy(), unit=exp.var("MONTH"))
    offset = exp.Interval(
        this=exp.Literal.number((day - 1) * 24 * 60 + clock.hour * 60 + clock.minute), unit=exp.var("MINUTE")
    )
    ifs = []
    for ahead in range(MONTHS_AHEAD):
        month = exp.Add(
            this=this_month.copy(),
            expression=exp.Interval(this=exp.Literal.number(ahead), unit=exp.var("MONTH")),
        )
        candidate = exp.Add(this=month, expression=offset.copy())
        in_that_month = exp.EQ(
            this=exp.TimestampTrunc(this=candidate.copy(), unit=exp.var("MONTH")), expression=month.copy()
        )
        ahead_of_local = exp.GTE(this=candidate.copy(), expression=local.copy())
        ifs.append(exp.If(this=exp.and_(in_that_month, ahead_of_local), true=candidate))
    return exp.Case(ifs=ifs)


def clock_on(day: exp.Expression, clock: time) -> exp.Expression:
    """`day` (a date) at local `clock`, as a local timestamp."""
    return exp.Add(
        this=exp.cast(day, "TIMESTAMP"), expression=exp.Interval(this=_minutes(clock), unit=exp.var("MINUTE"))
    )
