"""`segment_split` with `mode: all_matches` (docs/semantics.md, "all_matches: one entry, several paths"): the
entry's path takes the first branch it matches, each further matching branch starts a path of its own, with
the id md5(path:split:branch), its own messages and tags; an `exit_when` ends every path of the entry; the
entry counts once, its paths once per branch; `else` only when no branch matches.

Everyone signs up at T; ticks at T+1h, T+1d+1h and T+3d. `rich` (lifetime_value >= 1000) tags, mails and
waits 2 days; `shanghai` tags, mails and waits 1 day; `else` tags.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import pytest

from journey_compiler.runtime.metrics import recompute_metrics

pytestmark = pytest.mark.slow

H = timedelta(hours=1)
D = timedelta(days=1)
T = datetime(2026, 3, 10, 12, 0)
TICKS = (T + H, T + D + H, T + 3 * D)

JOURNEY = """
id: fan_out
timezone: UTC
active: {from: "2026-01-01T00:00:00Z", until: "2027-01-01T00:00:00Z"}
entry:
  event:
    did: {event: signup}
exit_when:
  - did: {event: purchase}
goals:
  - id: opened
    did: {event: app_open}
    within: 7d
nodes:
  route:
    segment_split:
      mode: all_matches
      branches:
        - {where: "lifetime_value >= 1000", to: tag_rich}
        - {where: "city = 'Shanghai'", to: tag_sh}
      else: tag_none
  tag_rich: {add_tag: rich, next: mail_rich}
  mail_rich: {send: {channel: email, template: welcome_email}, next: wait_rich}
  wait_rich: {wait: {for: 2d}}
  tag_sh: {add_tag: shanghai, next: mail_sh}
  mail_sh: {send: {channel: email, template: welcome_email}, next: wait_sh}
  wait_sh: {wait: {for: 1d}}
  tag_none: {add_tag: nobody}
"""
PROFILES = {
    "p_both": {"lifetime_value": 5000, "city": "Shanghai"},
    "p_exit": {"lifetime_value": 5000, "city": "Shanghai"},  # purchases at T+12h
    "p_sh": {"lifetime_value": 10, "city": "Shanghai"},
    "p_none": {"lifetime_value": 10, "city": "Paris"},
    "p_blank": {},  # no attributes: each rule is NULL, which is no match
}


def md5(*parts: str) -> str:
    return hashlib.md5(":".join(parts).encode()).hexdigest()


def entry_of(pid: str) -> str:
    return md5("fan_out", pid, f"s_{pid}")


def fork_of(pid: str) -> str:
    return md5(entry_of(pid), "route", "branch_2")


BOTH, BOTH_FORK, EXIT, EXIT_FORK = (
    entry_of("p_both"),
    fork_of("p_both"),
    entry_of("p_exit"),
    fork_of("p_exit"),
)
PATHS = {
    BOTH: [
        (None, "route", None, "entered", T),
        ("route", "tag_rich", "branch_1", "advanced", T),
        ("tag_rich", "mail_rich", "next", "advanced", T),
        ("mail_rich", "wait_rich", "next", "advanced", T),
        ("wait_rich", None, "next", "completed", T + 2 * D),
    ],
    BOTH_FORK: [
        (None, "route", None, "forked", T),
        ("route", "tag_sh", "branch_2", "advanced", T),
        ("tag_sh", "mail_sh", "next", "advanced", T),
        ("mail_sh", "wait_sh", "next", "advanced", T),
        ("wait_sh", None, "next", "completed", T + D),
    ],
}
"""p_both's paths: the entry's takes branch_1, the fork branch_2 (it starts at the split, `forked`)."""
STATES = {
    (BOTH, BOTH, "wait_rich", "completed"),
    (BOTH_FORK, BOTH, "wait_sh", "completed"),
    (EXIT, EXIT, "wait_rich", "exited"),
    (EXIT_FORK, EXIT, "wait_sh", "exited"),
}
"""(path, entry, node, status) of p_both's and p_exit's paths: p_exit's purchase ends both."""
EXITS = {("wait_rich", T + 12 * H), ("wait_sh", T + 12 * H)}
SENDS = {
    ("mail_rich", md5("fan_out", BOTH, "mail_rich", "p_both"), BOTH),
    ("mail_sh", md5("fan_out", BOTH_FORK, "mail_sh", "p_both"), BOTH),
}
"""p_both's messages (node, message id, entry): by path, so the fork's differs."""
TAGS = [("rich", BOTH, T), ("shanghai", BOTH_FORK, T)]
ONE_MATCH = [md5("fan_out", entry_of("p_sh"), "mail_sh", "p_sh")]
TAKEN = {
    ("p_both", "branch_1"),
    ("p_both", "branch_2"),
    ("p_exit", "branch_1"),
    ("p_exit", "branch_2"),
    ("p_sh", "branch_2"),
    ("p_none", "else"),
    ("p_blank", "else"),
}
GOALS = [("p_both", BOTH, "opened", T + 2 * H)]
"""The goal is the entry's: one row, though p_both has two paths."""


@pytest.fixture(scope="module")
def sc(tmp_path_factory, scenario_builder):
    scenario = scenario_builder(tmp_path_factory.mktemp("all_matches"), {"fan_out": JOURNEY})
    for pid, attributes in PROFILES.items():
        scenario.profile(pid, **attributes)
        scenario.event(f"s_{pid}", pid, "signup", T)
    scenario.event("buy", "p_exit", "purchase", T + 12 * H)
    scenario.event("open", "p_both", "app_open", T + 2 * H)
    for at in TICKS:
        scenario.tick(at)
    recompute_metrics(scenario.workspace, scenario.built)
    return scenario


def test_two_matching_branches_make_two_paths(sc):
    assert sc.paths("p_both") == PATHS


def test_each_path_ends_on_its_own_node(sc):
    rows = sc.state("p_both") + sc.state("p_exit")
    assert {(s["path_id"], s["entry_id"], s["node_id"], s["status"]) for s in rows} == STATES


def test_each_path_sends_its_own_message(sc):
    assert {(s["node_id"], s["message_id"], s["entry_id"]) for s in sc.sends("p_both")} == SENDS


def test_each_path_writes_its_own_tags(sc):
    tags = sc.rows("journeys.journey_tags", "tag, path_id, tagged_at", "profile_id = 'p_both'", "tag")
    assert [tuple(t.values()) for t in tags] == TAGS


def test_an_exit_ends_every_path_of_the_entry(sc):
    exits = {
        (t["from_node"], t["logical_at"]) for t in sc.transitions("p_exit") if t["reason"] == "exit_when"
    }
    assert exits == EXITS


def test_one_match_is_one_path_with_the_entry_id(sc):
    assert list(sc.paths("p_sh")) == [entry_of("p_sh")]
    assert [s["message_id"] for s in sc.sends("p_sh")] == ONE_MATCH


def test_else_only_when_no_branch_matches(sc):
    assert {(t["profile_id"], t["branch"]) for t in sc.transitions() if t["from_node"] == "route"} == TAKEN


def test_a_goal_is_the_entrys_counted_once(sc):
    goals = sc.rows("journeys.goal_completions", "profile_id, entry_id, goal_id, completed_at")
    assert [tuple(g.values()) for g in goals] == GOALS


def test_node_daily_counts_entries_once_and_paths_per_branch(sc):
    rows = sc.rows(
        "journeys.journey_node_daily",
        "branch, arrived, left_node, waiting",
        "journey_id = 'fan_out' and node_id = 'route'",
        "branch nulls first",
    )
    assert [tuple(r.values()) for r in rows] == [
        (None, 5, 0, 0),
        ("branch_1", 0, 2, 0),
        ("branch_2", 0, 3, 0),
        ("else", 0, 2, 0),
    ]


def test_builtin_metrics_count_each_entry_once(sc):
    rows = sc.rows("journeys.journey_metrics", where="journey_id = 'fan_out' and ab_group = '(all)'")
    metrics = {r["metric_id"]: r["value"] for r in rows}
    assert {k: metrics[k] for k in ("entered", "completed", "exited", "goal_opened")} == {
        "entered": 5,
        "completed": 4,
        "exited": 1,
        "goal_opened": 1,
    }
