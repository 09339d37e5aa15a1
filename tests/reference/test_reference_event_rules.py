"""tests/nodes/test_event_rules.py (its inputs and hand-computed expectations) given to the reference
interpreter: `did_not` and `did_each` in event checks and splits."""

from __future__ import annotations

import pytest
from ref_harness import Ref, scenario_inputs, write_project

RULES = scenario_inputs("nodes/test_event_rules.py")
T, M = RULES["T"], RULES["M"]


@pytest.fixture(scope="module")
def rules(tmp_path_factory):
    ref = Ref(write_project(tmp_path_factory.mktemp("er") / "d", {"event_rules": RULES["JOURNEY"]}))
    for pid, (route, events, _) in RULES["CASES"].items():
        ref.profile(pid, city=route)
        ref.event(f"{pid}_signup", pid, "signup", T)
        for i, (name, minutes, props) in enumerate(events):
            ref.event(f"{pid}_{i}", pid, name, T + minutes * M, **props)
    ref.run([RULES["FIRST_TICK"]])
    early = {s.profile_id: s.node_id for s in ref.state()}
    ref.run([RULES["FIRST_TICK"], T + 6 * RULES["H"]])
    return ref, early


@pytest.mark.parametrize("pid", sorted(RULES["CASES"]))
def test_the_rule_answers_at_the_time_it_holds_else_when_the_window_closes(rules, pid):
    ref, _ = rules
    route, _, (branch, target, minutes) = RULES["CASES"][pid]
    departure = next(m for m in ref.moves(pid) if m[0] == route)
    assert departure == (route, target, branch, "advanced", T + minutes * M)


def test_a_profile_waits_in_the_node_until_the_answer_is_known(rules):
    _, early = rules
    for pid, (route, _, (_, target, _)) in RULES["CASES"].items():
        assert early[pid] == (target if pid in RULES["ANSWERED_BY_FIRST_TICK"] else route), pid
