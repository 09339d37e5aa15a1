"""tests/nodes/test_all_matches_paths.py given to the reference interpreter: the same journeys, pause and
ticks, the same hand-computed paths."""

from __future__ import annotations

from ref_harness import scenario_inputs

A = scenario_inputs("nodes/test_all_matches_paths.py")


def test_all_matches_paths_beside_a_pause_and_a_second_split(make_ref):
    ref = make_ref(A["JOURNEYS"])
    for pid in [*A["SIGNUPS"], *A["ACTIVATIONS"]]:
        ref.profile(pid, city="Shanghai", lifetime_value=5000)
    for pid, at in A["SIGNUPS"].items():
        ref.event(f"s_{pid}", pid, "signup", at)
    for pid, at in A["ACTIVATIONS"].items():
        ref.event(f"r_{pid}", pid, "activate", at)
    ref.control("held_fork", "pause", A["P"])
    ref.control("held_fork", "resume", A["R"])
    ref.run(A["TICKS"][:2])
    assert ref.paths("paused") == A["PAUSED_MID"]
    ref.run(A["TICKS"])
    for pid, paths in A["HELD"].items():
        assert ref.paths(pid) == paths, pid
    assert ref.paths("nest") == A["NESTED"]
    assert {(t.tag, t.path_id) for t in ref.output.tags if t.profile_id == "nest"} == A["NESTED_TAGS"]
