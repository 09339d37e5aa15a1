"""The shipped welcome series, tick by tick: where each profile is, and when (logical time) it got there.

Logical times are the event times and wait ends, never the tick times (spec section 3).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

pytestmark = pytest.mark.slow

H = timedelta(hours=1)
D = timedelta(days=1)
T0 = datetime(2026, 3, 2, 10, 17)  # odd minutes: no tick ever lands on an event time

NUDGES = {"nudge_push": ("push", "activation_nudge"), "nudge_email": ("email", "activation_nudge_b")}


def test_three_profiles_walk_the_welcome_series_with_logical_times(make_scenario, welcome_yaml):
    sc = make_scenario({"welcome_series": welcome_yaml})
    for pid in ("p_act", "p_idle", "p_early"):
        sc.profile(pid, city="Hangzhou")
    sc.event("s1", "p_act", "signup", T0, channel="web")
    sc.event("s2", "p_idle", "signup", T0 + timedelta(minutes=20), channel="app")
    sc.event("s3", "p_early", "signup", T0 + timedelta(minutes=5))
    # before the check's window opens (it opens when the wait ends): counts for the goal, not for the check
    sc.event("a3", "p_early", "activate", T0 + 2 * H)
    # inside the check's window [signup + 1d, signup + 4d]
    sc.event("a1", "p_act", "activate", T0 + 2 * D + 3 * H)
    signup = {"p_act": T0, "p_idle": T0 + timedelta(minutes=20), "p_early": T0 + timedelta(minutes=5)}

    # ---- tick 1: everyone enters, gets the welcome email and waits a day from their own signup time
    t1 = T0 + H
    sc.tick(t1)
    for pid, at in signup.items():
        assert sc.moves(pid) == [
            (None, "welcome", None, "entered", at),
            ("welcome", "wait_a_day", "next", "advanced", at),
        ]
        (state,) = sc.state(pid)
        assert (state["node_id"], state["status"], state["node_entered_at"]) == ("wait_a_day", "active", at)
        (send,) = sc.sends(pid)
        assert (send["node_id"], send["channel"], send["template"]) == ("welcome", "email", "welcome_email")
        assert send["created_at"] == at
        assert send["not_before"] == at
    assert {t["tick_at"] for t in sc.transitions()} == {t1}
    # the activation at T0+2h lies after this tick: not seen yet
    assert sc.rows("journeys.goal_completions") == []
    entry_ids = {s["profile_id"]: s["entry_id"] for s in sc.state()}
    assert len(set(entry_ids.values())) == 3

    # ---- tick 2: the waits ended at signup + 1d (not at the tick time); the early activation is a goal
    t2 = T0 + D + 6 * H
    sc.tick(t2)
    for pid, at in signup.items():
        last = sc.transitions(pid)[-1]
        assert (last["from_node"], last["to_node"], last["logical_at"], last["tick_at"]) == (
            "wait_a_day",
            "activated",
            at + D,
            t2,
        )
        (state,) = sc.state(pid)
        assert (state["node_id"], state["status"], state["node_entered_at"]) == (
            "activated",
            "active",
            at + D,
        )
        assert state["entry_id"] == entry_ids[pid]
    goals = sc.rows("journeys.goal_completions")
    assert [(g["profile_id"], g["goal_id"], g["completed_at"]) for g in goals] == [
        ("p_early", "activated", T0 + 2 * H)
    ]

    # ---- tick 3: p_act's activation answers the check at the event's time
    t3 = T0 + 3 * D
    sc.tick(t3)
    assert sc.moves("p_act")[2:] == [
        ("wait_a_day", "activated", "next", "advanced", T0 + D),
        ("activated", "tag_active", "then", "advanced", T0 + 2 * D + 3 * H),
        ("tag_active", None, "next", "completed", T0 + 2 * D + 3 * H),
    ]
    (state,) = sc.state("p_act")
    assert (state["node_id"], state["status"]) == ("tag_active", "completed")
    tags = sc.rows("journeys.journey_tags")
    assert [(t["profile_id"], t["tag"], t["tagged_at"], t["removed"]) for t in tags] == [
        ("p_act", "activated_in_welcome", T0 + 2 * D + 3 * H, False)
    ]
    # the other two still wait: their windows close at signup + 4d
    for pid in ("p_idle", "p_early"):
        (state,) = sc.state(pid)
        assert (state["node_id"], state["status"]) == ("activated", "active")

    # ---- tick 4: the windows closed at signup + 4d -> else -> A/B nudge, all at that logical time
    t4 = T0 + 5 * D
    sc.tick(t4)
    for pid in ("p_idle", "p_early"):
        closed = signup[pid] + 4 * D
        moves = sc.moves(pid)
        assert moves[3] == ("activated", "nudge_split", "else", "advanced", closed)
        group = moves[4][2]
        assert group in NUDGES
        assert moves[4] == ("nudge_split", group, group, "advanced", closed)
        assert moves[5] == (group, None, "next", "completed", closed)
        assert len(moves) == 6
        (state,) = sc.state(pid)
        assert (state["node_id"], state["status"], state["ab_group"]) == (group, "completed", group)
        welcome, nudge = sc.sends(pid)
        assert (nudge["node_id"], nudge["channel"], nudge["template"]) == (group, *NUDGES[group])
        assert nudge["created_at"] == closed
        assert nudge["ab_group"] == group
        assert nudge["message_id"] != welcome["message_id"]
        assert {welcome["entry_id"], nudge["entry_id"]} == {entry_ids[pid]}

    # p_act's activation also completed its goal, once, at the event time
    goals = sc.rows("journeys.goal_completions", order="profile_id")
    assert [(g["profile_id"], g["completed_at"]) for g in goals] == [
        ("p_act", T0 + 2 * D + 3 * H),
        ("p_early", T0 + 2 * H),
    ]
    assert len(sc.sends()) == 5
    assert len({s["message_id"] for s in sc.sends()}) == 5
