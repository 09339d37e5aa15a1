"""Ticks only move forward, and re-running one (after success or a crash) changes nothing (spec section 3)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from journey_compiler.errors import TickError
from journey_compiler.runtime.dbt import run_dbt
from journey_compiler.runtime.tick import begin_tick

pytestmark = pytest.mark.slow

H = timedelta(hours=1)
D = timedelta(days=1)
T0 = datetime(2026, 3, 2, 9, 41)


def _load(sc):
    for pid in ("p1", "p2", "p3"):
        sc.profile(pid)
    sc.event("s1", "p1", "signup", T0)
    sc.event("s2", "p2", "signup", T0 + 10 * timedelta(minutes=1))
    sc.event("s3", "p3", "signup", T0 + 20 * timedelta(minutes=1))
    sc.event("a1", "p1", "activate", T0 + D + 2 * H)
    sc.event("u3", "p3", "unsubscribe", T0 + 5 * H, channel="email")


def test_rerunning_an_applied_tick_changes_nothing(make_scenario, welcome_yaml):
    sc = make_scenario({"welcome_series": welcome_yaml})
    _load(sc)
    first = sc.tick(T0 + H)
    assert not first.already_applied
    second = sc.tick(T0 + 2 * D)
    assert not second.already_applied
    counts, snapshot = sc.counts(), sc.snapshot()
    assert counts["journeys.journey_transitions"] > 0 and counts["journeys.send_queue"] > 0
    assert counts["journeys.goal_completions"] == 1 and counts["journeys.journey_tags"] == 1

    again = sc.tick(T0 + 2 * D)
    assert again.already_applied
    assert again.watermark == second.watermark
    assert sc.counts() == counts
    assert sc.snapshot() == snapshot

    # events loaded after the tick ran do not leak into a re-run of it; the next tick sees them
    sc.event("s4", "p4", "signup", T0 + D, loaded_at=T0 + 2 * D + H)
    sc.profile("p4")
    assert sc.tick(T0 + 2 * D).already_applied
    assert sc.snapshot() == snapshot
    sc.tick(T0 + 2 * D + 2 * H)
    assert [t["logical_at"] for t in sc.transitions("p4") if t["reason"] == "entered"] == [T0 + D]


def test_a_tick_before_the_last_one_is_refused(make_scenario, welcome_yaml):
    sc = make_scenario({"welcome_series": welcome_yaml})
    _load(sc)
    sc.tick(T0 + H)
    sc.tick(T0 + 2 * D)
    snapshot = sc.snapshot()
    with pytest.raises(TickError):
        sc.tick(T0 + D)
    with pytest.raises(TickError):
        sc.tick(T0 + 2 * D - timedelta(seconds=1))
    assert sc.snapshot() == snapshot
    # an earlier tick that *was* applied is a no-op, not an error
    assert sc.tick(T0 + H).already_applied
    assert sc.snapshot() == snapshot


def test_a_crashed_tick_rerun_gives_the_same_state_and_no_second_message(make_scenario, welcome_yaml):
    """The models ran but the runner died before recording the tick: the re-run must not append twice."""
    clean = make_scenario({"welcome_series": welcome_yaml}, name="clean")
    crashed = make_scenario({"welcome_series": welcome_yaml}, name="crashed")
    for sc in (clean, crashed):
        _load(sc)
        sc.tick(T0 + H)
    clean.tick(T0 + 5 * D)

    plan = begin_tick(crashed.workspace, crashed.built, T0 + 5 * D)
    run_dbt(crashed.built.dbt_dir, crashed.workspace.warehouse, plan.dbt_args)
    # ... crash: finish_tick never ran
    partial = crashed.snapshot()
    rerun = crashed.tick(T0 + 5 * D)
    assert not rerun.already_applied
    assert crashed.snapshot() == partial
    assert crashed.snapshot() == clean.snapshot()
    ids = [s["message_id"] for s in crashed.sends()]
    assert len(ids) == len(set(ids)) == 4  # 3 welcome + 1 nudge (p1 activated, p3 exited)
    assert crashed.tick(T0 + 5 * D).already_applied


def test_a_crash_before_the_models_ran_keeps_the_tick_watermark(make_scenario, welcome_yaml):
    """The watermark is fixed when a tick first starts: a re-run sees exactly the same events."""
    sc = make_scenario({"welcome_series": welcome_yaml})
    sc.profile("p1")
    sc.profile("p2")
    sc.event("s1", "p1", "signup", T0, loaded_at=T0)
    begin_tick(sc.workspace, sc.built, T0 + 3 * H)  # registers the tick, then "crashes"
    # loaded after the crash, with a load time inside the tick: belongs to the next tick
    sc.event("s2", "p2", "signup", T0 + H, loaded_at=T0 + 2 * H)
    sc.tick(T0 + 3 * H)
    assert {t["profile_id"] for t in sc.transitions()} == {"p1"}
    sc.tick(T0 + 4 * H)
    assert [t["logical_at"] for t in sc.transitions("p2") if t["reason"] == "entered"] == [T0 + H]
