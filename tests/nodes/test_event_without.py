"""Trigger `event_without`: did A (with its filter), then not B within the window after A; the profile enters
when the window closes without B, at A's time + the window."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

pytestmark = pytest.mark.slow

M = timedelta(minutes=1)
H = timedelta(hours=1)
T = datetime(2026, 3, 3, 9, 0)

JOURNEY = """
id: cart_left
name: Cart left without a purchase
timezone: UTC
active: {from: "2026-01-01T00:00:00Z", until: "2027-01-01T00:00:00Z"}
entry:
  event_without:
    did: {event: add_to_cart, where: "value >= 50"}
    then_not: {event: purchase}
    within: 1h
nodes:
  remind:
    send: {channel: email, template: welcome_email}
"""

# profile -> (events as (name, minutes after T, properties))
PROFILES = {
    "no_purchase": [("add_to_cart", 0, {"value": 60.0, "sku": "A"})],
    "bought_inside": [("add_to_cart", 0, {"value": 60.0}), ("purchase", 30, {"value": 60.0})],
    "bought_at_close": [("add_to_cart", 0, {"value": 60.0}), ("purchase", 60, {"value": 60.0})],
    "bought_after": [("add_to_cart", 0, {"value": 60.0}), ("purchase", 61, {"value": 60.0})],
    "bought_before": [("purchase", -10, {"value": 60.0}), ("add_to_cart", 0, {"value": 60.0})],
    "bought_same_instant": [("add_to_cart", 0, {"value": 60.0}), ("purchase", 0, {"value": 60.0})],
    "small_cart": [("add_to_cart", 0, {"value": 49.99})],
    "late_cart": [("add_to_cart", 45, {"value": 80.0})],  # its window is still open at the first tick
    "other_event": [("add_to_cart", 0, {"value": 60.0}), ("app_open", 30, {})],
}


@pytest.fixture(scope="module")
def run(tmp_path_factory, scenario_builder):
    sc = scenario_builder(tmp_path_factory.mktemp("event_without"), {"cart_left": JOURNEY})
    for pid, events in PROFILES.items():
        sc.profile(pid)
        for i, (name, minutes, props) in enumerate(events):
            sc.event(f"{pid}_{i}", pid, name, T + minutes * M, **props)
    sc.tick(T + 65 * M)
    first = {t["profile_id"]: t["logical_at"] for t in sc.transitions() if t["reason"] == "entered"}
    sc.tick(T + 3 * H)
    return sc, first


def _entered(sc):
    return {t["profile_id"]: t["logical_at"] for t in sc.transitions() if t["reason"] == "entered"}


def test_enters_when_the_window_closes_without_the_other_event(run):
    sc, _ = run
    assert _entered(sc) == {
        "no_purchase": T + H,
        "bought_after": T + H,  # the purchase came a minute after the window closed
        "bought_before": T + H,  # a purchase before the cart does not count
        "late_cart": T + 45 * M + H,
        "other_event": T + H,
    }


def test_a_purchase_inside_the_window_or_at_its_end_prevents_the_entry(run):
    sc, _ = run
    entered = _entered(sc)
    for pid in ("bought_inside", "bought_at_close", "bought_same_instant", "small_cart"):
        assert pid not in entered, pid


def test_no_entry_before_the_window_closes(run):
    _, first = run
    assert "late_cart" not in first
    assert first["no_purchase"] == T + H


def test_the_message_is_created_at_the_entry_time_with_the_cart_as_event(run):
    sc, _ = run
    (send,) = sc.sends("no_purchase")
    assert (send["created_at"], send["not_before"], send["status"]) == (T + H, T + H, "queued")
    payload = json.loads(send["payload"])
    assert payload["event"]["event_name"] == "add_to_cart"
    assert payload["event"]["event_id"] == "no_purchase_0"
