"""Trigger `event` mode `each_of`: several events, each with its own count, combined with `all`/`any`; the
profile enters once, when the combination first holds, at the event that completed it (that event is the
entry's triggering event)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

pytestmark = pytest.mark.slow

M = timedelta(minutes=1)
H = timedelta(hours=1)
T = datetime(2026, 3, 3, 9, 0)
FIRST_TICK = T + 30 * M

TRIGGER = """
entry:
  event:
    mode: each_of
    each: [{event: add_to_cart, times: 2, where: "value >= 50"}, {event: app_open}]
    match: {match}
"""
HEADER = """
id: {id}
timezone: UTC
active: {{from: "2026-01-01T00:00:00Z", until: "2027-01-01T00:00:00Z"}}
"""
JOURNEYS = {
    "each_all": HEADER.format(id="each_all")
    + TRIGGER.replace("{match}", "all")
    + "nodes:\n  hello:\n    send: {channel: email, template: welcome_email}\n",
    "each_any": HEADER.format(id="each_any")
    + TRIGGER.replace("{match}", "any")
    + "nodes:\n  hello:\n    add_tag: any_met\n",
}

BIG = {"value": 60.0}
# profile -> [(event, minutes after T, properties)]
EVENTS = {
    "both": [("add_to_cart", 0, BIG), ("app_open", 10, {}), ("add_to_cart", 20, BIG)],
    "one_cart": [("add_to_cart", 0, BIG), ("app_open", 10, {})],
    "carts_only": [("add_to_cart", 0, BIG), ("add_to_cart", 5, BIG)],
    "small_cart": [("add_to_cart", 0, BIG), ("add_to_cart", 5, {"value": 10.0}), ("app_open", 10, {})],
    "again": [
        ("add_to_cart", 0, BIG),
        ("add_to_cart", 5, BIG),
        ("app_open", 10, {}),
        ("app_open", 200, {}),
        ("add_to_cart", 210, BIG),
        ("add_to_cart", 220, BIG),
    ],
    "across_ticks": [("add_to_cart", 0, BIG), ("add_to_cart", 5, BIG), ("app_open", 60, {})],
}
ENTERED = {
    "each_all": {"both": ("both_2", 20), "again": ("again_2", 10), "across_ticks": ("across_ticks_2", 60)},
    "each_any": {
        "both": ("both_1", 10),
        "one_cart": ("one_cart_1", 10),
        "carts_only": ("carts_only_1", 5),
        "small_cart": ("small_cart_2", 10),
        "again": ("again_1", 5),
        "across_ticks": ("across_ticks_1", 5),
    },
}
"""journey -> profile -> (the triggering event's id, minutes after T): each profile enters once."""


@pytest.fixture(scope="module")
def each_of(tmp_path_factory, scenario_builder):
    sc = scenario_builder(tmp_path_factory.mktemp("each_of"), JOURNEYS)
    for pid, events in EVENTS.items():
        sc.profile(pid)
        for i, (name, minutes, props) in enumerate(events):
            sc.event(f"{pid}_{i}", pid, name, T + minutes * M, **props)
    sc.tick(FIRST_TICK)
    sc.tick(T + 6 * H)
    return sc


def test_each_profile_enters_once_when_the_combination_first_holds(each_of):
    entered = [t for t in each_of.transitions() if t["reason"] == "entered"]
    found = {
        jid: {t["profile_id"]: t["logical_at"] for t in entered if t["journey_id"] == jid} for jid in JOURNEYS
    }
    assert found == {jid: {p: T + m * M for p, (_, m) in want.items()} for jid, want in ENTERED.items()}
    assert len(entered) == sum(len(want) for want in ENTERED.values())


def test_the_event_that_completed_the_combination_is_the_triggering_event(each_of):
    for pid, (event_id, minutes) in ENTERED["each_all"].items():
        (send,) = each_of.sends(pid)
        assert json.loads(send["payload"])["event"]["event_id"] == event_id, pid
        assert send["created_at"] == T + minutes * M
