"""Entries: counting modes, frequency, re-entry, the audience filter and the journey's active window."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

pytestmark = pytest.mark.slow

H = timedelta(hours=1)
D = timedelta(days=1)
M = timedelta(minutes=1)
T0 = datetime(2026, 3, 2, 8, 13)


def journey(
    jid: str,
    entry: str,
    nodes: str,
    extra: str = "",
    active: str = '{from: "2026-01-01T00:00:00Z", until: "2027-01-01T00:00:00Z"}',
) -> str:
    return f"""
id: {jid}
name: {jid}
timezone: UTC
active: {active}
{extra}
entry:
{entry}
nodes:
{nodes}
"""


SEND_THEN_WAIT = """
  hello:
    send: {channel: email, template: welcome_email}
    next: pause
  pause:
    wait: {for: 1h}
"""


def entries(sc, profile_id):
    return [t for t in sc.transitions(profile_id) if t["reason"] == "entered"]


def test_cumulative_with_frequency_max_1_enters_once(make_scenario, welcome_yaml):
    sc = make_scenario({"welcome_series": welcome_yaml})
    sc.profile("p")
    sc.event("s1", "p", "signup", T0)
    sc.tick(T0 + H)
    sc.event("s2", "p", "signup", T0 + 2 * H)  # while inside
    sc.tick(T0 + 3 * H)
    sc.event("s3", "p", "signup", T0 + 6 * D)  # after the first entry completed
    sc.tick(T0 + 7 * D)
    assert [e["logical_at"] for e in entries(sc, "p")] == [T0]
    assert [s["node_id"] for s in sc.sends("p")].count("welcome") == 1
    (state,) = sc.state("p")
    assert state["status"] == "completed"


def test_cumulative_times_n_enters_at_the_nth_event(make_scenario):
    third = journey(
        "third_view",
        """
  event:
    did: {event: page_view, where: "page = 'pricing'"}
    mode: cumulative
    times: 3
""",
        SEND_THEN_WAIT,
    )
    sc = make_scenario({"third_view": third})
    sc.profile("p")
    sc.profile("q")
    for i, minutes in enumerate((5, 15, 25, 35)):
        sc.event(f"p{i}", "p", "page_view", T0 + minutes * M, page="pricing")
    sc.event("px", "p", "page_view", T0 + 20 * M, page="home")  # filtered out by the where
    sc.event("q1", "q", "page_view", T0 + 5 * M, page="pricing")
    sc.event("q2", "q", "page_view", T0 + 6 * M, page="home")
    sc.event("q3", "q", "page_view", T0 + 7 * M, page="home")
    sc.tick(T0 + H)
    sc.tick(T0 + 3 * H)
    assert [e["logical_at"] for e in entries(sc, "p")] == [T0 + 25 * M]  # the third pricing view; once
    assert entries(sc, "q") == []


EVERY = journey(
    "every_signup",
    """
  event:
    did: {event: signup}
    mode: every
""",
    SEND_THEN_WAIT,
)


def test_every_mode_enters_again_after_the_previous_entry_completed(make_scenario):
    sc = make_scenario({"every_signup": EVERY})
    sc.profile("p")
    sc.event("s1", "p", "signup", T0)
    sc.tick(T0 + 3 * H)
    sc.event("s2", "p", "signup", T0 + 5 * H)
    sc.tick(T0 + 6 * H)
    sc.tick(T0 + 8 * H)
    got = entries(sc, "p")
    assert [e["logical_at"] for e in got] == [T0, T0 + 5 * H]
    assert len({e["entry_id"] for e in got}) == 2
    assert len(sc.sends("p")) == 2
    assert sorted(s["status"] for s in sc.state("p")) == ["completed", "completed"]


def test_every_mode_without_reentry_ignores_triggers_while_inside(make_scenario):
    sc = make_scenario({"every_signup": EVERY})
    sc.profile("p")
    sc.event("s1", "p", "signup", T0)
    sc.event("s2", "p", "signup", T0 + 30 * M)  # still inside (waiting until T0 + 1h)
    for hours in (1, 2, 3, 4):
        sc.tick(T0 + hours * H)
    assert [e["logical_at"] for e in entries(sc, "p")] == [T0]
    assert len(sc.sends("p")) == 1


EVERY_CAPPED = journey(
    "every_capped",
    """
  event:
    did: {event: signup}
    mode: every
  frequency: {max: 1, per: 1d}
  reentry: true
""",
    SEND_THEN_WAIT,
)


def test_frequency_per_period_admits_again_after_the_period(make_scenario):
    sc = make_scenario({"every_capped": EVERY_CAPPED})
    sc.profile("p")
    sc.event("s1", "p", "signup", T0)
    sc.event("s2", "p", "signup", T0 + 2 * H)  # within a day of the first entry: refused
    sc.event("s3", "p", "signup", T0 + 25 * H)  # a day after the first entry: admitted
    sc.tick(T0 + H)
    sc.tick(T0 + 3 * H)
    sc.tick(T0 + 26 * H)
    sc.tick(T0 + 28 * H)
    assert [e["logical_at"] for e in entries(sc, "p")] == [T0, T0 + 25 * H]


def test_audience_where_filters_on_profile_attributes(make_scenario):
    local = journey(
        "shanghai_only",
        """
  event:
    did: {event: signup}
  where: "city = 'Shanghai' AND lifetime_value >= 100"
""",
        SEND_THEN_WAIT,
    )
    sc = make_scenario({"shanghai_only": local})
    sc.profile("in", city="Shanghai", lifetime_value=150)
    sc.profile("poor", city="Shanghai", lifetime_value=50)
    sc.profile("away", city="Beijing", lifetime_value=500)
    sc.profile("bare")
    for pid in ("in", "poor", "away", "bare"):
        sc.event(f"s_{pid}", pid, "signup", T0)
    sc.tick(T0 + H)
    assert {t["profile_id"] for t in sc.transitions()} == {"in"}
    assert [s["profile_id"] for s in sc.sends()] == ["in"]


def test_a_trigger_is_judged_when_first_seen_and_again_only_after_a_late_event(make_scenario):
    """docs/semantics.md, "When a trigger is judged": joining the audience later does not admit an old
    trigger, even when newer events arrive; an event older than the trigger arriving late has it judged
    again (with the facts of that tick); a new trigger is judged with today's facts."""
    local = journey(
        "gold_only",
        """
  event:
    did: {event: signup}
    mode: every
  where: "member_level = 'gold'"
  reentry: true
""",
        SEND_THEN_WAIT,
    )
    sc = make_scenario({"gold_only": local})
    for pid in ("quiet", "busy", "late"):
        sc.profile(pid, member_level="silver")
        sc.event(f"s_{pid}", pid, "signup", T0)
    sc.tick(T0 + H)
    # all become gold (a newer profile row); `busy` browses after its signup, `late` before it (loaded late)
    sc.sql(
        "insert into raw.profiles select profile_id, email, phone, timezone, ?, ? from raw.profiles",
        ['{"member_level": "gold"}', datetime(2026, 2, 1)],
    )
    sc.event("v_busy", "busy", "page_view", T0 + 2 * H)
    sc.event("v_late", "late", "page_view", T0 - H, loaded_at=T0 + 2 * H)
    sc.tick(T0 + 3 * H)
    assert entries(sc, "quiet") == [] and entries(sc, "busy") == []
    assert [e["logical_at"] for e in entries(sc, "late")] == [T0]
    sc.event("s2_busy", "busy", "signup", T0 + 4 * H)
    sc.tick(T0 + 5 * H)
    assert [e["logical_at"] for e in entries(sc, "busy")] == [T0 + 4 * H]
    assert entries(sc, "quiet") == []


UNTIL = T0 + D + 6 * H


def test_nothing_moves_outside_the_active_window(make_scenario, welcome_yaml):
    short = welcome_yaml.replace('from: "2026-01-01T00:00:00Z"', f'from: "{(T0 - H).isoformat()}Z"')
    short = short.replace('until: "2027-01-01T00:00:00Z"', f'until: "{UNTIL.isoformat()}Z"')
    assert "2026-01-01" not in short and "2027-01-01" not in short
    sc = make_scenario({"welcome_series": short})
    for pid in ("early", "late", "active_late", "before_start"):
        sc.profile(pid)
    sc.event("s0", "before_start", "signup", T0 - 2 * H)  # before `from`: no entry
    sc.event("s1", "early", "signup", T0)
    sc.event("s2", "active_late", "signup", T0 + H)
    sc.event("a2", "active_late", "activate", UNTIL + H)  # would answer the check, but after the end
    sc.event("s3", "late", "signup", UNTIL + 2 * H)  # after the end: no entry
    sc.tick(T0 + 2 * H)
    sc.tick(UNTIL - H)
    before = sc.snapshot()
    sc.tick(T0 + 10 * D)
    sc.tick(T0 + 20 * D)
    transitions = sc.transitions()
    assert all(t["logical_at"] <= UNTIL for t in transitions)
    assert not [t for t in transitions if t["profile_id"] in ("late", "before_start")]
    # both waits ended before the end: the profiles reached the check; its windows close after the end
    for pid in ("early", "active_late"):
        (state,) = sc.state(pid)
        assert state["node_id"] == "activated"
    assert all(s["created_at"] <= UNTIL for s in sc.sends())
    after = sc.snapshot()
    for name in ("journeys.journey_transitions", "journeys.send_queue", "journeys.journey_tags"):
        assert after[name] == before[name], name
