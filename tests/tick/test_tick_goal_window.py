"""A goal is counted for its whole window after entry, even past the journey's active end (a regression
found by tests/differential: the SQL cut the window at the end, the reference interpreter did not)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

pytestmark = pytest.mark.slow

T = datetime(2026, 3, 7, 12, 0)
H = timedelta(hours=1)

SHORT_CAMPAIGN = """
id: short_campaign
timezone: UTC
active: {from: "2026-01-01T00:00:00Z", until: "2026-03-07T14:00:00Z"}
entry:
  event:
    did: {event: add_to_cart}
goals:
  - id: bought
    did: {event: purchase}
    within: 12h
nodes:
  tag:
    add_tag: warm
"""


def test_a_goal_after_the_active_end_within_its_window_counts(make_scenario):
    sc = make_scenario({"short_campaign": SHORT_CAMPAIGN})
    sc.profiles(["p", "late"])
    sc.event("c1", "p", "add_to_cart", T, value=80.0, sku="s1")
    sc.event("b1", "p", "purchase", T + 5 * H, value=120.0, order_id="o1")  # after the end, within 12h
    sc.event("c2", "late", "add_to_cart", T, value=80.0, sku="s1")
    sc.event("b2", "late", "purchase", T + 13 * H, value=120.0, order_id="o2")  # after the goal window
    sc.tick(T + H)
    sc.tick(T + 24 * H)
    goals = sc.rows("journeys.goal_completions", "profile_id, goal_id, completed_at")
    assert goals == [{"profile_id": "p", "goal_id": "bought", "completed_at": T + 5 * H}]
