"""`wait` forms in local time (the profile's timezone, else the journey's), across the start of daylight
saving time in Europe/Berlin (Sunday 29 March 2026, 02:00 CET -> 03:00 CEST, i.e. 01:00 UTC): `until`
(arriving after it -> exit `missed`), `at` on day N, `weekday` + `at`, `month_day` + `at`,
`trading_day: next` + `at`; and the `exit` node with its reason."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

pytestmark = pytest.mark.slow

JOURNEY = """
id: local_waits
name: Local waits
timezone: Asia/Shanghai
active: {from: "2026-01-01T00:00:00Z", until: "2027-01-01T00:00:00Z"}
entry:
  event:
    did: {event: signup}
nodes:
  route:
    segment_split:
      branches:
        - {where: "city = 'until'", to: w_until}
        - {where: "city = 'at1'", to: w_at_day1}
        - {where: "city = 'at2'", to: w_at_day2}
        - {where: "city = 'weekday'", to: w_weekday}
        - {where: "city = 'month_day'", to: w_month_day}
        - {where: "city = 'trading'", to: w_trading}
      else: bye
  w_until:
    wait: {until: "2026-03-28T12:00:00Z"}
    next: bye
  w_at_day1:
    wait: {at: "08:00"}
    next: bye
  w_at_day2:
    wait: {at: "08:00", day: 2}
    next: bye
  w_weekday:
    wait: {weekday: sunday, at: "09:00"}
    next: bye
  w_month_day:
    wait: {month_day: 29, at: "09:00"}
    next: bye
  w_trading:
    wait: {trading_day: next, at: "09:30"}
    next: bye
  bye:
    exit: {reason: waited_enough}
"""

BERLIN = "Europe/Berlin"


def utc(month: int, day_: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day_, hour, minute)


# profile -> (route, timezone, arrival UTC, the wait's end UTC)
CASES = {
    "u_before": ("until", BERLIN, utc(3, 27, 18), utc(3, 28, 12)),
    "u_exact": ("until", BERLIN, utc(3, 28, 12), utc(3, 28, 12)),
    # Sat 12:00 CET -> Sun 08:00 CEST (06:00 UTC, not 07:00)
    "a1_sat": ("at1", BERLIN, utc(3, 28, 11), utc(3, 29, 6)),
    # Sat 07:00 CET -> the same day's 08:00 CET
    "a1_early": ("at1", BERLIN, utc(3, 28, 6), utc(3, 28, 7)),
    # no timezone: Asia/Shanghai, Sat 19:00 -> Sun 08:00 (00:00 UTC)
    "a1_null_tz": ("at1", None, utc(3, 28, 11), utc(3, 29, 0)),
    # Fri 12:00 CET -> day 1 is Sat 08:00 CET, day 2 Sun 08:00 CEST
    "a2_fri": ("at2", BERLIN, utc(3, 27, 11), utc(3, 29, 6)),
    "a2_sat": ("at2", BERLIN, utc(3, 28, 11), utc(3, 30, 6)),
    # Fri 19:00 CET -> Sun 09:00 CEST
    "wd_fri": ("weekday", BERLIN, utc(3, 27, 18), utc(3, 29, 7)),
    "wd_sun_before": ("weekday", BERLIN, utc(3, 29, 6, 30), utc(3, 29, 7)),
    "wd_sun_after": ("weekday", BERLIN, utc(3, 29, 8), utc(4, 5, 7)),
    "md_before": ("month_day", BERLIN, utc(3, 27, 18), utc(3, 29, 7)),
    "md_after": ("month_day", BERLIN, utc(3, 29, 10), utc(4, 29, 7)),
    # Fri evening -> Sat, Sun and the Monday holiday are closed -> Tue 09:30 CEST
    "td_fri_evening": ("trading", BERLIN, utc(3, 27, 18), utc(3, 31, 7, 30)),
    "td_sat": ("trading", BERLIN, utc(3, 28, 10), utc(3, 31, 7, 30)),
    # no timezone: Fri 11:00 in Shanghai, 09:30 has passed -> Tue 09:30 in Shanghai
    "td_null_tz": ("trading", None, utc(3, 27, 3), utc(3, 31, 1, 30)),
}
MISSED_AT = utc(3, 28, 12, 1)
CLOSED = {date(2026, 3, 28), date(2026, 3, 29), date(2026, 3, 30), date(2026, 4, 4), date(2026, 4, 5)}
FIRST_TICK = utc(3, 30, 0)


@pytest.fixture(scope="module")
def waits(tmp_path_factory, scenario_builder):
    sc = scenario_builder(tmp_path_factory.mktemp("waits"), {"local_waits": JOURNEY})
    for pid, (route, tz, arrival, _) in CASES.items():
        sc.profile(pid, timezone=tz, city=route)
        sc.event(f"{pid}_s", pid, "signup", arrival)
    sc.profile("u_after", timezone=BERLIN, city="until")
    sc.event("u_after_s", "u_after", "signup", MISSED_AT)
    for offset in range(20, 45):
        d = date(2026, 3, 1) + timedelta(days=offset)
        sc.sql("insert into raw.trading_calendar values (?, ?)", [d, d not in CLOSED])
    sc.tick(FIRST_TICK)
    early = {s["profile_id"]: (s["node_id"], s["status"]) for s in sc.state()}
    sc.tick(utc(4, 30, 0))
    return sc, early


ROUTES = ["until", "at1", "at2", "weekday", "month_day", "trading"]


@pytest.mark.parametrize("pid", sorted(CASES))
def test_the_wait_ends_at_the_local_time_in_utc(waits, pid):
    sc, _ = waits
    route, _, arrival, ends = CASES[pid]
    wait = f"w_{_node(pid)}"
    assert sc.moves(pid) == [
        (None, "route", None, "entered", arrival),
        ("route", wait, f"branch_{ROUTES.index(route) + 1}", "advanced", arrival),
        (wait, "bye", "next", "advanced", ends),
        ("bye", None, "exit:waited_enough", "waited_enough", ends),
    ]


def test_the_exit_node_ends_the_path_with_its_reason(waits):
    sc, _ = waits
    for pid in CASES:
        (state,) = sc.state(pid)
        assert (state["node_id"], state["status"]) == ("bye", "exited"), pid


def test_arriving_after_until_leaves_with_reason_missed(waits):
    sc, _ = waits
    assert sc.moves("u_after") == [
        (None, "route", None, "entered", MISSED_AT),
        ("route", "w_until", "branch_1", "advanced", MISSED_AT),
        ("w_until", None, "exit:missed", "missed", MISSED_AT),
    ]
    (state,) = sc.state("u_after")
    assert (state["node_id"], state["status"]) == ("w_until", "exited")


def test_profiles_wait_until_the_end_comes(waits):
    _, early = waits
    for pid, (_, _, _, ends) in CASES.items():
        expected = ("bye", "exited") if ends <= FIRST_TICK else (f"w_{_node(pid)}", "active")
        assert early[pid] == expected, pid


def _node(pid: str) -> str:
    return {
        "u": "until",
        "a1": "at_day1",
        "a2": "at_day2",
        "wd": "weekday",
        "md": "month_day",
        "td": "trading",
    }[pid.split("_")[0]]
