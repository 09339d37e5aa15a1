"""The `segment` trigger (docs/semantics.md, "The segment trigger"): a profile enters when the segment `vip`
(lifetime_value >= 1000, or tag vip, or orders summing to 2000 in 365 days) turns true for it, at the instant
it did; through an attribute, at the tick that sees it; in the segment when the journey starts, at the start.

The journey starts at T0; ticks at T0+1h, T0+1d and T0+2d. The path ends at once (a tag), so a profile
that leaves the segment and comes back enters again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

pytestmark = pytest.mark.slow

M = timedelta(minutes=1)
H = timedelta(hours=1)
D = timedelta(days=1)
T0 = datetime(2026, 3, 2, 9, 0)
TICKS = (T0 + H, T0 + D, T0 + 2 * D)

JOURNEY = """
id: vip_welcome
timezone: UTC
active: {from: "2026-03-02T09:00:00Z", until: "2027-01-01T00:00:00Z"}
entry:
  segment: vip
nodes:
  hello: {add_tag: vip_welcomed}
"""
PROFILES = {
    "v_start": {"lifetime_value": 5000},  # in the segment when the journey starts
    "v_order": {},
    "v_tag": {},
    "v_attr": {},  # lifetime_value 5000 after the first tick (LATER)
    "v_twice": {},  # an old order leaves the 365-day window at T0+1d, a new one comes at T0+1d+2h
    "v_none": {},
}
LATER = {"v_attr": {"lifetime_value": 5000}}
"""Attributes after the first tick (the reference's world has one state of them: it cannot take these)."""
TAGS = [("v_tag", "vip", T0 + 3 * H)]
ORDERS = [
    ("o1", "v_order", 2500.0, T0 + 30 * M),
    ("o2", "v_twice", 2500.0, T0 - 364 * D),
    ("o3", "v_twice", 2500.0, T0 + D + 2 * H),
]
ENTERED = {
    # profile: [(entry_at, tick that entered it)]
    "v_start": [(T0, TICKS[0])],
    "v_order": [(T0 + 30 * M, TICKS[0])],
    "v_tag": [(T0 + 3 * H, TICKS[1])],
    "v_attr": [(TICKS[1], TICKS[1])],
    "v_twice": [(T0, TICKS[0]), (T0 + D + 2 * H, TICKS[2])],
    "v_none": [],
}


@pytest.fixture(scope="module")
def sc(tmp_path_factory, scenario_builder):
    scenario = scenario_builder(tmp_path_factory.mktemp("segment_trigger"), {"vip_welcome": JOURNEY})
    for pid, attributes in PROFILES.items():
        scenario.profile(pid, **attributes)
    for tag in TAGS:
        scenario.tag(*tag)
    for order in ORDERS:
        scenario.order(*order)
    scenario.tick(TICKS[0])
    for pid, attributes in LATER.items():
        scenario.set_attributes(pid, attributes)
    for at in TICKS[1:]:
        scenario.tick(at)
    return scenario


@pytest.mark.parametrize("pid", sorted(ENTERED))
def test_a_profile_enters_when_the_segment_turns_true(sc, pid):
    entered = [(t["logical_at"], t["tick_at"]) for t in sc.transitions(pid) if t["reason"] == "entered"]
    assert entered == ENTERED[pid]


def test_each_entry_runs_the_journey(sc):
    tags = sc.rows("journeys.journey_tags", order="profile_id, tagged_at")
    assert [(t["profile_id"], t["tagged_at"]) for t in tags] == [
        (pid, at) for pid, rows in sorted(ENTERED.items()) for at, _ in rows
    ]


def test_a_tick_run_again_enters_nobody_twice(sc):
    before = sc.counts()
    sc.tick(TICKS[-1])
    assert sc.counts() == before
