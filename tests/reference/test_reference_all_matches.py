"""tests/nodes/test_all_matches.py given to the reference interpreter: the same inputs, the same paths,
messages, tags, exits and goals (the metrics marts are the SQL side's alone)."""

from __future__ import annotations

import pytest
from ref_harness import Ref, scenario_inputs, write_project

CASE = scenario_inputs("nodes/test_all_matches.py")
T, H = CASE["T"], CASE["H"]


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    ref = Ref(write_project(tmp_path_factory.mktemp("all_matches") / "d", {"fan_out": CASE["JOURNEY"]}))
    for pid, attributes in CASE["PROFILES"].items():
        ref.profile(pid, **attributes)
        ref.event(f"s_{pid}", pid, "signup", T)
    ref.event("buy", "p_exit", "purchase", T + 12 * H)
    ref.event("open", "p_both", "app_open", T + 2 * H)
    ref.run(CASE["TICKS"])
    return ref


def test_two_matching_branches_make_two_paths(ref):
    assert ref.paths("p_both") == CASE["PATHS"]


def test_each_path_ends_on_its_own_node(ref):
    rows = ref.state("p_both") + ref.state("p_exit")
    assert {(s.path_id, s.entry_id, s.node_id, s.status) for s in rows} == CASE["STATES"]


def test_each_path_sends_its_own_message(ref):
    assert {(m.node_id, m.message_id, m.entry_id) for m in ref.sends("p_both")} == CASE["SENDS"]


def test_each_path_writes_its_own_tags(ref):
    tags = sorted((t.tag, t.path_id, t.tagged_at) for t in ref.output.tags if t.profile_id == "p_both")
    assert tags == CASE["TAGS"]


def test_an_exit_ends_every_path_of_the_entry(ref):
    exits = {(t.from_node, t.logical_at) for t in ref.transitions("p_exit") if t.reason == "exit_when"}
    assert exits == CASE["EXITS"]


def test_one_match_is_one_path_with_the_entry_id(ref):
    assert list(ref.paths("p_sh")) == [CASE["entry_of"]("p_sh")]
    assert [m.message_id for m in ref.sends("p_sh")] == CASE["ONE_MATCH"]


def test_else_only_when_no_branch_matches(ref):
    assert {(t.profile_id, t.branch) for t in ref.transitions() if t.from_node == "route"} == CASE["TAKEN"]


def test_a_goal_is_the_entrys_counted_once(ref):
    assert [(g.profile_id, g.entry_id, g.goal_id, g.completed_at) for g in ref.output.goals] == CASE["GOALS"]
