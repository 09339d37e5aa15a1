"""ab_split: random but deterministic (same profile + journey + entry -> same branch, on every engine and
every warehouse), roughly the configured shares, and the group is recorded for metrics."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import datetime, timedelta

import pytest

pytestmark = pytest.mark.slow

M = timedelta(minutes=1)
T0 = datetime(2026, 3, 2, 6, 0)
PROFILES = [f"p{i:03d}" for i in range(300)]

SPLIT = """
id: three_way
name: Three-way split
timezone: UTC
active: {from: "2026-01-01T00:00:00Z", until: "2027-01-01T00:00:00Z"}
entry:
  event:
    did: {event: signup}
start: split
nodes:
  split:
    ab_split:
      - {to: small, percent: 20}
      - {to: medium, percent: 30}
      - {to: large, percent: 50, id: big}
  small:
    send: {channel: email, template: welcome_email}
  medium:
    send: {channel: push, template: activation_nudge}
  large:
    wait: {for: 2h}
    next: large_send
  large_send:
    send: {channel: email, template: activation_nudge_b}
"""
SHARES = {"small": 0.20, "medium": 0.30, "big": 0.50}


def _run(sc, ticks):
    sc.profiles(PROFILES)
    with_ids = [(f"s_{pid}", pid, T0 + (i % 90) * M) for i, pid in enumerate(PROFILES)]
    sc.sql(
        "insert into raw.events select * from (values "
        + ", ".join(
            f"('{eid}', '{pid}', 'signup', timestamp '{at}', '{{}}'::json, timestamp '{at}')"
            for eid, pid, at in with_ids
        )
        + ")"
    )
    for at in ticks:
        sc.tick(at)
    return {
        t["entry_id"]: (t["profile_id"], t["branch"]) for t in sc.transitions() if t["from_node"] == "split"
    }


@pytest.fixture(scope="module")
def two_warehouses(tmp_path_factory, scenario_builder):
    a = scenario_builder(tmp_path_factory.mktemp("ab_a"), {"three_way": SPLIT})
    b = scenario_builder(tmp_path_factory.mktemp("ab_b"), {"three_way": SPLIT})
    # different cadences as well: one tick vs three
    groups_a = _run(a, [T0 + 5 * 60 * M])
    groups_b = _run(b, [T0 + 30 * M, T0 + 61 * M, T0 + 5 * 60 * M])
    return a, b, groups_a, groups_b


def test_same_entry_same_branch_in_two_warehouses(two_warehouses):
    _, _, groups_a, groups_b = two_warehouses
    assert len(groups_a) == len(PROFILES)
    assert groups_a == groups_b


def test_branches_roughly_match_the_percentages(two_warehouses):
    _, _, groups, _ = two_warehouses
    counts = Counter(branch for _, branch in groups.values())
    assert set(counts) == set(SHARES)
    for group, share in SHARES.items():
        assert abs(counts[group] / len(PROFILES) - share) < 0.08, counts


def test_branch_follows_the_documented_bucket(two_warehouses):
    """Recompute the branch outside the warehouse (another engine): md5(journey:entry:node) % 10 000."""
    _, _, groups, _ = two_warehouses
    bounds = [("small", 2000), ("medium", 5000), ("big", 10_000)]
    for entry_id, (_, branch) in groups.items():
        slot = int(hashlib.md5(f"three_way:{entry_id}:split".encode()).hexdigest()[:8], 16) % 10_000
        expected = next(group for group, upper in bounds if slot < upper)
        assert branch == expected, entry_id


def test_the_group_is_recorded_on_state_sends_and_transitions(two_warehouses):
    a, _, groups, _ = two_warehouses
    state = {s["entry_id"]: s for s in a.state()}
    for entry_id, (_, branch) in groups.items():
        assert state[entry_id]["ab_group"] == branch
        assert state[entry_id]["status"] == "completed"
    for send in a.sends():
        assert send["ab_group"] == groups[send["entry_id"]][1]
    target = {"small": "small", "medium": "medium", "big": "large"}
    for t in a.transitions():
        if t["from_node"] == "split":
            assert t["to_node"] == target[t["branch"]]
    daily = a.rows("journeys.journey_node_daily", where="node_id = 'split'")
    assert sum(r["left_node"] for r in daily) == len(PROFILES)
