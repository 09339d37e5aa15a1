"""Trigger `event_without` with `by:`: did A, then not B by a local time on the local day of A (the
profile's timezone, else the journey's); the profile enters when that local time passes without B. An A
after that time of its day opens no window (docs/semantics.md, "event_without by a local time"). New York
moves its clocks on 8 March 2026 at 02:00: 20:00 is 01:00 UTC the next day before, 00:00 UTC after."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

pytestmark = pytest.mark.slow

H = timedelta(hours=1)

JOURNEY = """
id: cart_by_evening
name: Cart not bought by the evening
timezone: America/New_York
active: {from: "2026-01-01T00:00:00Z", until: "2027-01-01T00:00:00Z"}
entry:
  event_without:
    did: {event: add_to_cart}
    then_not: {event: purchase}
    by: "20:00"
nodes:
  remind:
    send: {channel: email, template: welcome_email}
"""

SAT_EVENING = datetime(2026, 3, 8, 1, 0)  # Saturday 7 March, 20:00 EST
SUN_EVENING = datetime(2026, 3, 9, 0, 0)  # Sunday 8 March, 20:00 EDT
# profile -> (timezone, [(event, UTC time)], expected entry time or None)
CASES = {
    "sat": (None, [("add_to_cart", datetime(2026, 3, 7, 14, 0))], SAT_EVENING),
    "sat_midnight": (None, [("add_to_cart", datetime(2026, 3, 7, 5, 10))], SAT_EVENING),  # 00:10 EST
    "sun": (None, [("add_to_cart", datetime(2026, 3, 8, 14, 0))], SUN_EVENING),  # after the change
    "bought": (
        None,
        [("add_to_cart", datetime(2026, 3, 7, 14, 0)), ("purchase", datetime(2026, 3, 7, 23, 0))],
        None,
    ),
    "bought_at_by": (
        None,
        [("add_to_cart", datetime(2026, 3, 7, 14, 0)), ("purchase", SAT_EVENING)],
        None,
    ),
    "bought_later": (
        None,
        [("add_to_cart", datetime(2026, 3, 7, 14, 0)), ("purchase", datetime(2026, 3, 8, 2, 0))],
        SAT_EVENING,
    ),
    "cart_at_by": (None, [("add_to_cart", SAT_EVENING)], SAT_EVENING),
    "cart_after_by": (None, [("add_to_cart", datetime(2026, 3, 8, 1, 30))], None),  # 20:30 EST
    "shanghai": (
        "Asia/Shanghai",
        [("add_to_cart", datetime(2026, 3, 7, 2, 0))],  # 10:00 in Shanghai
        datetime(2026, 3, 7, 12, 0),  # 20:00 in Shanghai
    ),
}
FIRST_TICK = datetime(2026, 3, 8, 0, 30)
LAST_TICK = datetime(2026, 3, 9, 6, 0)


@pytest.fixture(scope="module")
def by_evening(tmp_path_factory, scenario_builder):
    sc = scenario_builder(tmp_path_factory.mktemp("without_by"), {"cart_by_evening": JOURNEY})
    for pid, (zone, events, _) in CASES.items():
        sc.profile(pid, timezone=zone)
        for i, (name, at) in enumerate(events):
            sc.event(f"{pid}_{i}", pid, name, at, value=60.0)
    sc.tick(FIRST_TICK)
    first = _entered(sc)
    sc.tick(LAST_TICK)
    return sc, first


def _entered(sc):
    return {t["profile_id"]: t["logical_at"] for t in sc.transitions() if t["reason"] == "entered"}


def test_enters_when_the_local_time_passes_without_the_other_event(by_evening):
    sc, first = by_evening
    assert _entered(sc) == {pid: at for pid, (_, _, at) in CASES.items() if at is not None}
    assert first == {"shanghai": CASES["shanghai"][2]}


def test_the_message_carries_the_event_that_opened_the_window(by_evening):
    sc, _ = by_evening
    for pid in ("sat", "sat_midnight"):
        (send,) = sc.sends(pid)
        assert send["created_at"] == SAT_EVENING
        assert json.loads(send["payload"])["event"]["event_id"] == f"{pid}_0"
