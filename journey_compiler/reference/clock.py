"""Local wall-clock rules, in plain Python: waits, quiet hours and trading days.

Spec section 1: "All timestamps are UTC; local-time rules (quiet hours, "at 08:00", weekdays) use the
profile's `timezone`, else the journey's." Times here are naive UTC in and out; a rule converts to local
time, decides there and converts back. A local time that does not exist (the hour skipped when daylight
saving starts) or exists twice (the hour repeated when it ends) resolves as `zoneinfo` does with fold=0:
with the offset in force before the change.

Every local wait is "the first local instant matching the pattern that is not before the arrival".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from journey_compiler.config.journey import WEEKDAYS, QuietHours, WaitSpec

TradingCalendar = Mapping[date, bool]

_SEARCH_DAYS = 3 * 366
"""How far a local pattern (weekday, day of month, trading day) is looked for before giving up."""


@cache
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def to_local(utc: datetime, timezone: str) -> datetime:
    """Naive UTC -> naive local wall time."""
    return utc.replace(tzinfo=UTC).astimezone(zone(timezone)).replace(tzinfo=None)


def to_utc(local: datetime, timezone: str) -> datetime:
    """Naive local wall time -> naive UTC (fold=0 for skipped or repeated local times)."""
    return local.replace(tzinfo=zone(timezone)).astimezone(UTC).replace(tzinfo=None)


def is_trading_day(day: date, calendar: TradingCalendar) -> bool:
    """Spec section 1: `raw.trading_calendar` is optional. A day it does not list is a trading day: the
    calendar names the closures (and, without one, every day trades)."""
    return calendar.get(day, True)


def _first_local(
    arrival_utc: datetime, timezone: str, clock: time, day_ok: Callable[[date], bool]
) -> datetime | None:
    """The first local instant at `clock` on a day that `day_ok` accepts, not before the arrival (UTC)."""
    local_day = to_local(arrival_utc, timezone).date()
    for offset in range(_SEARCH_DAYS):
        day = local_day + timedelta(days=offset)
        if not day_ok(day):
            continue
        moment = to_utc(datetime.combine(day, clock), timezone)
        if moment >= arrival_utc:
            return moment
    return None


def wait_end(wait: WaitSpec, arrived: datetime, timezone: str, calendar: TradingCalendar) -> datetime | None:
    """When a `wait` ends for a profile that arrived at `arrived` (UTC), or None if it never does.

    Spec section 2: "`for` a duration (1d = 24h); `until` an absolute time; `at` local time of day N (day 1 at
    08:00: next 08:00); `weekday` + time (next such weekday); `month_day` + time (next such day of month);
    `trading_day` (next trading day, from the calendar)". `until` is handled by the caller (arriving after it
    is not a wait but an exit `missed`).
    """
    form = wait.form
    if form == "for":
        assert wait.for_ is not None
        return arrived + wait.for_
    if form == "until":
        assert wait.until is not None
        return wait.until.astimezone(UTC).replace(tzinfo=None)
    clock = wait.at or time(0, 0)
    if form == "at":
        first = _first_local(arrived, timezone, clock, lambda _day: True)
        assert first is not None
        # day N: N - 1 local days after day 1, at the same local time
        later = to_local(first, timezone).date() + timedelta(days=(wait.day or 1) - 1)
        return to_utc(datetime.combine(later, clock), timezone)
    if form == "weekday":
        weekday = WEEKDAYS.index(str(wait.weekday))
        return _first_local(arrived, timezone, clock, lambda day: day.weekday() == weekday)
    if form == "month_day":
        # "next such day of month": a month without that day (31 in April) has none
        return _first_local(arrived, timezone, clock, lambda day: day.day == wait.month_day)
    assert form == "trading_day"
    return _first_local(arrived, timezone, clock, lambda day: is_trading_day(day, calendar))


def in_quiet_hours(utc: datetime, timezone: str, quiet: QuietHours) -> bool:
    """Is the local time inside [from, to)? A window whose start is after its end wraps midnight (22:00 to
    08:00); `from` is inside, `to` is not."""
    now = to_local(utc, timezone).time()
    if quiet.from_ <= quiet.to:
        return quiet.from_ <= now < quiet.to
    return now >= quiet.from_ or now < quiet.to


def end_of_quiet_hours(utc: datetime, timezone: str, quiet: QuietHours) -> datetime:
    """Spec section 2 (send, quiet hours `defer`): the next local `to` not before `utc`."""
    moment = _first_local(utc, timezone, quiet.to, lambda _day: True)
    assert moment is not None
    return moment


def next_trading_day_same_time(utc: datetime, timezone: str, calendar: TradingCalendar) -> datetime | None:
    """Spec section 2 (send, non-trading-day `postpone`): the next trading day after the local day of `utc`,
    at the same local time."""
    local = to_local(utc, timezone)
    for offset in range(1, _SEARCH_DAYS):
        day = local.date() + timedelta(days=offset)
        if is_trading_day(day, calendar):
            return to_utc(datetime.combine(day, local.time()), timezone)
    return None
