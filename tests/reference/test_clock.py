"""Local waits, quiet hours and trading days of the reference interpreter, against the hand-computed cases of
tests/nodes/test_waits.py and tests/nodes/test_send_options.py (Europe/Berlin starts daylight saving on
Sunday 29 March 2026: 02:00 CET -> 03:00 CEST)."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from journey_compiler.config.journey import QuietHours, WaitSpec
from journey_compiler.reference.clock import (
    end_of_quiet_hours,
    in_quiet_hours,
    next_trading_day_same_time,
    wait_end,
)

BERLIN = "Europe/Berlin"
SHANGHAI = "Asia/Shanghai"
CLOSED = {date(2026, 3, 28), date(2026, 3, 29), date(2026, 3, 30), date(2026, 4, 4), date(2026, 4, 5)}
CALENDAR = {date(2026, 3, d): date(2026, 3, d) not in CLOSED for d in range(21, 32)}


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute)


WAITS = {
    "at1": WaitSpec(at="08:00"),
    "at2": WaitSpec(at="08:00", day=2),
    "weekday": WaitSpec(weekday="sunday", at="09:00"),
    "month_day": WaitSpec(month_day=29, at="09:00"),
    "trading": WaitSpec(trading_day="next", at="09:30"),
}

CASES = [
    ("at1", BERLIN, utc(3, 28, 11), utc(3, 29, 6)),  # Sat 12:00 CET -> Sun 08:00 CEST
    ("at1", BERLIN, utc(3, 28, 6), utc(3, 28, 7)),  # Sat 07:00 CET -> the same day's 08:00
    ("at1", SHANGHAI, utc(3, 28, 11), utc(3, 29, 0)),
    ("at2", BERLIN, utc(3, 27, 11), utc(3, 29, 6)),  # day 1 Sat 08:00 CET, day 2 Sun 08:00 CEST
    ("at2", BERLIN, utc(3, 28, 11), utc(3, 30, 6)),
    ("weekday", BERLIN, utc(3, 27, 18), utc(3, 29, 7)),
    ("weekday", BERLIN, utc(3, 29, 6, 30), utc(3, 29, 7)),
    ("weekday", BERLIN, utc(3, 29, 8), utc(4, 5, 7)),
    ("month_day", BERLIN, utc(3, 27, 18), utc(3, 29, 7)),
    ("month_day", BERLIN, utc(3, 29, 10), utc(4, 29, 7)),
    ("trading", BERLIN, utc(3, 27, 18), utc(3, 31, 7, 30)),  # Sat, Sun, Mon closed -> Tue 09:30 CEST
    ("trading", BERLIN, utc(3, 28, 10), utc(3, 31, 7, 30)),
    ("trading", SHANGHAI, utc(3, 27, 3), utc(3, 31, 1, 30)),
]


@pytest.mark.parametrize(("form", "tz", "arrived", "ends"), CASES)
def test_local_waits_end_at_the_hand_computed_utc_time(form, tz, arrived, ends):
    assert wait_end(WAITS[form], arrived, tz, CALENDAR) == ends


def test_duration_and_until_waits():
    assert wait_end(WaitSpec(for_="1d"), utc(3, 28, 11), BERLIN, {}) == utc(3, 29, 11)
    until = WaitSpec(until="2026-03-28T12:00:00Z")
    assert wait_end(until, utc(3, 27, 18), BERLIN, {}) == utc(3, 28, 12)


def test_month_day_skips_months_without_that_day():
    """Spec: "`month_day` + time (next such day of month)": after 31 March comes 31 May, not 1 May."""
    assert wait_end(WaitSpec(month_day=31, at="09:00"), utc(4, 1, 0), "UTC", {}) == utc(5, 31, 9)


def test_quiet_hours_include_their_start_and_exclude_their_end():
    quiet = QuietHours(**{"from": "22:00", "to": "08:00", "policy": "defer"})
    assert in_quiet_hours(utc(3, 3, 21), BERLIN, quiet)  # 22:00 CET
    assert not in_quiet_hours(utc(3, 3, 7), BERLIN, quiet)  # 08:00 CET
    assert end_of_quiet_hours(utc(3, 3, 22, 30), BERLIN, quiet) == utc(3, 4, 7)
    assert end_of_quiet_hours(utc(3, 3, 5), BERLIN, quiet) == utc(3, 3, 7)
    day = QuietHours(**{"from": "08:00", "to": "09:30"})
    assert in_quiet_hours(utc(3, 3, 1), SHANGHAI, day)  # 09:00 in Shanghai
    assert day.to == time(9, 30)


def test_postpone_keeps_the_local_time_across_daylight_saving():
    calendar = {date(2026, 3, d): date(2026, 3, d).weekday() < 5 for d in range(2, 12)}
    # Sat 12:00 EST -> Mon 12:00 EDT (New York started daylight saving on Sunday 8 March)
    assert next_trading_day_same_time(utc(3, 7, 17), "America/New_York", calendar) == utc(3, 9, 16)
    assert next_trading_day_same_time(utc(3, 6, 20), SHANGHAI, calendar) == utc(3, 8, 20)
