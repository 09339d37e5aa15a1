"""`did_not` and `did_each` in `event_check` and `event_split` (docs/semantics.md, "Event rules in checks and
splits"): `did_each` holds when the first (`any`) or the last (`all`) of its conditions is met, each with its
own count; `did_not` counts each listed event on its own and holds only when the window closes, with none
(`all`) or not all (`any`) of them done; `else` when the window closes. Only events after the arrival and
inside the window count (its close included)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

pytestmark = pytest.mark.slow

M = timedelta(minutes=1)
H = timedelta(hours=1)
T = datetime(2026, 3, 4, 6, 0)  # every signup
CLOSE = 120  # minutes after T: every window is 2h
FIRST_TICK = T + 40 * M

JOURNEY = """
id: event_rules
name: Event rules
timezone: UTC
active: {from: "2026-01-01T00:00:00Z", until: "2027-01-01T00:00:00Z"}
entry:
  event:
    did: {event: signup}
nodes:
  route:
    segment_split:
      branches:
        - {where: "city = 'not_all'", to: not_all}
        - {where: "city = 'not_any'", to: not_any}
        - {where: "city = 'each_all'", to: each_all}
        - {where: "city = 'each_any'", to: each_any}
      else: split
  not_all:
    event_check: {did_not: {events: [purchase, app_open]}, match: all, within: 2h}
    then: t_yes
    else: t_no
  not_any:
    event_check: {did_not: {events: [purchase, app_open]}, match: any, within: 2h}
    then: t_yes
    else: t_no
  each_all:
    event_check:
      did_each: [{event: app_open, times: 2}, {event: purchase, where: "value > 0"}]
      match: all
      within: 2h
    then: t_yes
    else: t_no
  each_any:
    event_check:
      did_each: [{event: app_open, times: 2}, {event: purchase, where: "value > 0"}]
      match: any
      within: 2h
    then: t_yes
    else: t_no
  split:
    event_split:
      within: 2h
      branches:
        - {did_not: {event: app_open}, to: t_quiet}
        - {did_each: [{event: page_view}, {event: purchase}], to: t_both}
      else: t_no
  t_yes:
    add_tag: rule_yes
  t_no:
    add_tag: rule_no
  t_quiet:
    add_tag: rule_quiet
  t_both:
    add_tag: rule_both
"""

# profile -> (route = the rule's node, [(event, minutes after T, properties)], expected departure)
CASES = {
    "na_quiet": ("not_all", [], ("then", "t_yes", CLOSE)),
    "na_open": ("not_all", [("app_open", 30, {})], ("else", "t_no", CLOSE)),
    "na_after": ("not_all", [("app_open", 121, {})], ("then", "t_yes", CLOSE)),
    "na_before": ("not_all", [("purchase", -5, {"value": 5.0})], ("then", "t_yes", CLOSE)),
    "na_other": ("not_all", [("page_view", 30, {"page": "home"})], ("then", "t_yes", CLOSE)),
    "ny_one": ("not_any", [("app_open", 30, {})], ("then", "t_yes", CLOSE)),
    "ny_both": ("not_any", [("app_open", 30, {}), ("purchase", 60, {"value": 5.0})], ("else", "t_no", CLOSE)),
    "ny_at_close": (
        "not_any",
        [("app_open", 30, {}), ("purchase", 120, {"value": 5.0})],
        ("else", "t_no", CLOSE),
    ),
    # the second app_open comes after the first tick, which saw the purchase
    "ea_all": (
        "each_all",
        [("app_open", 10, {}), ("purchase", 20, {"value": 5.0}), ("app_open", 50, {})],
        ("then", "t_yes", 50),
    ),
    "ea_one_open": (
        "each_all",
        [("app_open", 10, {}), ("purchase", 20, {"value": 5.0})],
        ("else", "t_no", CLOSE),
    ),
    "ea_free": (
        "each_all",
        [("app_open", 10, {}), ("app_open", 20, {}), ("purchase", 30, {"value": 0.0})],
        ("else", "t_no", CLOSE),
    ),
    "ey_purchase": ("each_any", [("purchase", 20, {"value": 5.0})], ("then", "t_yes", 20)),
    "ey_opens": ("each_any", [("app_open", 10, {}), ("app_open", 30, {})], ("then", "t_yes", 30)),
    "ey_one_open": ("each_any", [("app_open", 10, {})], ("else", "t_no", CLOSE)),
    "sp_quiet": ("split", [], ("branch_1", "t_quiet", CLOSE)),
    "sp_both": (
        "split",
        [("page_view", 30, {"page": "home"}), ("purchase", 60, {"value": 5.0})],
        ("branch_2", "t_both", 60),
    ),
    "sp_open": ("split", [("app_open", 30, {})], ("else", "t_no", CLOSE)),
    # both branches hold at the close: the one listed first wins
    "sp_tie": (
        "split",
        [("page_view", 30, {"page": "home"}), ("purchase", 120, {"value": 5.0})],
        ("branch_1", "t_quiet", CLOSE),
    ),
}
"""Expected: the departure from the rule's node, as (branch, target, minutes after T)."""
ANSWERED_BY_FIRST_TICK = {"ey_purchase", "ey_opens"}


@pytest.fixture(scope="module")
def rules(tmp_path_factory, scenario_builder):
    sc = scenario_builder(tmp_path_factory.mktemp("event_rules"), {"event_rules": JOURNEY})
    for pid, (route, events, _) in CASES.items():
        sc.profile(pid, city=route)
        sc.event(f"{pid}_signup", pid, "signup", T)
        for i, (name, minutes, props) in enumerate(events):
            sc.event(f"{pid}_{i}", pid, name, T + minutes * M, **props)
    sc.tick(FIRST_TICK)
    early = {s["profile_id"]: s["node_id"] for s in sc.state()}
    sc.tick(T + 6 * H)
    return sc, early


@pytest.mark.parametrize("pid", sorted(CASES))
def test_the_rule_answers_at_the_time_it_holds_else_when_the_window_closes(rules, pid):
    sc, _ = rules
    route, _, (branch, target, minutes) = CASES[pid]
    departure = next(m for m in sc.moves(pid) if m[0] == route)
    assert departure == (route, target, branch, "advanced", T + minutes * M)


def test_a_profile_waits_in_the_node_until_the_answer_is_known(rules):
    _, early = rules
    for pid, (route, _, (_, target, _)) in CASES.items():
        expected = target if pid in ANSWERED_BY_FIRST_TICK else route
        assert early[pid] == expected, pid
