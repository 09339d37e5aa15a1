"""tests/nodes/test_segment_trigger.py given to the reference interpreter: the same inputs and entries. The
interpreter's world has one state of the attributes, so the profiles whose attributes change between ticks
are left out."""

from __future__ import annotations

import pytest
from ref_harness import Ref, scenario_inputs, write_project

CASE = scenario_inputs("nodes/test_segment_trigger.py")
LATER = CASE["LATER"]


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    ref = Ref(
        write_project(tmp_path_factory.mktemp("segment_trigger") / "d", {"vip_welcome": CASE["JOURNEY"]})
    )
    for pid, attributes in CASE["PROFILES"].items():
        if pid not in LATER:
            ref.profile(pid, **attributes)
    for pid, tag, at in CASE["TAGS"]:
        ref.tag(pid, tag, at)
    ref.world.details["orders"] = [
        {"order_id": order_id, "profile_id": pid, "amount": amount, "ordered_at": at}
        for order_id, pid, amount, at in CASE["ORDERS"]
    ]
    ref.run(CASE["TICKS"])
    return ref


@pytest.mark.parametrize("pid", sorted(set(CASE["ENTERED"]) - set(LATER)))
def test_a_profile_enters_when_the_segment_turns_true(ref, pid):
    entered = [(t.logical_at, t.tick_at) for t in ref.transitions(pid) if t.reason == "entered"]
    assert entered == CASE["ENTERED"][pid]
