"""Cadence invariance (spec section 3): the same events give the same transitions, with the same logical
times, whether ticks run every hour, every 6 hours or once at the end. Only tick_at may differ."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

pytestmark = pytest.mark.slow

H = timedelta(hours=1)
M = timedelta(minutes=1)
T0 = datetime(2026, 3, 2, 8, 0)
END = T0 + 8 * H

# The node kinds of the welcome series plus tag removal and an exit node, with waits short enough that whole
# paths fit in a few hours (so that hourly ticks stay cheap).
ONBOARDING = """
id: onboarding
name: Onboarding (short waits)
timezone: UTC
active: {from: "2026-01-01T00:00:00Z", until: "2027-01-01T00:00:00Z"}
entry:
  event:
    did: {event: signup}
    mode: cumulative
  frequency: {max: 1}
exit_when:
  - did: {event: unsubscribe, where: "channel = 'email'"}
goals:
  - id: activated
    did: {event: activate}
    within: 4h
start: welcome
nodes:
  welcome:
    send: {channel: email, template: welcome_email}
    next: wait_1h
  wait_1h:
    wait: {for: 1h}
    next: check
  check:
    event_check:
      did: {event: activate, times: 2}
      within: 2h
    then: tag_active
    else: split
  tag_active:
    add_tag: onboarded
    next: cool_down
  cool_down:
    wait: {for: 30m}
    next: untag
  untag:
    remove_tag: onboarded
  split:
    ab_split:
      - {to: nudge_push, percent: 50}
      - {to: nudge_email, percent: 50}
  nudge_push:
    send: {channel: push, template: activation_nudge}
  nudge_email:
    send: {channel: email, template: activation_nudge_b}
    next: bye
  bye:
    exit: true
"""


def at(hours: int, minutes: int) -> datetime:
    return T0 + hours * H + minutes * M


# (event_id, profile, event, time, properties)
EVENTS = [
    # a: activates twice inside the check window -> then, at the second activation
    ("a1", "a", "signup", at(0, 7), {"channel": "web"}),
    ("a2", "a", "activate", at(1, 20), {}),
    ("a3", "a", "activate", at(1, 50), {}),
    # b: only one activation in the window -> else when the window closes
    ("b1", "b", "signup", at(0, 50), {}),
    ("b2", "b", "activate", at(2, 1), {}),
    # c: unsubscribes from email while waiting -> exits
    ("c1", "c", "signup", at(1, 33), {}),
    ("c2", "c", "unsubscribe", at(2, 5), {"channel": "email"}),
    # d: an sms unsubscribe does not exit; one activation before the window (ignored by the check), two in it
    ("d1", "d", "signup", at(2, 10), {}),
    ("d2", "d", "unsubscribe", at(2, 20), {"channel": "sms"}),
    ("d3", "d", "activate", at(2, 30), {}),
    ("d4", "d", "activate", at(3, 40), {}),
    ("d5", "d", "activate", at(4, 0), {}),
    # e: unsubscribes while the check's window is open -> exits from the check
    ("e1", "e", "signup", at(3, 59), {}),
    ("e2", "e", "unsubscribe", at(5, 30), {"channel": "email"}),
    # f: signs up twice -> one entry (cumulative, max 1)
    ("f1", "f", "signup", at(0, 20), {}),
    ("f2", "f", "signup", at(4, 20), {}),
    # g: activity without a signup -> never enters
    ("g1", "g", "activate", at(1, 1), {}),
    # h: signs up late; its window closes just before the last tick
    ("h1", "h", "signup", at(4, 55), {}),
    # i..r: more entries for the A/B branch and exits at odd times
    *[(f"{p}1", p, "signup", at(k % 5, 3 + 7 * k), {}) for k, p in enumerate("ijklmnopqr")],
    ("k2", "k", "unsubscribe", at(4, 11), {"channel": "email"}),
    ("m2", "m", "activate", at(3, 45), {}),
]
PROFILES = sorted({e[1] for e in EVENTS})


def _outcome(sc):
    transitions = sc.transition_set()
    sends = {
        (s["message_id"], s["entry_id"], s["node_id"], s["template"], s["created_at"]) for s in sc.sends()
    }
    # the tick that recorded a goal or tag is the one output column that depends on the cadence
    goals = {tuple(v for k, v in r.items() if k != "tick_at") for r in sc.rows("journeys.goal_completions")}
    tags = {tuple(v for k, v in r.items() if k != "tick_at") for r in sc.rows("journeys.journey_tags")}
    states = {
        (s["entry_id"], s["node_id"], s["status"], s["node_entered_at"], s["ab_group"]) for s in sc.state()
    }
    tick_ats = {t["tick_at"] for t in sc.transitions()}
    return {
        "transitions": transitions,
        "sends": sends,
        "goals": goals,
        "tags": tags,
        "states": states,
        "tick_ats": tick_ats,
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory, scenario_builder):
    """The same events, ticked three ways."""
    out = {}
    for name, step in (("hourly", H), ("six_hourly", 6 * H), ("once", None)):
        sc = scenario_builder(tmp_path_factory.mktemp(name), {"onboarding": ONBOARDING})
        sc.profiles(PROFILES)
        for event_id, pid, name_, time, props in EVENTS:
            sc.event(event_id, pid, name_, time, **props)
        if step is None:
            sc.tick(END)
        else:
            sc.tick_every(T0 + step, END, step)
        out[name] = _outcome(sc)
    return out


def test_the_scenario_is_not_trivial(runs):
    """Guard: the compared runs exercise entries, both check branches, both A/B groups, exits and goals."""
    once = runs["once"]
    reasons = {t[5] for t in once["transitions"]}
    assert {"entered", "advanced", "completed", "exit_when"} <= reasons
    branches = {(t[2], t[4]) for t in once["transitions"]}
    assert {
        ("check", "then"),
        ("check", "else"),
        ("split", "nudge_push"),
        ("split", "nudge_email"),
    } <= branches
    assert {s[2] for s in once["states"]} >= {"completed", "exited"}
    entered = {t[1] for t in once["transitions"] if t[5] == "entered"}
    assert entered == set(PROFILES) - {"g"}
    assert once["goals"]
    assert {t[4] for t in once["tags"]} == {True, False}, "tags added and removed"


@pytest.mark.parametrize("cadence", ["six_hourly", "hourly"])
@pytest.mark.parametrize("output", ["transitions", "sends", "goals", "tags", "states"])
def test_same_events_same_results_whatever_the_cadence(runs, cadence, output):
    assert runs[cadence][output] == runs["once"][output]


def test_tick_times_do_differ(runs):
    """Guard that the cadences really ran differently (so the equality above means something)."""
    assert runs["once"]["tick_ats"] == {END}
    assert len(runs["six_hourly"]["tick_ats"]) == 2
    assert len(runs["hourly"]["tick_ats"]) >= 6


def test_logical_times_are_event_times_and_wait_ends(runs):
    transitions = runs["hourly"]["transitions"]
    by_profile = {}
    for _entry_id, pid, src, dst, branch, reason, logical in transitions:
        by_profile.setdefault(pid, {})[(src, dst)] = (branch, reason, logical)
    a = by_profile["a"]
    assert a[(None, "welcome")][2] == at(0, 7)
    assert a[("wait_1h", "check")][2] == at(1, 7)
    assert a[("check", "tag_active")][:2] == ("then", "advanced")
    assert a[("check", "tag_active")][2] == at(1, 50)  # the second activation answered the check
    assert a[("cool_down", "untag")][2] == at(2, 20)
    b = by_profile["b"]
    assert b[("check", "split")] == ("else", "advanced", at(3, 50))  # window [1:50, 3:50] saw one activation
    d = by_profile["d"]
    assert d[("check", "tag_active")][2] == at(4, 0)  # the activation at 2:30 came before the window
    c = {src: (reason, logical) for (src, _), (_, reason, logical) in by_profile["c"].items()}
    assert c["wait_1h"] == ("exit_when", at(2, 5))
    e = {src: (reason, logical) for (src, _), (_, reason, logical) in by_profile["e"].items()}
    assert e["check"] == ("exit_when", at(5, 30))
    k = {src: (reason, logical) for (src, _), (_, reason, logical) in by_profile["k"].items()}
    assert k["check"] == ("exit_when", at(4, 11))


# ---------------------------------------------------------------- `every` mode

EVERY = """
id: every_signup
name: Every signup
timezone: UTC
active: {from: "2026-01-01T00:00:00Z", until: "2027-01-01T00:00:00Z"}
entry:
  event:
    did: {event: signup}
    mode: every
start: hello
nodes:
  hello:
    send: {channel: email, template: welcome_email}
    next: pause
  pause:
    wait: {for: 1h}
"""


def test_every_mode_cadence_invariant(make_scenario):
    results = {}
    for name, step in (("hourly", H), ("once", None)):
        sc = make_scenario({"every_signup": EVERY}, name=name)
        sc.profile("p")
        sc.event("s1", "p", "signup", at(0, 10))
        sc.event("s2", "p", "signup", at(3, 10))  # the first entry completed at 1:10
        if step is None:
            sc.tick(T0 + 4 * H)
        else:
            sc.tick_every(T0 + step, T0 + 4 * H, step)
        results[name] = {
            (t["entry_id"], t["from_node"], t["to_node"], t["logical_at"]) for t in sc.transitions()
        }
    assert len({r[0] for r in results["hourly"]}) == 2
    assert results["once"] == results["hourly"]
