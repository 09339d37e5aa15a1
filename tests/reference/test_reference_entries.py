"""tests/tick/test_tick_entry.py, tests/tick/test_tick_ab_split.py and tests/nodes/test_cadence_mixed.py,
given to the reference interpreter: counting modes, frequency, re-entry, audience, the active window,
deterministic A/B buckets, and cadence invariance on the mixed-node journey."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import timedelta

from ref_harness import cadence_free, every, scenario_inputs

ENTRY = scenario_inputs("tick/test_tick_entry.py")
T0, H, D, M = ENTRY["T0"], ENTRY["H"], ENTRY["D"], ENTRY["M"]


def test_cumulative_with_frequency_max_1_enters_once(make_ref, welcome_yaml):
    ref = make_ref({"welcome_series": welcome_yaml})
    ref.profile("p")
    ref.event("s1", "p", "signup", T0)
    ref.event("s2", "p", "signup", T0 + 2 * H)
    ref.event("s3", "p", "signup", T0 + 6 * D)
    ref.run([T0 + H, T0 + 3 * H, T0 + 7 * D])
    assert ref.entered("p") == [T0]
    assert ref.where("p")[1] == "completed"


def test_cumulative_times_n_enters_at_the_nth_event(make_ref):
    journey = ENTRY["journey"](
        "third_view",
        """
  event:
    did: {event: page_view, where: "page = 'pricing'"}
    mode: cumulative
    times: 3
""",
        ENTRY["SEND_THEN_WAIT"],
    )
    ref = make_ref({"third_view": journey})
    ref.profiles(["p", "q"])
    for i, minutes in enumerate((5, 15, 25, 35)):
        ref.event(f"p{i}", "p", "page_view", T0 + minutes * M, page="pricing")
    ref.event("px", "p", "page_view", T0 + 20 * M, page="home")
    ref.event("q1", "q", "page_view", T0 + 5 * M, page="pricing")
    ref.event("q2", "q", "page_view", T0 + 6 * M, page="home")
    ref.run([T0 + H, T0 + 3 * H])
    assert ref.entered("p") == [T0 + 25 * M]
    assert ref.entered("q") == []


def test_every_mode_enters_again_after_the_previous_entry_completed_but_not_while_inside(make_ref):
    ref = make_ref({"every_signup": ENTRY["EVERY"]})
    ref.profiles(["p", "r"])
    ref.event("s1", "p", "signup", T0)
    ref.event("s2", "p", "signup", T0 + 5 * H)
    ref.event("r1", "r", "signup", T0)
    ref.event("r2", "r", "signup", T0 + 30 * M)  # still inside (waiting until T0 + 1h)
    ref.run([T0 + H, T0 + 2 * H, T0 + 3 * H, T0 + 6 * H, T0 + 8 * H])
    assert ref.entered("p") == [T0, T0 + 5 * H]
    assert len({s.entry_id for s in ref.state("p")}) == 2 and len(ref.sends("p")) == 2
    assert ref.entered("r") == [T0]


def test_frequency_per_period_admits_again_after_the_period(make_ref):
    ref = make_ref({"every_capped": ENTRY["EVERY_CAPPED"]})
    ref.profile("p")
    for i, at in enumerate((T0, T0 + 2 * H, T0 + 25 * H)):
        ref.event(f"s{i}", "p", "signup", at)
    ref.run([T0 + H, T0 + 3 * H, T0 + 26 * H, T0 + 28 * H])
    assert ref.entered("p") == [T0, T0 + 25 * H]


def test_audience_where_filters_on_profile_attributes(make_ref):
    journey = ENTRY["journey"](
        "shanghai_only",
        """
  event:
    did: {event: signup}
  where: "city = 'Shanghai' AND lifetime_value >= 100"
""",
        ENTRY["SEND_THEN_WAIT"],
    )
    ref = make_ref({"shanghai_only": journey})
    ref.profile("in", city="Shanghai", lifetime_value=150)
    ref.profile("poor", city="Shanghai", lifetime_value=50)
    ref.profile("away", city="Beijing", lifetime_value=500)
    ref.profile("bare")
    for pid in ("in", "poor", "away", "bare"):
        ref.event(f"s_{pid}", pid, "signup", T0)
    ref.run([T0 + H])
    assert {t.profile_id for t in ref.transitions()} == {"in"}


def test_nothing_moves_outside_the_active_window(make_ref, welcome_yaml):
    until = ENTRY["UNTIL"]
    short = welcome_yaml.replace('from: "2026-01-01T00:00:00Z"', f'from: "{(T0 - H).isoformat()}Z"')
    short = short.replace('until: "2027-01-01T00:00:00Z"', f'until: "{until.isoformat()}Z"')
    ref = make_ref({"welcome_series": short})
    for pid in ("early", "late", "active_late", "before_start"):
        ref.profile(pid)
    ref.event("s0", "before_start", "signup", T0 - 2 * H)
    ref.event("s1", "early", "signup", T0)
    ref.event("s2", "active_late", "signup", T0 + H)
    ref.event("a2", "active_late", "activate", until + H)
    ref.event("s3", "late", "signup", until + 2 * H)
    before = ref.run([T0 + 2 * H, until - H])
    after = ref.run([T0 + 2 * H, until - H, T0 + 10 * D, T0 + 20 * D])
    assert all(t.logical_at <= until for t in after.transitions)
    assert not [t for t in after.transitions if t.profile_id in ("late", "before_start")]
    for pid in ("early", "active_late"):
        assert ref.where(pid)[0] == "activated"
    assert (after.transitions, after.messages, after.tags) == (
        before.transitions,
        before.messages,
        before.tags,
    )


# ---------------------------------------------------------------- tests/tick/test_tick_ab_split.py

AB = scenario_inputs("tick/test_tick_ab_split.py")


def _split(make_ref, ticks):
    ref = make_ref({"three_way": AB["SPLIT"]})
    ref.profiles(AB["PROFILES"])
    for i, pid in enumerate(AB["PROFILES"]):
        ref.event(f"s_{pid}", pid, "signup", AB["T0"] + (i % 90) * AB["M"])
    ref.run(ticks)
    return ref, {t.entry_id: t.branch for t in ref.transitions() if t.from_node == "split"}


def test_ab_split_buckets_are_deterministic_documented_and_recorded(make_ref):
    t0, m = AB["T0"], AB["M"]
    ref, groups = _split(make_ref, [t0 + 300 * m])
    _, again = _split(make_ref, [t0 + 30 * m, t0 + 61 * m, t0 + 300 * m])
    assert groups == again and len(groups) == len(AB["PROFILES"])
    counts = Counter(groups.values())
    for group, share in AB["SHARES"].items():
        assert abs(counts[group] / len(AB["PROFILES"]) - share) < 0.08, counts
    bounds = [("small", 2000), ("medium", 5000), ("big", 10_000)]
    for entry_id, branch in groups.items():
        slot = int(hashlib.md5(f"three_way:{entry_id}:split".encode()).hexdigest()[:8], 16) % 10_000
        assert branch == next(group for group, upper in bounds if slot < upper)
    state = {s.entry_id: s for s in ref.state()}
    assert all(state[e].ab_group == g and state[e].status == "completed" for e, g in groups.items())
    assert all(m.ab_group == groups[m.entry_id] for m in ref.sends())


# ---------------------------------------------------------------- tests/nodes/test_cadence_mixed.py

MIXED = scenario_inputs("nodes/test_cadence_mixed.py")


def _mixed(make_ref, hourly):
    ref = make_ref({"mixed": MIXED["JOURNEY"]})
    for pid, tz in MIXED["PROFILES"].items():
        ref.profile(pid, timezone=tz)
    ref.tag("b", "vip", MIXED["mon"](0))
    ref.tag("f", "vip", MIXED["mon"](15))
    for event_id, pid, name, at, props in MIXED["EVENTS"]:
        ref.event(event_id, pid, name, at, **props)
    start, end = MIXED["START"], MIXED["END"]
    ticks = every(start + timedelta(hours=1), end, timedelta(hours=1)) if hourly else [end]
    return ref, cadence_free(ref.run(ticks))


def test_mixed_nodes_hourly_and_once_give_the_same_results(make_ref):
    ref, hourly = _mixed(make_ref, True)
    _, once = _mixed(make_ref, False)
    assert hourly == once
    mon, tue = MIXED["mon"], MIXED["tue"]
    entered = {t.profile_id: t.logical_at for t in ref.transitions() if t.reason == "entered"}
    assert entered == {
        "a": mon(13, 10),
        "b": mon(13, 20),
        "c": mon(13, 5),
        "d": mon(15),
        "e": mon(13),
        "f": mon(13, 30),
        "i": mon(23, 30),
        "j": mon(13, 30),
        "k": mon(13),
    }
    moves = {pid: {m[0]: m[1:] for m in ref.moves(pid)} for pid in entered}
    assert moves["a"]["route"][:2] == ("wait_tuesday", "else")
    assert moves["a"]["wait_tuesday"][-1] == mon(23)
    assert moves["a"]["reaction"] == ("tag_bought", "branch_1", "advanced", mon(23, 30))
    assert moves["b"]["route"][:2] == ("tag_vip", "branch_1")
    assert moves["b"]["wait_tuesday"][-1] == mon(22)
    assert moves["b"]["reaction"] == ("tag_engaged", "branch_2", "advanced", mon(22, 50))
    assert moves["c"]["route"][:2] == ("tag_browser", "branch_2")
    assert moves["c"]["reaction"] == ("tag_silent", "else", "advanced", tue(1))
    assert moves["d"]["wait_tuesday"][-1] == tue(1, 30)
    assert moves["d"]["reaction"] == ("tag_bought", "branch_1", "advanced", tue(3, 29))
    assert moves["e"]["wait_tuesday"][2:] == ("exit_when", mon(20))
    assert moves["f"]["route"][:2] == ("wait_tuesday", "else")
    assert moves["f"]["reaction"] == ("tag_bought", "branch_1", "advanced", mon(23, 10))
    assert moves["k"]["route"][:2] == ("wait_tuesday", "else")
    assert ref.where("i") == ("wait_tuesday", "active")
    (nudge,) = ref.sends("c")
    assert (nudge.created_at, nudge.not_before) == (tue(1), tue(1, 30))
