"""tests/nodes/test_state_exits.py given to the reference interpreter: exits on a segment matched or left,
on an attribute, and on a goal (`exit_on_goal`), with the same inputs and expectations. The interpreter's
world has one state of the attributes, so the profiles whose attributes change between ticks are left out."""

from __future__ import annotations

import pytest
from ref_harness import Ref, scenario_inputs, write_project

CASE = scenario_inputs("nodes/test_state_exits.py")
T0, D, TICKS, LATER = CASE["T0"], CASE["D"], CASE["TICKS"], CASE["LATER"]


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    journeys = {"state_exit": CASE["STATE_EXIT"], "goal_exit": CASE["GOAL_EXIT"]}
    ref = Ref(write_project(tmp_path_factory.mktemp("state_exits") / "d", journeys))
    for pid, attributes in CASE["SIGNUPS"].items():
        if pid not in LATER:
            ref.profile(pid, **attributes)
    ref.profiles(CASE["OPENS"])
    for event_id, pid, name, at, properties in CASE["EVENTS"]:
        if pid not in LATER:
            ref.event(event_id, pid, name, at, **properties)
    for pid, tag, at in CASE["TAGS"]:
        ref.tag(pid, tag, at)
    ref.world.details["orders"] = [
        {"order_id": order_id, "profile_id": pid, "amount": amount, "ordered_at": at}
        for order_id, pid, amount, at in CASE["ORDERS"]
    ]
    ref.run(TICKS)
    return ref


def _end(ref: Ref, pid: str) -> tuple:
    (path,) = ref.paths(pid).values()
    *_, last = path
    (row,) = [t for t in ref.transitions(pid) if t.logical_at == last[4] and t.to_node is None]
    return (*last, row.tick_at)


@pytest.mark.parametrize(("pid", "reason", "at", "tick"), [e for e in CASE["EXITED"] if e[0] not in LATER])
def test_an_exit_leaves_when_the_condition_became_true(ref, pid, reason, at, tick):
    assert _end(ref, pid) == ("wait_long", None, None, reason, at, tick)
    assert ref.sends(pid) == []


def test_without_the_condition_the_path_runs_on(ref):
    for pid in (p for p in CASE["RUNS_ON"] if p not in LATER):
        assert _end(ref, pid) == ("hello", None, "next", "completed", T0 + 3 * D, TICKS[2])


def test_a_goal_that_ends_the_path_is_still_recorded(ref):
    assert {(g.profile_id, g.goal_id): g.completed_at for g in ref.output.goals} == CASE["GOALS"]
