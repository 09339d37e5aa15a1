"""The oracle's named regressions (tests/nodes/test_regression_oracle.py, decided in docs/semantics.md): the
interpreter gets literally the same journeys, rows, ticks and outcomes, and must give the decided answers."""

from __future__ import annotations

import pytest
from ref_harness import Ref, scenario_inputs, write_project

R = scenario_inputs("nodes/test_regression_oracle.py")


@pytest.fixture(scope="module")
def ref(tmp_path_factory) -> Ref:
    ref = Ref(write_project(tmp_path_factory.mktemp("regressions") / "dir", R["JOURNEYS"]))
    for pid, timezone in R["PROFILES"].items():
        ref.profile(pid, timezone=timezone)
    for event_id, pid, name, at, properties in R["EVENTS"]:
        ref.event(event_id, pid, name, at, **properties)
    ref.world.trading_calendar.update(R["CALENDAR"])
    first = ref.run(R["TICKS"][:1])
    for (journey_id, pid, node_id), statuses in R["OUTCOMES"].items():
        (message,) = [
            m for m in first.messages if (m.journey_id, m.profile_id, m.node_id) == (journey_id, pid, node_id)
        ]
        for status, at in statuses:
            ref.outcome(message.message_id, status, at)
    ref.run(R["TICKS"])
    return ref


def test_an_exit_condition_counts_only_inside_its_window(ref):
    for pid, last in R["EXIT_WITHIN"].items():
        assert [(f, t, reason, at) for f, t, _, reason, at in ref.moves(pid)][-1:] == last, pid


def test_event_without_counts_the_other_events_times(ref):
    for pid, expected in R["WITHOUT_TIMES"].items():
        assert ref.entered(pid) == expected, pid


def test_message_status_sees_every_status_the_message_had(ref):
    for pid, move in R["STATUS_SEEN"].items():
        assert next((f, t, b, at) for f, t, b, _, at in ref.moves(pid) if f == "check_c") == move, pid


def test_a_month_day_wait_skips_months_without_that_day(ref):
    for pid, ends in R["MONTH_END"].items():
        assert [at for f, _, _, _, at in ref.moves(pid) if f == "wait_d"] == [ends], pid


def test_an_exit_names_no_branch_of_the_node_it_leaves(ref):
    assert ref.moves("f_both")[-1] == R["EXIT_BRANCH"]


def test_the_race_notice_is_queued_and_not_suppressed(ref):
    (notice,) = [m for m in ref.output.messages if m.journey_id == "race_flag" and m.entry_id is None]
    assert (notice.recipient_id, notice.not_before, notice.status, notice.suppressed_by) == R["RACE_NOTICE"]


def test_an_outcome_without_its_branch_continues_by_next(ref):
    for pid, move in R["PARTIAL_OUTCOMES"].items():
        assert ref.moves(pid)[1] == move, pid


def test_an_expired_message_takes_on_failed(ref):
    assert ref.moves("x_expired")[1] == R["EXPIRY"]


def test_a_tag_written_twice_at_one_instant_keeps_the_later_write(ref):
    reader = R["path_from"](ref.paths("i_both"), "later_i")
    expected = R["TAGS_AT_ONE_INSTANT"]
    assert {f: b for f, _, b, _, _ in reader if f in expected} == expected


def test_a_day_missing_from_the_calendar_is_a_trading_day(ref):
    for pid, status in R["TRADING_GAP_SENDS"].items():
        assert [m.status for m in ref.sends(pid)] == [status], pid
    for pid, ends in R["TRADING_GAP_WAIT"].items():
        assert [at for f, _, _, _, at in ref.moves(pid) if f == "hold_j"] == [ends], pid


def test_statuses_at_one_instant_follow_the_lifecycle(ref):
    assert [m.status for m in ref.sends("k_tie")] == [R["STATUS_TIE"]]


def test_a_refused_entry_does_not_hide_the_race_notice(ref):
    assert [t.reason for t in ref.transitions("l_twice")].count("entered") == 1
    (notice,) = [m for m in ref.output.messages if m.journey_id == "race_refused" and m.entry_id is None]
    assert (notice.recipient_id, notice.not_before) == R["RACE_WITH_A_REFUSAL"]


def test_a_path_that_exits_as_it_reaches_a_race_takes_no_variant(ref):
    moves = [
        (t.from_node, t.to_node, t.branch, t.reason, t.logical_at, t.ab_group)
        for t in ref.transitions("m_gone")
    ]
    assert moves[1:] == R["EXIT_AT_A_RACE"]


def test_an_outcome_after_the_journey_ended_moves_nothing(ref):
    for pid, rests in R["AFTER_THE_END"].items():
        assert ref.where(pid) == rests, pid
        assert [m.node_id for m in ref.sends(pid)] == [f"hello_{pid[0]}"], pid


EXIT_AT_A_SEND = """
id: exit_at_send
timezone: UTC
active: {from: "2026-01-01T00:00:00Z", until: "2027-01-01T00:00:00Z"}
entry:
  event:
    did: {event: signup}
exit_when:
  - tag: vip
nodes:
  hello: {send: {channel: sms, template: recall_sms}}
"""


def test_a_path_that_exits_as_it_reaches_a_send_creates_no_message(tmp_path):
    """docs/semantics.md, "Two tag writes at one instant": the exit wins the tie at a send as at a tag node
    (the SQL creates a message only "not preceded by an exit"); found by the deep differential run."""
    ref = Ref(write_project(tmp_path / "dir", {"exit_at_send": EXIT_AT_A_SEND}))
    ref.profile("p_vip")
    ref.profile("p_plain")
    at = R["TICKS"][0]
    ref.tag("p_vip", "vip", at.replace(hour=0))
    for pid in ("p_vip", "p_plain"):
        ref.event(f"s_{pid}", pid, "signup", at.replace(hour=1))
    ref.run([at])
    assert [(m.profile_id, m.node_id) for m in ref.sends()] == [("p_plain", "hello")]
    assert [t.reason for t in ref.transitions("p_vip")] == ["entered", "exit_when"]
