"""`event_split` and `wait_for_event`: the profile waits at the node; the first branch whose event condition
is met inside the window wins, at that event's time (a tie goes to the branch listed first); otherwise
`else` / `timeout` when the window closes. Only events after the arrival count."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

pytestmark = pytest.mark.slow

M = timedelta(minutes=1)
H = timedelta(hours=1)
T = datetime(2026, 3, 4, 6, 0)  # every signup

JOURNEY = """
id: came_back
name: Came back?
timezone: UTC
active: {from: "2026-01-01T00:00:00Z", until: "2027-01-01T00:00:00Z"}
entry:
  event:
    did: {event: signup}
nodes:
  split:
    event_split:
      within: 3h
      branches:
        - {did: {events: [purchase], times: 1, where: "value > 0"}, to: t_buyer}
        - {did: {events: [app_open, page_view], times: 2}, to: t_warm}
      else: t_cold
  t_buyer:
    add_tag: buyer
  t_warm:
    add_tag: warm
  t_cold:
    add_tag: cold
    next: wait_activate
  wait_activate:
    wait_for_event:
      event: activate
      within: 2h
    happened: t_activated
    timeout: t_gone
  t_activated:
    add_tag: activated_late
  t_gone:
    exit: {reason: gone_quiet}
"""

# profile -> [(event, minutes after T, properties)]
EVENTS = {
    "buyer": [("purchase", 60, {"value": 10.0})],
    "warm_first": [
        ("app_open", 30, {}),
        ("page_view", 50, {"page": "home"}),
        ("purchase", 120, {"value": 5.0}),
    ],
    "tie": [("app_open", 30, {}), ("purchase", 60, {"value": 5.0}), ("page_view", 60, {"page": "home"})],
    "one_open": [("app_open", 30, {}), ("activate", 210, {})],
    "before_arrival": [("purchase", -10, {"value": 5.0}), ("app_open", -5, {}), ("app_open", -4, {})],
    "free_purchase": [("purchase", 20, {"value": 0.0})],  # filtered out by the branch's where
    "at_close": [("purchase", 180, {"value": 1.0})],
    "after_close": [("purchase", 181, {"value": 1.0}), ("activate", 301, {})],
}
CLOSE = T + 3 * H


@pytest.fixture(scope="module")
def waits(tmp_path_factory, scenario_builder):
    sc = scenario_builder(tmp_path_factory.mktemp("event_waits"), {"came_back": JOURNEY})
    for pid, events in EVENTS.items():
        sc.profile(pid)
        sc.event(f"{pid}_signup", pid, "signup", T)
        for i, (name, minutes, props) in enumerate(events):
            sc.event(f"{pid}_{i}", pid, name, T + minutes * M, **props)
    sc.tick(T + 2 * H)
    early = {s["profile_id"]: (s["node_id"], s["status"]) for s in sc.state()}
    sc.tick(T + 6 * H)
    return sc, early


def _split(sc, pid):
    return next(m for m in sc.moves(pid) if m[0] == "split")


def test_the_first_branch_met_wins_at_its_event_time(waits):
    sc, _ = waits
    assert _split(sc, "buyer") == ("split", "t_buyer", "branch_1", "advanced", T + H)
    # two opens/views by 0:50 beat the purchase at 2:00, though the purchase branch is listed first
    assert _split(sc, "warm_first") == ("split", "t_warm", "branch_2", "advanced", T + 50 * M)


def test_a_tie_goes_to_the_branch_listed_first(waits):
    sc, _ = waits
    assert _split(sc, "tie") == ("split", "t_buyer", "branch_1", "advanced", T + H)


def test_else_when_the_window_closes_unanswered(waits):
    sc, _ = waits
    for pid in ("one_open", "before_arrival", "free_purchase", "after_close"):
        assert _split(sc, pid) == ("split", "t_cold", "else", "advanced", CLOSE), pid


def test_an_event_at_the_close_still_counts(waits):
    sc, _ = waits
    assert _split(sc, "at_close") == ("split", "t_buyer", "branch_1", "advanced", CLOSE)


def test_the_profile_waits_while_the_window_is_open(waits):
    _, early = waits
    assert early["buyer"] == ("t_buyer", "completed")
    assert early["warm_first"] == ("t_warm", "completed")
    for pid in ("one_open", "at_close"):
        assert early[pid] == ("split", "active"), pid


def test_wait_for_event_happened_at_the_event_time(waits):
    sc, _ = waits
    assert sc.moves("one_open")[-3:] == [
        ("t_cold", "wait_activate", "next", "advanced", CLOSE),
        ("wait_activate", "t_activated", "happened", "advanced", T + 210 * M),
        ("t_activated", None, "next", "completed", T + 210 * M),
    ]


def test_wait_for_event_timeout_and_exit_node(waits):
    sc, _ = waits
    # after_close activates at 5:01, a minute after its 2h wait (from 3:00) ended
    for pid in ("before_arrival", "after_close"):
        assert sc.moves(pid)[-2:] == [
            ("wait_activate", "t_gone", "timeout", "advanced", CLOSE + 2 * H),
            ("t_gone", None, "exit:gone_quiet", "gone_quiet", CLOSE + 2 * H),
        ], pid
        (state,) = sc.state(pid)
        assert (state["node_id"], state["status"]) == ("t_gone", "exited")
