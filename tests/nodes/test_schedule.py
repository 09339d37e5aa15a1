"""Trigger `schedule_recurring`: the cron runs in the journey's timezone; the audience enters at each
occurrence's UTC time; a schedule starts at the first tick that runs its journey (earlier occurrences are not
replayed); each occurrence's audience is judged once; frequency, re-entry and the journey's quiet hours
apply."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

pytestmark = pytest.mark.slow

H = timedelta(hours=1)
D = timedelta(days=1)


def day(n: int, hour: int = 2) -> datetime:
    """March n, 2026 at `hour`:00 UTC; 10:00 in Asia/Shanghai is 02:00 UTC."""
    return datetime(2026, 3, n, hour, 0)


DAILY = """
id: daily_recall
name: Daily recall
type: urgent
timezone: Asia/Shanghai
active: {from: "2026-01-01T00:00:00Z", until: "2027-01-01T00:00:00Z"}
quiet_hours: {from: "01:00", to: "07:00"}
entry:
  schedule_recurring:
    cron: "0 10 * * *"
  audience: {segment: dormant_90d}
  frequency: {max: 2, per: 7d}
nodes:
  hello:
    send: {channel: sms, template: recall_sms}
    next: pause
  pause:
    wait: {for: 1h}
"""

# Inside for 36 hours: without re-entry the next day's occurrence finds the profile still inside.
LONG_STAY = """
id: long_stay
name: Long stay, no re-entry
timezone: Asia/Shanghai
active: {from: "2026-01-01T00:00:00Z", until: "2027-01-01T00:00:00Z"}
entry:
  schedule_recurring:
    cron: "0 10 * * *"
  audience: {where: "city = 'Hangzhou'"}
  reentry: false
nodes:
  stay:
    wait: {for: 36h}
"""

MEMBERS = {
    "sh": "Asia/Shanghai",
    "null_tz": None,  # falls back to the journey's timezone: 10:00
    "ny": "America/New_York",  # 21:00 the evening before
    "london": "Europe/London",  # 02:00: quiet
    "tashkent": "Asia/Tashkent",  # 07:00: the end of the quiet window is outside it
    "cape_verde": "Atlantic/Cape_Verde",  # 01:00: the start of the quiet window is inside it
    "buyer": "Asia/Shanghai",
}


def entries(sc, journey_id, profile_id):
    return [
        t["logical_at"]
        for t in sc.transitions(profile_id)
        if t["journey_id"] == journey_id and t["reason"] == "entered"
    ]


@pytest.fixture(scope="module")
def daily(tmp_path_factory, scenario_builder):
    sc = scenario_builder(
        tmp_path_factory.mktemp("schedule"), {"daily_recall": DAILY, "long_stay": LONG_STAY}
    )
    for pid, tz in MEMBERS.items():
        sc.profile(pid, timezone=tz, member_level="gold")
    sc.profile("late_member", timezone="Asia/Shanghai")
    sc.profile("guest", timezone="Asia/Shanghai")
    sc.profile("stayer", timezone="Asia/Shanghai", city="Hangzhou")
    sc.event("b1", "buyer", "purchase", day(3, 20), value=30.0)
    sc.tick(day(2, 3))  # the first tick: the schedule starts here (Mar 2 10:00 Shanghai has passed)
    sc.tick(day(3, 3))
    sc.sql(
        "update raw.profiles set attributes = ? where profile_id = 'late_member'",
        [json.dumps({"member_level": "silver"})],
    )
    for n in range(4, 11):
        sc.tick(day(n, 3))
    return sc


def test_occurrences_enter_at_their_utc_time_within_the_frequency(daily):
    # max 2 per 7 days: Mar 3 and 4; Mar 10 is 7 days after Mar 3, whose entry has left the window
    for pid in ("sh", "null_tz", "ny", "tashkent"):
        assert entries(daily, "daily_recall", pid) == [day(3), day(4), day(10)], pid


def test_no_replay_of_occurrences_before_the_first_tick(daily):
    assert min(t["logical_at"] for t in daily.transitions()) == day(3)


def test_journey_quiet_hours_drop_entries_in_the_profile_local_window(daily):
    assert entries(daily, "daily_recall", "london") == []
    assert entries(daily, "daily_recall", "cape_verde") == []


def test_the_audience_is_judged_at_each_occurrence(daily):
    # bought on Mar 3 at 20:00 UTC: dormant at the Mar 3 occurrence, not from Mar 4 on
    assert entries(daily, "daily_recall", "buyer") == [day(3)]
    assert entries(daily, "daily_recall", "guest") == []


def test_each_occurrence_is_judged_once(daily):
    # became a member after the Mar 3 tick: the Mar 3 occurrence is not judged again
    assert entries(daily, "daily_recall", "late_member") == [day(4), day(5)]


def test_the_entry_runs_its_path_from_the_occurrence(daily):
    (first, *_rest) = daily.paths("sh").values()
    assert first == [
        (None, "hello", None, "entered", day(3)),
        ("hello", "pause", "next", "advanced", day(3)),
        ("pause", None, "next", "completed", day(3) + H),
    ]
    sends = [s for s in daily.sends("sh")]
    assert [(s["created_at"], s["channel"], s["priority"]) for s in sends] == [
        (day(3), "sms", 2),
        (day(4), "sms", 2),
        (day(10), "sms", 2),
    ]


def test_reentry_false_refuses_only_while_inside(daily):
    # each stay lasts 36h: Mar 3 02:00 -> Mar 4 14:00; Mar 4's occurrence finds it inside, Mar 5's does not
    assert entries(daily, "long_stay", "stayer") == [day(3), day(5), day(7), day(9)]


def test_long_stay_refuses_the_occurrence_while_inside(daily):
    got = entries(daily, "long_stay", "stayer")
    assert got[0] == day(3)
    assert day(4) not in got


def test_a_tick_covering_two_occurrences_enters_both(tmp_path, scenario_builder):
    sc = scenario_builder(tmp_path / "coarse", {"daily_recall": DAILY})
    sc.profile("sh", timezone="Asia/Shanghai", member_level="gold")
    sc.tick(day(2, 3))
    sc.tick(day(4, 3))  # covers the Mar 3 and Mar 4 occurrences
    sc.tick(day(5, 3))
    assert entries(sc, "daily_recall", "sh") == [day(3), day(4)]
