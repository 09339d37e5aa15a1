"""The node scenarios of tests/nodes/ and tests/tick/ (inputs read from those modules), given to the reference
interpreter: local waits across daylight saving, event waits and splits, `event_without`, exits and goals,
and the same transitions whatever the tick cadence."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from ref_harness import Ref, cadence_free, every, scenario_inputs, write_project

H = timedelta(hours=1)
M = timedelta(minutes=1)


# ---------------------------------------------------------------- tests/nodes/test_waits.py

WAITS = scenario_inputs("nodes/test_waits.py")


@pytest.fixture(scope="module")
def waits(tmp_path_factory):
    ref = Ref(write_project(tmp_path_factory.mktemp("w") / "d", {"local_waits": WAITS["JOURNEY"]}))
    for pid, (route, tz, arrival, _) in WAITS["CASES"].items():
        ref.profile(pid, timezone=tz, city=route)
        ref.event(f"{pid}_s", pid, "signup", arrival)
    ref.profile("u_after", timezone=WAITS["BERLIN"], city="until")
    ref.event("u_after_s", "u_after", "signup", WAITS["MISSED_AT"])
    for offset in range(20, 45):
        d = date(2026, 3, 1) + timedelta(days=offset)
        ref.world.trading_calendar[d] = d not in WAITS["CLOSED"]
    first = WAITS["FIRST_TICK"]
    ref.run([first])
    early = {s.profile_id: (s.node_id, s.status) for s in ref.state()}
    ref.run([first, WAITS["utc"](4, 30, 0)])
    return ref, early


@pytest.mark.parametrize("pid", sorted(WAITS["CASES"]))
def test_the_wait_ends_at_the_local_time_in_utc(waits, pid):
    ref, early = waits
    route, _, arrival, ends = WAITS["CASES"][pid]
    wait = f"w_{WAITS['_node'](pid)}"
    assert ref.moves(pid) == [
        (None, "route", None, "entered", arrival),
        ("route", wait, f"branch_{WAITS['ROUTES'].index(route) + 1}", "advanced", arrival),
        (wait, "bye", "next", "advanced", ends),
        ("bye", None, "exit:waited_enough", "waited_enough", ends),
    ]
    assert ref.where(pid) == ("bye", "exited")
    assert early[pid] == (("bye", "exited") if ends <= WAITS["FIRST_TICK"] else (wait, "active"))


def test_arriving_after_until_leaves_with_reason_missed(waits):
    ref, _ = waits
    missed = WAITS["MISSED_AT"]
    assert ref.moves("u_after") == [
        (None, "route", None, "entered", missed),
        ("route", "w_until", "branch_1", "advanced", missed),
        ("w_until", None, "exit:missed", "missed", missed),
    ]
    assert ref.where("u_after") == ("w_until", "exited")


# ---------------------------------------------------------------- tests/nodes/test_event_waits.py

EVENT_WAITS = scenario_inputs("nodes/test_event_waits.py")


@pytest.fixture(scope="module")
def event_waits(tmp_path_factory):
    ref = Ref(write_project(tmp_path_factory.mktemp("ew") / "d", {"came_back": EVENT_WAITS["JOURNEY"]}))
    t = EVENT_WAITS["T"]
    for pid, events in EVENT_WAITS["EVENTS"].items():
        ref.profile(pid)
        ref.event(f"{pid}_signup", pid, "signup", t)
        for i, (name, minutes, props) in enumerate(events):
            ref.event(f"{pid}_{i}", pid, name, t + minutes * M, **props)
    ref.run([t + 2 * H])
    early = {s.profile_id: (s.node_id, s.status) for s in ref.state()}
    ref.run([t + 2 * H, t + 6 * H])
    return ref, early


def test_event_split_first_branch_met_wins_ties_go_first_else_at_close(event_waits):
    ref, early = event_waits
    t, close = EVENT_WAITS["T"], EVENT_WAITS["CLOSE"]
    split = {pid: next(m for m in ref.moves(pid) if m[0] == "split") for pid in EVENT_WAITS["EVENTS"]}
    assert split["buyer"] == ("split", "t_buyer", "branch_1", "advanced", t + H)
    assert split["warm_first"] == ("split", "t_warm", "branch_2", "advanced", t + 50 * M)
    assert split["tie"] == ("split", "t_buyer", "branch_1", "advanced", t + H)
    assert split["at_close"] == ("split", "t_buyer", "branch_1", "advanced", close)
    for pid in ("one_open", "before_arrival", "free_purchase", "after_close"):
        assert split[pid] == ("split", "t_cold", "else", "advanced", close), pid
    assert early["buyer"] == ("t_buyer", "completed")
    assert early["one_open"] == early["at_close"] == ("split", "active")


def test_wait_for_event_happened_or_timeout(event_waits):
    ref, _ = event_waits
    t, close = EVENT_WAITS["T"], EVENT_WAITS["CLOSE"]
    assert ref.moves("one_open")[-2:] == [
        ("wait_activate", "t_activated", "happened", "advanced", t + 210 * M),
        ("t_activated", None, "next", "completed", t + 210 * M),
    ]
    for pid in ("before_arrival", "after_close"):
        assert ref.moves(pid)[-2:] == [
            ("wait_activate", "t_gone", "timeout", "advanced", close + 2 * H),
            ("t_gone", None, "exit:gone_quiet", "gone_quiet", close + 2 * H),
        ]
        assert ref.where(pid) == ("t_gone", "exited")


# ---------------------------------------------------------------- tests/nodes/test_event_without.py

WITHOUT = scenario_inputs("nodes/test_event_without.py")


def test_event_without_enters_when_the_window_closes_without_the_other_event(make_ref):
    ref = make_ref({"cart_left": WITHOUT["JOURNEY"]})
    t = WITHOUT["T"]
    for pid, events in WITHOUT["PROFILES"].items():
        ref.profile(pid)
        for i, (name, minutes, props) in enumerate(events):
            ref.event(f"{pid}_{i}", pid, name, t + minutes * M, **props)
    ref.run([t + 65 * M])
    first = {tr.profile_id: tr.logical_at for tr in ref.transitions() if tr.reason == "entered"}
    ref.run([t + 65 * M, t + 3 * H])
    entered = {tr.profile_id: tr.logical_at for tr in ref.transitions() if tr.reason == "entered"}
    assert entered == {
        "no_purchase": t + H,
        "bought_after": t + H,
        "bought_before": t + H,
        "late_cart": t + 45 * M + H,
        "other_event": t + H,
    }
    assert "late_cart" not in first
    (send,) = ref.sends("no_purchase")
    assert (send.created_at, send.not_before, send.status) == (t + H, t + H, "queued")


# ---------------------------------------------------------------- tests/tick/test_tick_exits_goals.py

EXITS = scenario_inputs("tick/test_tick_exits_goals.py")


@pytest.fixture(scope="module")
def exits(tmp_path_factory, welcome_yaml):
    ref = Ref(write_project(tmp_path_factory.mktemp("ex") / "d", {"welcome_series": welcome_yaml}))
    ref.profiles(EXITS["SIGNUPS"])
    for pid, at in EXITS["SIGNUPS"].items():
        ref.event(f"s_{pid}", pid, "signup", at)
    for event_id, pid, name, at, props in EXITS["EVENTS"]:
        ref.event(event_id, pid, name, at, **props)
    ref.run(EXITS["TICKS"])
    return ref


def test_exits_end_the_entry_wherever_it_is_and_nothing_after_runs(exits):
    t0, d = EXITS["T0"], EXITS["D"]
    leaver = exits.state("leaver")[0]
    assert (leaver.node_id, leaver.status, leaver.node_entered_at) == ("wait_a_day", "exited", t0 + 10 * H)
    (out,) = [t for t in exits.transitions("leaver") if t.reason == "exit_when"]
    assert (out.from_node, out.to_node, out.logical_at, out.tick_at) == (
        "wait_a_day",
        None,
        t0 + 10 * H,
        t0 + 6 * d,
    )
    assert [s.node_id for s in exits.sends("leaver")] == ["welcome"]
    for pid in ("sms_only", "stayer"):
        assert exits.where(pid)[1] == "completed" and len(exits.sends(pid)) == 2
    before = exits.state("before_send")[0]
    assert (before.node_id, before.status, before.node_entered_at) == (
        "activated",
        "exited",
        t0 + 2 * H + 2 * d,
    )
    assert [s.node_id for s in exits.sends("before_send")] == ["welcome"]
    start = t0 + 5 * H
    assert exits.moves("same_tick")[:2] == [
        (None, "welcome", None, "entered", start),
        ("welcome", "wait_a_day", "next", "advanced", start),
    ]
    assert exits.moves("same_tick")[2][3:] == ("exit_when", start + 5 * M)
    assert len(exits.moves("same_tick")) == 3


def test_a_goal_is_recorded_once_with_the_event_time(exits):
    t0, d = EXITS["T0"], EXITS["D"]
    got = [(g.profile_id, g.goal_id, g.completed_at) for g in exits.output.goals]
    assert [g for g in got if g[0] == "repeat"] == [("repeat", "activated", t0 + 3 * H)]
    assert ("after_completion", "activated", t0 + 5 * d + 12 * H) in got
    assert not [g for g in got if g[0] in ("too_late", "before_entry")]
    assert exits.where("repeat") == ("tag_active", "completed")


# ---------------------------------------------------------------- tests/tick/test_tick_cadence.py


CADENCE = scenario_inputs("tick/test_tick_cadence.py")


def _cadence_run(make_ref, step):
    ref = make_ref({"onboarding": CADENCE["ONBOARDING"]})
    ref.profiles(CADENCE["PROFILES"])
    for event_id, pid, name, time, props in CADENCE["EVENTS"]:
        ref.event(event_id, pid, name, time, **props)
    t0, end = CADENCE["T0"], CADENCE["END"]
    out = ref.run([end] if step is None else every(t0 + step, end, step))
    return ref, {**cadence_free(out), "ticks": {t.tick_at for t in out.transitions}}


def test_same_events_same_results_whatever_the_cadence(make_ref):
    _, once = _cadence_run(make_ref, None)
    for step in (H, 6 * H, 5 * M):
        _, other = _cadence_run(make_ref, step)
        assert len(other["ticks"]) > 1
        for output in ("transitions", "states", "sends", "tags", "goals"):
            assert other[output] == once[output], (step, output)
    reasons = {t[5] for t in once["transitions"]}
    assert {"entered", "advanced", "completed", "exit_when", "exit_node"} <= reasons


def test_logical_times_are_event_times_and_wait_ends(make_ref):
    ref, _ = _cadence_run(make_ref, H)
    at = CADENCE["at"]
    by = {pid: {(m[0], m[1]): m[2:] for m in ref.moves(pid)} for pid in ("a", "b", "d")}
    assert by["a"][(None, "welcome")][2] == at(0, 7)
    assert by["a"][("wait_1h", "check")][2] == at(1, 7)
    assert by["a"][("check", "tag_active")] == ("then", "advanced", at(1, 50))
    assert by["a"][("cool_down", "untag")][2] == at(2, 20)
    assert by["b"][("check", "split")] == ("else", "advanced", at(3, 50))
    assert by["d"][("check", "tag_active")][2] == at(4, 0)
    exits = {t.profile_id: (t.from_node, t.logical_at) for t in ref.transitions() if t.reason == "exit_when"}
    assert exits["c"] == ("wait_1h", at(2, 5))
    assert exits["e"] == ("check", at(5, 30))
    assert exits["k"] == ("check", at(4, 11))
    removed = [t for t in ref.output.tags if t.removed]
    assert [(t.profile_id, t.tag, t.tagged_at) for t in removed] == [
        ("a", "onboarded", at(2, 20)),
        ("d", "onboarded", at(4, 30)),
    ]


def test_every_mode_is_cadence_invariant(make_ref):
    """The same case as tests/tick/test_tick_cadence.py for the SQL: one tick covering two `every`
    occurrences; the spec's cadence rule decides: both enter, at any cadence."""
    results = {}
    at, t0 = CADENCE["at"], CADENCE["T0"]
    for name, ticks in (("hourly", [t0 + k * H for k in range(1, 5)]), ("once", [t0 + 4 * H])):
        ref = make_ref({"every_signup": CADENCE["EVERY"]})
        ref.profile("p")
        ref.event("s1", "p", "signup", at(0, 10))
        ref.event("s2", "p", "signup", at(3, 10))
        out = ref.run(ticks)
        results[name] = {(t.entry_id, t.from_node, t.to_node, t.logical_at) for t in out.transitions}
    assert len({r[0] for r in results["hourly"]}) == 2
    assert results["once"] == results["hourly"]
