"""Pause, resume and stop (spec section 3, the pause table from the MOBIO seed), through the runtime's own
control recording and real ticks, on the shipped welcome series: send -> wait 1d -> event_check 3d
(then: tag; else: A/B nudge sends), exit on an email unsubscribe, goal `activated`.

The journey is paused at P, resumed at R and stopped at S, all recorded before the first tick; each
profile is one row of the table, with hand-computed logical times.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from journey_compiler.errors import JourneysError
from journey_compiler.runtime.controls import record_control

pytestmark = pytest.mark.slow

H = timedelta(hours=1)
D = timedelta(days=1)
T0 = datetime(2026, 3, 2, 9, 29)
P, R, S = T0 + 10 * H, T0 + D + 5 * H, T0 + 3 * D
CHECKED = T0 - 3 * D - 4 * H
"""Entries at the event_check since T0-2d-4h, whose 3-day window closes at T0+20h, inside the pause."""
SIGNUPS = {
    "early": T0,  # its wait ends at T0+1d, inside the pause
    "edge": T0 + 9 * H,  # its wait ends at T0+1d+9h, after the resume
    "leaver": T0,  # unsubscribes during the pause
    "paused_signup": P + H,  # acts during the pause: never enters
    "late": R + H,
    "after_stop": S + H,
    "checker_yes": CHECKED,  # activates during the pause
    "checker_no": CHECKED,  # its window closes during the pause
    "checker_open": T0 - 2 * D,  # its window closes at T0+2d, after the resume
}
TICKS = (T0 - 3 * D, T0 - D, T0 + 12 * H, T0 + D + 6 * H, T0 + 2 * D + 12 * H, T0 + 5 * D)
WELCOME = [
    (None, "welcome", None, "entered"),
    ("welcome", "wait_a_day", "next", "advanced"),
]


@pytest.fixture(scope="module")
def sc(tmp_path_factory, scenario_builder, welcome_yaml):
    scenario = scenario_builder(tmp_path_factory.mktemp("lifecycle"), {"welcome_series": welcome_yaml})
    scenario.profiles(SIGNUPS)
    for pid, at in SIGNUPS.items():
        scenario.event(f"s_{pid}", pid, "signup", at)
    scenario.event("u_leaver", "leaver", "unsubscribe", P + 2 * H, channel="email")
    scenario.event("a_yes", "checker_yes", "activate", P + H)
    for action, at in (("pause", P), ("resume", R), ("stop", S)):
        record_control(scenario.workspace, scenario.built.project, "welcome_series", action, at)
    for at in TICKS:
        scenario.tick(at)
    return scenario


def _moves(sc, pid):
    return [m[:4] for m in sc.moves(pid)], [m[4] for m in sc.moves(pid)]


def test_a_wait_that_ends_during_the_pause_moves_on_at_the_resume(sc):
    moves, times = _moves(sc, "early")
    assert moves == [
        *WELCOME,
        ("wait_a_day", "activated", "next", "advanced"),
        ("activated", None, None, "stopped"),
    ]
    assert times == [T0, T0, R, S]


def test_a_wait_that_ends_after_the_resume_keeps_its_own_time(sc):
    _, times = _moves(sc, "edge")
    assert times == [T0 + 9 * H, T0 + 9 * H, T0 + D + 9 * H, S]


def test_nobody_enters_during_the_pause_or_after_the_stop_and_entries_after_the_resume_count(sc):
    assert sc.transitions("paused_signup") == [], "acted during the pause: never enters for it"
    assert sc.transitions("after_stop") == []
    moves, times = _moves(sc, "late")
    assert moves[0] == (None, "welcome", None, "entered") and times[:3] == [R + H, R + H, R + D + H]


def test_exit_conditions_still_apply_while_paused(sc):
    moves, times = _moves(sc, "leaver")
    assert moves == [*WELCOME, ("wait_a_day", None, None, "exit_when")]
    assert times == [T0, T0, P + 2 * H]


def test_an_event_check_answered_during_the_pause_takes_then_at_the_resume(sc):
    moves, times = _moves(sc, "checker_yes")
    assert moves[2:] == [
        ("wait_a_day", "activated", "next", "advanced"),
        ("activated", "tag_active", "then", "advanced"),
        ("tag_active", None, "next", "completed"),
    ]
    assert times[3:] == [R, R]
    (tag,) = sc.rows("journeys.journey_tags", where="profile_id = 'checker_yes'")
    assert tag["tagged_at"] == R, "the tag node's work is done on arrival, at the resume"
    (goal,) = sc.rows("journeys.goal_completions", where="profile_id = 'checker_yes'")
    assert goal["completed_at"] == P + H, "goals count events as they happen, paused or not"


def test_a_window_closed_during_the_pause_takes_else_and_its_send_is_created_at_the_resume(sc):
    moves, times = _moves(sc, "checker_no")
    assert moves[3][:3] == ("activated", "nudge_split", "else")
    assert times[3:] == [R, R, R]
    nudge = [m for m in sc.sends("checker_no") if m["node_id"] != "welcome"]
    assert [(m["node_id"] in ("nudge_push", "nudge_email"), m["not_before"]) for m in nudge] == [(True, R)]


def test_a_window_still_open_at_the_resume_keeps_waiting(sc):
    moves, times = _moves(sc, "checker_open")
    assert moves[3][:3] == ("activated", "nudge_split", "else") and times[3] == T0 + 2 * D


def test_messages_created_before_the_pause_stay_queued_and_nothing_is_created_during_it(sc):
    welcome = [m for m in sc.sends() if m["node_id"] == "welcome"]
    assert {m["profile_id"] for m in welcome} == {
        "early",
        "edge",
        "leaver",
        "late",
        "checker_yes",
        "checker_no",
        "checker_open",
    }
    created = [m["not_before"] for m in sc.sends()]
    assert not any(P <= at < R for at in created), "no message is created while paused"
    assert not any(at >= S for at in created), "nor after the stop"


def test_the_stop_ends_every_open_path_and_nobody_moves_again(sc):
    states = {s["profile_id"]: s for s in sc.state()}
    assert {pid for pid, s in states.items() if s["status"] == "active"} == set()
    stopped = {t["profile_id"] for t in sc.transitions() if t["reason"] == "stopped"}
    assert stopped == {"early", "edge", "late"}
    assert max(t["logical_at"] for t in sc.transitions()) == S


def test_the_controls_are_an_audit_log_and_refuse_what_would_rewrite_a_tick(sc):
    rows = sc.rows("journeys.journey_controls", order="effective_at")
    assert [(r["action"], r["effective_at"], r["recorded_via"]) for r in rows] == [
        ("pause", P, "cli"),
        ("resume", R, "cli"),
        ("stop", S, "cli"),
    ]
    assert all(r["recorded_by"] for r in rows)
    with pytest.raises(JourneysError, match="was stopped at"):
        record_control(sc.workspace, sc.built.project, "welcome_series", "resume", T0 + 9 * D)


def test_lifecycle_commands_refuse_in_one_line(tmp_path, scenario_builder, welcome_yaml):
    scenario = scenario_builder(tmp_path, {"welcome_series": welcome_yaml})
    scenario.tick(T0)

    def journeys(*args: str) -> subprocess.CompletedProcess[str]:
        where = [
            "--dir",
            str(scenario.workspace.journeys_dir),
            "--warehouse",
            str(scenario.workspace.warehouse),
        ]
        command = [str(Path(sys.executable).parent / "journeys"), *args, "welcome_series", *where]
        return subprocess.run(command, capture_output=True, text=True, check=False)

    refused = journeys("resume", "--at", "2026-03-03T00:00:00Z")
    assert refused.returncode != 0 and "is not paused" in refused.stderr + refused.stdout
    early = journeys("pause", "--at", "2026-03-01T00:00:00Z")
    output = (early.stderr + early.stdout).strip()
    assert early.returncode != 0 and "already ran" in output and "Traceback" not in output
    assert len(output.splitlines()) == 1
    assert journeys("pause", "--at", "2026-03-03T00:00:00Z").returncode == 0
