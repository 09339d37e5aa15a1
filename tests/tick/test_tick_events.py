"""Which events a tick sees: late loads, future event times, duplicate deliveries (spec sections 1 and 3)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

pytestmark = pytest.mark.slow

H = timedelta(hours=1)
D = timedelta(days=1)
M = timedelta(minutes=1)
T0 = datetime(2026, 3, 2, 9, 7)


def entered_at(sc, pid):
    return [t["logical_at"] for t in sc.transitions(pid) if t["reason"] == "entered"]


def test_late_events_are_picked_up_with_their_true_time(make_scenario, welcome_yaml):
    sc = make_scenario({"welcome_series": welcome_yaml})
    for pid in ("waiting", "late_signup"):
        sc.profile(pid)
    sc.event("s1", "waiting", "signup", T0)
    t1, t2 = T0 + H, T0 + D + 2 * H
    sc.tick(t1)
    sc.tick(t2)  # `waiting` is at the check since T0 + 1d
    (state,) = sc.state("waiting")
    assert state["node_id"] == "activated"

    # loaded after t2, happened before it
    loaded = t2 + 30 * M
    sc.event("a1", "waiting", "activate", T0 + D + H, loaded_at=loaded)
    sc.event("s2", "late_signup", "signup", T0 + 30 * M, loaded_at=loaded)
    t3 = t2 + H
    sc.tick(t3)

    check = [t for t in sc.transitions("waiting") if t["from_node"] == "activated"]
    assert [(t["branch"], t["logical_at"], t["tick_at"]) for t in check] == [("then", T0 + D + H, t3)]
    goals = sc.rows("journeys.goal_completions")
    assert [(g["profile_id"], g["completed_at"]) for g in goals] == [("waiting", T0 + D + H)]

    # the late signup enters at its event time, and its day-long wait already ended at T0 + 30m + 1d
    assert sc.moves("late_signup") == [
        (None, "welcome", None, "entered", T0 + 30 * M),
        ("welcome", "wait_a_day", "next", "advanced", T0 + 30 * M),
        ("wait_a_day", "activated", "next", "advanced", T0 + 30 * M + D),
    ]
    assert {t["tick_at"] for t in sc.transitions("late_signup")} == {t3}
    (send,) = sc.sends("late_signup")
    assert send["created_at"] == T0 + 30 * M


def test_a_tick_sees_only_events_up_to_its_time(make_scenario, welcome_yaml):
    sc = make_scenario({"welcome_series": welcome_yaml})
    sc.profiles(["future", "at_t", "backfill"])
    tick = T0 + H
    # already in the table when the tick runs (loaded before T), but it happens after T
    sc.event("s1", "future", "signup", tick + M, loaded_at=T0)
    sc.event("s2", "at_t", "signup", tick, loaded_at=T0)  # exactly at T: seen
    # happened before T but loaded after it (e.g. a backfill run after the fact): the next tick's
    sc.event("s3", "backfill", "signup", T0, loaded_at=tick + 10 * M)
    sc.tick(tick)
    assert sc.transitions("future") == []
    assert sc.transitions("backfill") == []
    assert entered_at(sc, "at_t") == [tick]
    sc.tick(tick + H)
    assert entered_at(sc, "future") == [tick + M]
    assert entered_at(sc, "backfill") == [T0]
    assert {t["tick_at"] for t in sc.transitions("backfill")} == {tick + H}


TWICE = """
id: second_signup
name: Second signup
timezone: UTC
active: {from: "2026-01-01T00:00:00Z", until: "2027-01-01T00:00:00Z"}
entry:
  event:
    did: {event: signup}
    mode: cumulative
    times: 2
start: hello
nodes:
  hello:
    send: {channel: email, template: welcome_email}
    next: check
  check:
    event_check:
      did: {event: activate, times: 2}
      within: 1d
    then: engaged
    else: idle
  engaged:
    add_tag: engaged
  idle:
    add_tag: idle
"""


def test_a_duplicate_delivery_counts_once(make_scenario):
    sc = make_scenario({"second_signup": TWICE})
    for pid in ("dup_same_load", "dup_later_load", "two_real"):
        sc.profile(pid)
    # one signup delivered twice in the same load
    sc.event("x1", "dup_same_load", "signup", T0)
    sc.event("x1", "dup_same_load", "signup", T0)
    # one signup delivered again after the first tick consumed it
    sc.event("y1", "dup_later_load", "signup", T0 + M)
    # two real signups, each activation delivered twice: only one real activation
    sc.event("z1", "two_real", "signup", T0 + 2 * M)
    sc.event("z2", "two_real", "signup", T0 + 3 * M)
    sc.event("z3", "two_real", "activate", T0 + H)
    sc.event("z3", "two_real", "activate", T0 + H)
    sc.tick(T0 + 30 * M)
    sc.event("y1", "dup_later_load", "signup", T0 + M, loaded_at=T0 + 40 * M)
    sc.event("z3", "two_real", "activate", T0 + H, loaded_at=T0 + 2 * H)
    sc.tick(T0 + 3 * H)
    sc.tick(T0 + 2 * D)

    assert sc.transitions("dup_same_load") == []
    assert sc.transitions("dup_later_load") == []
    assert entered_at(sc, "two_real") == [T0 + 3 * M]
    check = [t for t in sc.transitions("two_real") if t["from_node"] == "check"]
    # `times: 2` is not satisfied by one activation delivered three times: the window closes -> else
    assert [(t["branch"], t["to_node"], t["logical_at"]) for t in check] == [("else", "idle", T0 + 3 * M + D)]
    assert [(t["tag"]) for t in sc.rows("journeys.journey_tags")] == ["idle"]
    assert len(sc.sends()) == 1
