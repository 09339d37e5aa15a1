"""tests/nodes/test_each_of.py (its inputs and hand-computed expectations) given to the reference
interpreter: the `each_of` trigger."""

from __future__ import annotations

from ref_harness import Ref, scenario_inputs, write_project

from journey_compiler.reference.ids import entry_id, trigger_key

EACH = scenario_inputs("nodes/test_each_of.py")
T, M = EACH["T"], EACH["M"]


def test_each_profile_enters_once_at_the_event_that_completed_the_combination(tmp_path):
    ref = Ref(write_project(tmp_path / "d", EACH["JOURNEYS"]))
    for pid, events in EACH["EVENTS"].items():
        ref.profile(pid)
        for i, (name, minutes, props) in enumerate(events):
            ref.event(f"{pid}_{i}", pid, name, T + minutes * M, **props)
    out = ref.run([EACH["FIRST_TICK"], T + 6 * EACH["H"]])
    entered = [t for t in out.transitions if t.reason == "entered"]
    found = {(t.journey_id, t.profile_id): (t.entry_id, t.logical_at) for t in entered}
    assert len(found) == len(entered)
    assert found == {
        (jid, pid): (entry_id(jid, pid, trigger_key(event_id)), T + minutes * M)
        for jid, want in EACH["ENTERED"].items()
        for pid, (event_id, minutes) in want.items()
    }
