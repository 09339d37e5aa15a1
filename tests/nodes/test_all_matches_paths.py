"""`all_matches` paths beside the lifecycle and beside each other (docs/semantics.md, "all_matches: one entry,
several paths"): a path held by a pause forks when it leaves, at the resume; a fork that reaches a second
`all_matches` split forks again, with an id derived from its own (md5(fork:split:branch)).

`held_fork` waits an hour, then splits; it is paused at P and resumed at R. `nested` splits twice. Every
profile is in Shanghai with a lifetime value of 5000, so it matches every branch. Ticks at T-30m, T+2h
(inside the pause) and R+3h.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import pytest

from journey_compiler.runtime.controls import record_control

pytestmark = pytest.mark.slow

M, H = timedelta(minutes=1), timedelta(hours=1)
T = datetime(2026, 3, 10, 12, 0)
P, R = T + 30 * M, T + 6 * H
TICKS = (T - 30 * M, T + 2 * H, R + 3 * H)
HEADER = """id: %s
timezone: UTC
active: {from: "2026-01-01T00:00:00Z", until: "2027-01-01T00:00:00Z"}
"""
JOURNEYS = {
    "held_fork": HEADER % "held_fork"
    + """entry:
  event:
    did: {event: signup}
nodes:
  hold: {wait: {for: 1h}, next: route}
  route:
    segment_split:
      mode: all_matches
      branches:
        - {where: "city = 'Shanghai'", to: tag_a}
        - {where: "lifetime_value >= 1000", to: tag_b}
      else: tag_none
  tag_a: {add_tag: a}
  tag_b: {add_tag: b}
  tag_none: {add_tag: none}
""",
    "nested": HEADER % "nested"
    + """entry:
  event:
    did: {event: activate}
nodes:
  outer:
    segment_split:
      mode: all_matches
      branches:
        - {where: "city = 'Shanghai'", to: tag_o}
        - {where: "lifetime_value >= 1000", to: inner}
      else: tag_n
  inner:
    segment_split:
      mode: all_matches
      branches:
        - {where: "lifetime_value >= 1000", to: tag_x}
        - {where: "city = 'Shanghai'", to: tag_y}
      else: tag_n2
  tag_o: {add_tag: o}
  tag_x: {add_tag: x}
  tag_y: {add_tag: y}
  tag_n: {add_tag: n}
  tag_n2: {add_tag: n2}
""",
}
SIGNUPS = {
    "early": T - 2 * H,  # splits at T-1h, before the pause
    "paused": T,  # its wait ends at T+1h, inside the pause: it splits at the resume
    "late": R + H,  # splits at R+2h
}
ACTIVATIONS = {"nest": T + 7 * H}


def md5(*parts: str) -> str:
    return hashlib.md5(":".join(parts).encode()).hexdigest()


def entry_of(journey_id: str, pid: str, event_id: str) -> str:
    return md5(journey_id, pid, event_id)


def held_paths(pid: str, entered: datetime, split: datetime) -> dict[str, list[tuple]]:
    """The two paths of a held_fork entry: the entry's takes branch_1, the fork branch_2."""
    entry = entry_of("held_fork", pid, f"s_{pid}")
    return {
        entry: [
            (None, "hold", None, "entered", entered),
            ("hold", "route", "next", "advanced", split),
            ("route", "tag_a", "branch_1", "advanced", split),
            ("tag_a", None, "next", "completed", split),
        ],
        md5(entry, "route", "branch_2"): [
            (None, "route", None, "forked", split),
            ("route", "tag_b", "branch_2", "advanced", split),
            ("tag_b", None, "next", "completed", split),
        ],
    }


HELD = {
    "early": held_paths("early", T - 2 * H, T - H),
    "paused": held_paths("paused", T, R),
    "late": held_paths("late", R + H, R + 2 * H),
}
"""Each profile's paths after the last tick: the paused one forks at the resume."""
PAUSED_MID = {entry_of("held_fork", "paused", "s_paused"): [(None, "hold", None, "entered", T)]}
"""The paused profile inside the pause: one path, held at the wait, no fork yet."""
NEST_ENTRY = entry_of("nested", "nest", "r_nest")
NEST_FORK = md5(NEST_ENTRY, "outer", "branch_2")
NEST_FORK_OF_FORK = md5(NEST_FORK, "inner", "branch_2")
AT = ACTIVATIONS["nest"]
NESTED = {
    NEST_ENTRY: [
        (None, "outer", None, "entered", AT),
        ("outer", "tag_o", "branch_1", "advanced", AT),
        ("tag_o", None, "next", "completed", AT),
    ],
    NEST_FORK: [
        (None, "outer", None, "forked", AT),
        ("outer", "inner", "branch_2", "advanced", AT),
        ("inner", "tag_x", "branch_1", "advanced", AT),
        ("tag_x", None, "next", "completed", AT),
    ],
    NEST_FORK_OF_FORK: [
        (None, "inner", None, "forked", AT),
        ("inner", "tag_y", "branch_2", "advanced", AT),
        ("tag_y", None, "next", "completed", AT),
    ],
}
"""The fork reaching the second split forks again: its fork's id is derived from the fork's."""
NESTED_TAGS = {("o", NEST_ENTRY), ("x", NEST_FORK), ("y", NEST_FORK_OF_FORK)}


@pytest.fixture(scope="module")
def sc(tmp_path_factory, scenario_builder):
    scenario = scenario_builder(tmp_path_factory.mktemp("all_matches_paths"), JOURNEYS)
    for pid in [*SIGNUPS, *ACTIVATIONS]:
        scenario.profile(pid, city="Shanghai", lifetime_value=5000)
    for pid, at in SIGNUPS.items():
        scenario.event(f"s_{pid}", pid, "signup", at)
    for pid, at in ACTIVATIONS.items():
        scenario.event(f"r_{pid}", pid, "activate", at)
    for action, at in (("pause", P), ("resume", R)):
        record_control(scenario.workspace, scenario.built.project, "held_fork", action, at)
    for at in TICKS[:2]:
        scenario.tick(at)
    scenario.paused_mid = scenario.paths("paused")
    scenario.tick(TICKS[2])
    return scenario


def test_a_fork_before_the_pause_keeps_its_time(sc):
    assert sc.paths("early") == HELD["early"]


def test_a_path_held_by_the_pause_has_not_forked_inside_it(sc):
    assert sc.paused_mid == PAUSED_MID


def test_a_path_held_by_the_pause_forks_at_the_resume(sc):
    assert sc.paths("paused") == HELD["paused"]


def test_a_fork_after_the_resume_keeps_its_time(sc):
    assert sc.paths("late") == HELD["late"]


def test_a_fork_that_reaches_a_second_split_forks_again(sc):
    assert sc.paths("nest") == NESTED


def test_each_nested_path_writes_its_own_tag(sc):
    tags = sc.rows("journeys.journey_tags", "tag, path_id", "profile_id = 'nest'")
    assert {tuple(t.values()) for t in tags} == NESTED_TAGS
