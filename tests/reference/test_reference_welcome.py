"""The shipped welcome series and the tick/entry/event scenarios of tests/tick/, given to the reference
interpreter: the same inputs, the same hand-computed expectations."""

from __future__ import annotations

from datetime import datetime, timedelta

from ref_harness import scenario_inputs

from journey_compiler.reference.ids import bucket

H = timedelta(hours=1)
D = timedelta(days=1)
M = timedelta(minutes=1)
NUDGES = {"nudge_push": ("push", "activation_nudge"), "nudge_email": ("email", "activation_nudge_b")}


def test_three_profiles_walk_the_welcome_series_with_logical_times(make_ref, welcome_yaml):
    """tests/tick/test_tick_welcome_path.py"""
    t0 = datetime(2026, 3, 2, 10, 17)
    ref = make_ref({"welcome_series": welcome_yaml})
    for pid in ("p_act", "p_idle", "p_early"):
        ref.profile(pid, city="Hangzhou")
    signup = {"p_act": t0, "p_idle": t0 + 20 * M, "p_early": t0 + 5 * M}
    for i, (pid, at) in enumerate(signup.items()):
        ref.event(f"s{i}", pid, "signup", at, channel="web")
    ref.event("a3", "p_early", "activate", t0 + 2 * H)  # before the check's window: a goal only
    ref.event("a1", "p_act", "activate", t0 + 2 * D + 3 * H)
    t1, t2, t3, t4 = t0 + H, t0 + D + 6 * H, t0 + 3 * D, t0 + 5 * D

    ref.run([t1])
    for pid, at in signup.items():
        assert ref.moves(pid) == [
            (None, "welcome", None, "entered", at),
            ("welcome", "wait_a_day", "next", "advanced", at),
        ]
        (state,) = ref.state(pid)
        assert (state.node_id, state.status, state.node_entered_at) == ("wait_a_day", "active", at)
        (send,) = ref.sends(pid)
        assert (send.node_id, send.channel, send.template, send.created_at, send.not_before) == (
            "welcome",
            "email",
            "welcome_email",
            at,
            at,
        )
    assert ref.output.goals == []

    ref.run([t1, t2])
    for pid, at in signup.items():
        last = ref.transitions(pid)[-1]
        assert (last.from_node, last.to_node, last.logical_at, last.tick_at) == (
            "wait_a_day",
            "activated",
            at + D,
            t2,
        )
    assert [(g.profile_id, g.completed_at) for g in ref.output.goals] == [("p_early", t0 + 2 * H)]

    ref.run([t1, t2, t3])
    assert ref.moves("p_act")[2:] == [
        ("wait_a_day", "activated", "next", "advanced", t0 + D),
        ("activated", "tag_active", "then", "advanced", t0 + 2 * D + 3 * H),
        ("tag_active", None, "next", "completed", t0 + 2 * D + 3 * H),
    ]
    assert ref.where("p_act") == ("tag_active", "completed")
    assert [(t.profile_id, t.tag, t.tagged_at, t.removed) for t in ref.output.tags] == [
        ("p_act", "activated_in_welcome", t0 + 2 * D + 3 * H, False)
    ]
    for pid in ("p_idle", "p_early"):
        assert ref.where(pid) == ("activated", "active")

    ref.run([t1, t2, t3, t4])
    for pid in ("p_idle", "p_early"):
        closed = signup[pid] + 4 * D
        moves = ref.moves(pid)
        assert moves[3] == ("activated", "nudge_split", "else", "advanced", closed)
        group = moves[4][2]
        assert moves[4:] == [
            ("nudge_split", group, group, "advanced", closed),
            (group, None, "next", "completed", closed),
        ]
        entry_id = ref.state(pid)[0].entry_id
        # the documented bucket: md5(journey:entry:node) % 10 000 below 5 000 -> the first branch
        assert group == (
            "nudge_push" if bucket("welcome_series", entry_id, "nudge_split") < 5000 else "nudge_email"
        )
        (state,) = ref.state(pid)
        assert (state.node_id, state.status, state.ab_group) == (group, "completed", group)
        welcome, nudge = ref.sends(pid)
        assert (nudge.node_id, nudge.channel, nudge.template) == (group, *NUDGES[group])
        assert (nudge.created_at, nudge.ab_group) == (closed, group)
        assert nudge.message_id != welcome.message_id
    assert sorted((g.profile_id, g.completed_at) for g in ref.output.goals) == [
        ("p_act", t0 + 2 * D + 3 * H),
        ("p_early", t0 + 2 * H),
    ]
    assert len({m.message_id for m in ref.sends()}) == 5


def test_late_events_are_picked_up_with_their_true_time(make_ref, welcome_yaml):
    """tests/tick/test_tick_events.py"""
    t0 = datetime(2026, 3, 2, 9, 7)
    ref = make_ref({"welcome_series": welcome_yaml})
    ref.profiles(["waiting", "late_signup"])
    ref.event("s1", "waiting", "signup", t0)
    t1, t2 = t0 + H, t0 + D + 2 * H
    loaded = t2 + 30 * M
    ref.event("a1", "waiting", "activate", t0 + D + H, loaded_at=loaded)
    ref.event("s2", "late_signup", "signup", t0 + 30 * M, loaded_at=loaded)
    t3 = t2 + H
    ref.run([t1, t2])
    assert ref.where("waiting") == ("activated", "active")
    assert ref.transitions("late_signup") == []
    ref.run([t1, t2, t3])
    check = [t for t in ref.transitions("waiting") if t.from_node == "activated"]
    assert [(t.branch, t.logical_at, t.tick_at) for t in check] == [("then", t0 + D + H, t3)]
    assert [(g.profile_id, g.completed_at) for g in ref.output.goals] == [("waiting", t0 + D + H)]
    assert ref.moves("late_signup") == [
        (None, "welcome", None, "entered", t0 + 30 * M),
        ("welcome", "wait_a_day", "next", "advanced", t0 + 30 * M),
        ("wait_a_day", "activated", "next", "advanced", t0 + 30 * M + D),
    ]
    assert {t.tick_at for t in ref.transitions("late_signup")} == {t3}


def test_a_tick_sees_only_events_up_to_its_time(make_ref, welcome_yaml):
    t0 = datetime(2026, 3, 2, 9, 7)
    tick = t0 + H
    ref = make_ref({"welcome_series": welcome_yaml})
    ref.profiles(["future", "at_t", "backfill"])
    ref.event("s1", "future", "signup", tick + M, loaded_at=t0)
    ref.event("s2", "at_t", "signup", tick, loaded_at=t0)
    ref.event("s3", "backfill", "signup", t0, loaded_at=tick + 10 * M)
    ref.run([tick])
    assert ref.transitions("future") == [] and ref.transitions("backfill") == []
    assert ref.entered("at_t") == [tick]
    ref.run([tick, tick + H])
    assert ref.entered("future") == [tick + M]
    assert ref.entered("backfill") == [t0]
    assert {t.tick_at for t in ref.transitions("backfill")} == {tick + H}


TWICE = scenario_inputs("tick/test_tick_events.py")["TWICE"]


def test_a_duplicate_delivery_counts_once(make_ref):
    t0 = datetime(2026, 3, 2, 9, 7)
    ref = make_ref({"second_signup": TWICE})
    ref.profiles(["dup_same_load", "dup_later_load", "two_real"])
    ref.event("x1", "dup_same_load", "signup", t0)
    ref.event("x1", "dup_same_load", "signup", t0)
    ref.event("y1", "dup_later_load", "signup", t0 + M)
    ref.event("y1", "dup_later_load", "signup", t0 + M, loaded_at=t0 + 40 * M)
    ref.event("z1", "two_real", "signup", t0 + 2 * M)
    ref.event("z2", "two_real", "signup", t0 + 3 * M)
    ref.event("z3", "two_real", "activate", t0 + H)
    ref.event("z3", "two_real", "activate", t0 + H)
    ref.event("z3", "two_real", "activate", t0 + H, loaded_at=t0 + 2 * H)
    ref.run([t0 + 30 * M, t0 + 3 * H, t0 + 2 * D])
    assert ref.transitions("dup_same_load") == [] and ref.transitions("dup_later_load") == []
    assert ref.entered("two_real") == [t0 + 3 * M]
    check = [t for t in ref.transitions("two_real") if t.from_node == "check"]
    assert [(t.branch, t.to_node, t.logical_at) for t in check] == [("else", "idle", t0 + 3 * M + D)]
    assert [t.tag for t in ref.output.tags] == ["idle"]
    assert len(ref.sends()) == 1


SECOND = scenario_inputs("tick/test_tick_outputs.py")["SECOND"]


def test_two_journeys_on_one_event_keep_separate_entries(make_ref, welcome_yaml):
    """tests/tick/test_tick_outputs.py"""
    t0 = datetime(2026, 3, 2, 9, 53)
    ref = make_ref({"welcome_series": welcome_yaml, "second_look": SECOND})
    ref.profile("p")
    ref.event("s1", "p", "signup", t0)
    ref.run([t0 + H])
    states = {s.journey_id: s for s in ref.state("p")}
    assert states["welcome_series"].entry_id != states["second_look"].entry_id
    assert (states["second_look"].node_id, states["second_look"].status) == ("hello", "completed")
    assert (states["welcome_series"].node_id, states["welcome_series"].status) == ("wait_a_day", "active")
    sends = ref.sends("p")
    assert sorted(s.journey_id for s in sends) == ["second_look", "welcome_series"]
    assert len({s.message_id for s in sends}) == 2
    assert all(s.created_at == t0 and s.status == "queued" and s.recipient_id == "p" for s in sends)
