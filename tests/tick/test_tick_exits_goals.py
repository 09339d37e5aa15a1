"""exit_when (leave at once, wherever, nothing after runs) and goals (recorded once, at the event time).

One welcome-series warehouse serves every test here: each test owns its profiles. All events are loaded up
front (a tick only sees event_time <= T), and the ticks are few and far apart, so that one tick covers both
an exit and the send it must prevent.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

pytestmark = pytest.mark.slow

H = timedelta(hours=1)
D = timedelta(days=1)
M = timedelta(minutes=1)
T0 = datetime(2026, 3, 2, 9, 29)
TICKS = (T0 + H, T0 + 4 * H, T0 + 6 * D, T0 + 10 * D)

SIGNUPS = {
    # exit while waiting (seen by the T0+6d tick), with an activation that would have answered the check
    "leaver": T0,
    "sms_only": T0,  # unsubscribes from sms: not the exit's filter
    "stayer": T0,
    # exit at T0+2d and the nudge the check would send at T0+4d fall into the same tick (T0+6d)
    "before_send": T0 + 2 * H,
    # entry, send and exit all inside the T0+6d tick
    "same_tick": T0 + 5 * H,
    # goals
    "repeat": T0,
    "after_completion": T0,
    "too_late": T0,
    "before_entry": T0,
}
EVENTS = [
    ("u1", "leaver", "unsubscribe", T0 + 10 * H, {"channel": "email"}),
    ("a1", "leaver", "activate", T0 + 2 * D, {}),
    ("u2", "sms_only", "unsubscribe", T0 + 10 * H, {"channel": "sms"}),
    ("u3", "before_send", "unsubscribe", T0 + 2 * H + 2 * D, {"channel": "email"}),
    ("u4", "same_tick", "unsubscribe", T0 + 5 * H + 5 * M, {"channel": "email"}),
    ("g0", "before_entry", "activate", T0 - H, {}),  # before the entry: not a goal of it
    ("g1", "repeat", "activate", T0 + 3 * H, {}),
    ("g2", "repeat", "activate", T0 + 5 * H, {}),
    ("g3", "repeat", "activate", T0 + 2 * D, {}),
    ("g4", "after_completion", "activate", T0 + 5 * D + 12 * H, {}),  # completed at T0+4d; 7d window
    ("g5", "too_late", "activate", T0 + 8 * D, {}),  # outside the 7d window
]


@pytest.fixture(scope="module")
def sc(tmp_path_factory, scenario_builder, welcome_yaml):
    scenario = scenario_builder(tmp_path_factory.mktemp("exits_goals"), {"welcome_series": welcome_yaml})
    scenario.profiles(SIGNUPS)
    for pid, at in SIGNUPS.items():
        scenario.event(f"s_{pid}", pid, "signup", at)
    for event_id, pid, name, at, props in EVENTS:
        scenario.event(event_id, pid, name, at, **props)
    for at in TICKS:
        scenario.tick(at)
    return scenario


def test_an_exit_while_waiting_ends_the_entry_and_nothing_after_runs(sc):
    (state,) = sc.state("leaver")
    assert (state["node_id"], state["status"], state["node_entered_at"]) == (
        "wait_a_day",
        "exited",
        T0 + 10 * H,
    )
    exits = [t for t in sc.transitions("leaver") if t["reason"] == "exit_when"]
    assert [(t["from_node"], t["logical_at"], t["tick_at"]) for t in exits] == [
        ("wait_a_day", T0 + 10 * H, T0 + 6 * D)
    ]
    assert max(t["logical_at"] for t in sc.transitions("leaver")) == T0 + 10 * H
    assert [s["node_id"] for s in sc.sends("leaver")] == ["welcome"]
    assert [t for t in sc.rows("journeys.journey_tags") if t["profile_id"] == "leaver"] == []

    for pid in ("sms_only", "stayer"):
        (state,) = sc.state(pid)
        assert state["status"] == "completed"
        assert len(sc.sends(pid)) == 2  # welcome + a nudge
        assert not [t for t in sc.transitions(pid) if t["reason"] == "exit_when"]


def test_an_exit_transition_does_not_point_at_a_next_node(sc):
    (exit_,) = [t for t in sc.transitions("leaver") if t["reason"] == "exit_when"]
    assert exit_["from_node"] == "wait_a_day"
    assert exit_["to_node"] is None
    assert not [t for t in sc.transitions("leaver") if t["to_node"] == "activated"]


def test_an_exit_before_the_send_in_the_same_tick_wins(sc):
    """One tick (T0+6d) covers the exit (T0+2h+2d) and the nudge due when the check's window closes (+4d)."""
    assert [s["node_id"] for s in sc.sends("before_send")] == ["welcome"]
    (state,) = sc.state("before_send")
    assert (state["node_id"], state["status"], state["node_entered_at"]) == (
        "activated",
        "exited",
        T0 + 2 * H + 2 * D,
    )
    assert not [t for t in sc.transitions("before_send") if t["from_node"] == "nudge_split"]


def test_an_exit_between_entry_and_the_first_wait_in_one_tick(sc):
    """Entry, send, exit all inside one tick: the send came first (logically), the exit still applies."""
    start = T0 + 5 * H
    assert sc.moves("same_tick")[:2] == [
        (None, "welcome", None, "entered", start),
        ("welcome", "wait_a_day", "next", "advanced", start),
    ]
    assert sc.moves("same_tick")[2][0] == "wait_a_day"
    assert sc.moves("same_tick")[2][3:] == ("exit_when", start + 5 * M)
    assert len(sc.moves("same_tick")) == 3
    (state,) = sc.state("same_tick")
    assert state["status"] == "exited"
    assert [s["node_id"] for s in sc.sends("same_tick")] == ["welcome"]


def test_a_goal_is_recorded_once_with_the_event_time(sc):
    goals = sc.rows("journeys.goal_completions", order="profile_id")
    got = [(g["profile_id"], g["goal_id"], g["completed_at"]) for g in goals]
    assert ("repeat", "activated", T0 + 3 * H) in got
    assert ("after_completion", "activated", T0 + 5 * D + 12 * H) in got
    assert [g for g in got if g[0] == "repeat"] == [("repeat", "activated", T0 + 3 * H)]
    assert not [g for g in got if g[0] in ("too_late", "before_entry")]
    entry = {s["profile_id"]: s["entry_id"] for s in sc.state()}
    assert all(g["entry_id"] == entry[g["profile_id"]] for g in goals)
    # a goal does not end the journey (no exit_on_goal)
    (state,) = sc.state("repeat")
    assert state["status"] == "completed"
    assert state["node_id"] == "tag_active"
