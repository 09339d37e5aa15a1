"""tests/nodes/test_event_without_by.py (its inputs and hand-computed expectations) given to the reference
interpreter: `event_without` with `by:` across the daylight-saving change."""

from __future__ import annotations

from ref_harness import Ref, scenario_inputs, write_project

BY = scenario_inputs("nodes/test_event_without_by.py")


def test_enters_when_the_local_time_passes_without_the_other_event(tmp_path):
    ref = Ref(write_project(tmp_path / "d", {"cart_by_evening": BY["JOURNEY"]}))
    for pid, (zone, events, _) in BY["CASES"].items():
        ref.profile(pid, timezone=zone)
        for i, (name, at) in enumerate(events):
            ref.event(f"{pid}_{i}", pid, name, at, value=60.0)
    out = ref.run([BY["FIRST_TICK"], BY["LAST_TICK"]])
    entered = {t.profile_id: (t.logical_at, t.tick_at) for t in out.transitions if t.reason == "entered"}
    expected = {pid: at for pid, (_, _, at) in BY["CASES"].items() if at is not None}
    assert {pid: at for pid, (at, _) in entered.items()} == expected
    assert {pid for pid, (_, tick) in entered.items() if tick == BY["FIRST_TICK"]} == {"shanghai"}
    assert {m.profile_id: m.created_at for m in out.messages} == expected
