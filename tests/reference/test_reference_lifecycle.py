"""tests/tick/test_tick_lifecycle.py given to the reference interpreter: the same inputs (pause at P, resume
at R, stop at S on the welcome series), the same hand-computed expectations."""

from __future__ import annotations

from ref_harness import scenario_inputs

LIFE = scenario_inputs("tick/test_tick_lifecycle.py")
T0, H, D = LIFE["T0"], LIFE["H"], LIFE["D"]
P, R, S = LIFE["P"], LIFE["R"], LIFE["S"]


def test_the_pause_table_on_the_welcome_series(make_ref, welcome_yaml):
    ref = make_ref({"welcome_series": welcome_yaml})
    ref.profiles(LIFE["SIGNUPS"])
    for pid, at in LIFE["SIGNUPS"].items():
        ref.event(f"s_{pid}", pid, "signup", at)
    ref.event("u_leaver", "leaver", "unsubscribe", P + 2 * H, channel="email")
    ref.event("a_yes", "checker_yes", "activate", P + H)
    for action, at in (("pause", P), ("resume", R), ("stop", S)):
        ref.control("welcome_series", action, at)
    ref.run(LIFE["TICKS"])

    def times(pid):
        return [m[4] for m in ref.moves(pid)]

    assert [m[3] for m in ref.moves("early")] == ["entered", "advanced", "advanced", "stopped"]
    assert times("early") == [T0, T0, R, S], "a wait ending in the pause moves on at the resume"
    assert times("edge") == [T0 + 9 * H, T0 + 9 * H, T0 + D + 9 * H, S], "one ending after it keeps its time"
    assert ref.transitions("paused_signup") == [] and ref.transitions("after_stop") == []
    assert times("late")[:3] == [R + H, R + H, R + D + H]
    assert ref.moves("leaver")[-1][3:] == ("exit_when", P + 2 * H), "exits apply while paused"
    assert [m[:3] for m in ref.moves("checker_yes")[3:]] == [
        ("activated", "tag_active", "then"),
        ("tag_active", None, "next"),
    ]
    assert times("checker_yes")[3:] == [R, R]
    assert [t.tagged_at for t in ref.output.tags if t.profile_id == "checker_yes"] == [R]
    assert [g.completed_at for g in ref.output.goals if g.profile_id == "checker_yes"] == [P + H]
    assert ref.moves("checker_no")[3][:3] == ("activated", "nudge_split", "else")
    nudge = [m for m in ref.sends("checker_no") if m.node_id != "welcome"]
    assert [(m.created_at, m.not_before) for m in nudge] == [(R, R)], "a send reached in the pause: at R"
    assert times("checker_open")[3] == T0 + 2 * D
    created = [m.created_at for m in ref.output.messages]
    assert not any(P <= at < R or at >= S for at in created)
    assert {s.status for s in ref.state()} == {"exited", "completed"}
