"""Cadence invariance (spec section 3) for a journey mixing the newer node kinds: an `event_without` trigger,
a `segment_split` on a tag (raw.profile_tags) and on behaviour, a `weekday` wait in each profile's timezone
(or the journey's), an `event_split`, tags and a deferred send. Its branches depend on events and time alone,
so ticking every two hours or once at the end must give the same transitions, with the same logical times."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

pytestmark = pytest.mark.slow

M = timedelta(minutes=1)
H = timedelta(hours=1)
MON = datetime(2026, 3, 2)  # a Monday
TUE = MON + timedelta(days=1)
START = MON + 12 * H
END = TUE + 4 * H

JOURNEY = """
id: mixed
name: Mixed nodes
timezone: Asia/Shanghai
active: {from: "2026-01-01T00:00:00Z", until: "2027-01-01T00:00:00Z"}
entry:
  event_without:
    did: {event: add_to_cart, where: "value >= 50"}
    then_not: {event: purchase}
    within: 1h
exit_when:
  - did: {event: unsubscribe}
nodes:
  route:
    segment_split:
      mode: first_match
      branches:
        - {segment: vip, to: tag_vip}
        - {did: {event: page_view, times: 2, within_last: 1d}, to: tag_browser}
      else: wait_tuesday
  tag_vip:
    add_tag: mixed_vip
    next: wait_tuesday
  tag_browser:
    add_tag: mixed_browser
    next: wait_tuesday
  wait_tuesday:
    wait: {weekday: tuesday, at: "07:00"}
    next: reaction
  reaction:
    event_split:
      within: 2h
      branches:
        - {did: {event: purchase}, to: tag_bought}
        - {did: {events: [app_open, page_view], times: 2}, to: tag_engaged}
      else: tag_silent
  tag_bought:
    add_tag: mixed_bought
  tag_engaged:
    add_tag: mixed_engaged
  tag_silent:
    add_tag: mixed_silent
    next: nudge
  nudge:
    send:
      channel: sms
      template: recall_sms
      quiet_hours: {from: "08:00", to: "09:30", policy: defer}
"""

PROFILES = {
    "a": "Asia/Shanghai",
    "b": "Asia/Tokyo",
    "c": None,
    "d": "Asia/Kolkata",
    "e": "Asia/Shanghai",
    "f": "Asia/Shanghai",
    "g": "Asia/Shanghai",
    "i": "Asia/Shanghai",
    "j": "Asia/Tokyo",
    "k": "Asia/Shanghai",
}


def mon(h: int, m: int = 0) -> datetime:
    return MON + h * H + m * M


def tue(h: int, m: int = 0) -> datetime:
    return TUE + h * H + m * M


CART = {"value": 60.0, "sku": "S"}
# Tuesday 07:00 is Mon 23:00 UTC in Shanghai (and for c, without a timezone: the journey's), Mon 22:00 UTC in
# Tokyo and Tue 01:30 UTC in Kolkata.
EVENTS = [
    # a: no purchase -> enters 13:10; else; buys at 23:30, inside the split's window
    ("a1", "a", "add_to_cart", mon(12, 10), CART),
    ("a2", "a", "purchase", mon(23, 30), {"value": 60.0}),
    # b: a vip by tag; two opens/views -> engaged at 22:50
    ("b1", "b", "add_to_cart", mon(12, 20), CART),
    ("b2", "b", "app_open", mon(22, 30), {}),
    ("b3", "b", "page_view", mon(22, 50), {"page": "home"}),
    # c: browsed twice before -> browser; silent -> nudge (09:00 in Shanghai: deferred to 09:30)
    ("c0", "c", "page_view", mon(11), {"page": "home"}),
    ("c00", "c", "page_view", mon(12), {"page": "sale"}),
    ("c1", "c", "add_to_cart", mon(12, 5), CART),
    # d: bought inside the first window; the second cart enters
    ("d1", "d", "add_to_cart", mon(12), CART),
    ("d2", "d", "purchase", mon(12, 30), {"value": 60.0}),
    ("d3", "d", "add_to_cart", mon(14), CART),
    ("d4", "d", "purchase", tue(3, 29), {"value": 60.0}),
    # e: unsubscribes while waiting
    ("e1", "e", "add_to_cart", mon(12), CART),
    ("e2", "e", "unsubscribe", mon(20), {"channel": "email"}),
    # f: tagged vip after it entered -> else; a tie at 23:10 goes to the purchase branch
    ("f1", "f", "add_to_cart", mon(12, 30), CART),
    ("f2", "f", "app_open", mon(23, 5), {}),
    ("f3", "f", "page_view", mon(23, 10), {"page": "home"}),
    ("f4", "f", "purchase", mon(23, 10), {"value": 5.0}),
    # g: a small cart never enters
    ("g1", "g", "add_to_cart", mon(13), {"value": 40.0}),
    # i: enters at 07:30 on Tuesday in Shanghai, past 07:00: waits for next week
    ("i1", "i", "add_to_cart", mon(22, 30), CART),
    # j: two carts; the second's window closes while the first entry is inside
    ("j1", "j", "add_to_cart", mon(12, 30), CART),
    ("j2", "j", "add_to_cart", mon(12, 50), CART),
    # k: its second view comes after it entered -> else at the split
    ("k0", "k", "page_view", mon(11), {"page": "home"}),
    ("k1", "k", "add_to_cart", mon(12), CART),
    ("k2", "k", "page_view", mon(14), {"page": "home"}),
]


def _outcome(sc):
    return {
        "transitions": sc.transition_set(),
        "states": {(s["entry_id"], s["node_id"], s["status"], s["node_entered_at"]) for s in sc.state()},
        "tags": {
            (t["profile_id"], t["tag"], t["tagged_at"], t["removed"])
            for t in sc.rows("journeys.journey_tags")
        },
        "sends": {(s["message_id"], s["created_at"], s["not_before"], s["status"]) for s in sc.sends()},
        "tick_ats": {t["tick_at"] for t in sc.transitions()},
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory, scenario_builder):
    out = {}
    for name, step in (("often", 2 * H), ("once", None)):
        sc = scenario_builder(tmp_path_factory.mktemp(f"mixed_{name}"), {"mixed": JOURNEY})
        for pid, tz in PROFILES.items():
            sc.profile(pid, timezone=tz)
        sc.sql("insert into raw.profile_tags values ('b', 'vip', ?), ('f', 'vip', ?)", [mon(0), mon(15)])
        for event_id, pid, name_, at, props in EVENTS:
            sc.event(event_id, pid, name_, at, **props)
        if step is None:
            sc.tick(END)
        else:
            sc.tick_every(START + step, END, step)
        out[name] = _outcome(sc)
        out[f"{name}_scenario"] = sc
    return out


@pytest.mark.parametrize("output", ["transitions", "states", "tags", "sends"])
def test_every_two_hours_and_once_give_the_same_results(runs, output):
    assert runs["often"][output] == runs["once"][output]


def test_the_runs_did_tick_differently(runs):
    assert runs["once"]["tick_ats"] == {END}
    assert len(runs["often"]["tick_ats"]) >= 4


def test_the_scenario_exercises_every_branch(runs):
    branches = {(t[2], t[4]) for t in runs["once"]["transitions"]}
    assert {
        ("route", "branch_1"),
        ("route", "branch_2"),
        ("route", "else"),
        ("reaction", "branch_1"),
        ("reaction", "branch_2"),
        ("reaction", "else"),
    } <= branches
    assert {t[5] for t in runs["once"]["transitions"]} >= {"entered", "advanced", "completed", "exit_when"}


def test_logical_times(runs):
    sc = runs["often_scenario"]
    entered = {t["profile_id"]: t["logical_at"] for t in sc.transitions() if t["reason"] == "entered"}
    assert entered == {
        "a": mon(13, 10),
        "b": mon(13, 20),
        "c": mon(13, 5),
        "d": mon(15),
        "e": mon(13),
        "f": mon(13, 30),
        "i": mon(23, 30),
        "j": mon(13, 30),
        "k": mon(13),
    }
    moves = {pid: {m[0]: m[1:] for m in sc.moves(pid)} for pid in entered}
    assert moves["a"]["route"][:2] == ("wait_tuesday", "else")
    assert moves["a"]["wait_tuesday"][-1] == mon(23)
    assert moves["a"]["reaction"] == ("tag_bought", "branch_1", "advanced", mon(23, 30))
    assert moves["b"]["route"][:2] == ("tag_vip", "branch_1")
    assert moves["b"]["wait_tuesday"][-1] == mon(22)
    assert moves["b"]["reaction"] == ("tag_engaged", "branch_2", "advanced", mon(22, 50))
    assert moves["c"]["route"][:2] == ("tag_browser", "branch_2")
    assert moves["c"]["wait_tuesday"][-1] == mon(23)
    assert moves["c"]["reaction"] == ("tag_silent", "else", "advanced", tue(1))
    assert moves["d"]["wait_tuesday"][-1] == tue(1, 30)
    assert moves["d"]["reaction"] == ("tag_bought", "branch_1", "advanced", tue(3, 29))
    assert moves["e"]["wait_tuesday"][0] is None
    assert moves["e"]["wait_tuesday"][2:] == ("exit_when", mon(20))
    assert moves["f"]["route"][:2] == ("wait_tuesday", "else")
    assert moves["f"]["reaction"] == ("tag_bought", "branch_1", "advanced", mon(23, 10))
    assert moves["k"]["route"][:2] == ("wait_tuesday", "else")
    (i_state,) = sc.state("i")
    assert (i_state["node_id"], i_state["status"]) == ("wait_tuesday", "active")
    # c's nudge at 09:00 in Shanghai (its journey's zone) is deferred to the end of the quiet window
    (nudge,) = sc.sends("c")
    assert (nudge["created_at"], nudge["not_before"]) == (tue(1), tue(1, 30))
