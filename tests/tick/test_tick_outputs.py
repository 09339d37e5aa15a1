"""The output tables of spec section 4: their minimum columns, and the counters kept fresh by every tick."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

pytestmark = pytest.mark.slow

H = timedelta(hours=1)
D = timedelta(days=1)
T0 = datetime(2026, 3, 2, 9, 53)

MINIMUM_COLUMNS = {
    "journeys.journey_state": {
        "journey_id",
        "version",
        "profile_id",
        "entry_id",
        "node_id",
        "node_entered_at",
        "status",
        "ab_group",
    },
    "journeys.journey_transitions": {
        "tick_at",
        "logical_at",
        "journey_id",
        "entry_id",
        "profile_id",
        "from_node",
        "to_node",
        "branch",
        "reason",
    },
    "journeys.send_queue": {
        "message_id",
        "journey_id",
        "node_id",
        "profile_id",
        "recipient_id",
        "channel",
        "template",
        "payload",
        "priority",
        "not_before",
        "status",
    },
    "journeys.journey_tags": {"profile_id", "tag", "journey_id", "tagged_at", "removed"},
    "journeys.goal_completions": {"journey_id", "entry_id", "profile_id", "goal_id", "completed_at"},
}


@pytest.fixture(scope="module")
def welcome(tmp_path_factory, scenario_builder, welcome_yaml):
    sc = scenario_builder(tmp_path_factory.mktemp("outputs"), {"welcome_series": welcome_yaml})
    sc.profile("p1", city="Suzhou")
    sc.profile("p2")
    sc.event("s1", "p1", "signup", T0, channel="web")
    sc.event("a1", "p1", "activate", T0 + D + H)
    sc.tick(T0 + H)
    sc.event("s2", "p2", "signup", T0 + 2 * H)
    sc.tick(T0 + 3 * D)
    return sc


def test_outputs_have_the_minimum_columns(welcome):
    for relation, columns in MINIMUM_COLUMNS.items():
        with_rows = welcome.rows(relation)
        assert with_rows, f"{relation} is empty: the scenario should fill it"
        assert columns <= set(with_rows[0]), f"{relation} lacks {columns - set(with_rows[0])}"


def test_a_send_carries_what_the_template_needs(welcome):
    (send,) = [s for s in welcome.sends("p1")]
    assert (send["recipient_id"], send["channel"], send["template"], send["status"]) == (
        "p1",
        "email",
        "welcome_email",
        "queued",
    )
    payload = json.loads(send["payload"])
    assert payload["profile"]["email"] == "p1@example.test"
    assert payload["profile"]["attributes"] in ({"city": "Suzhou"}, '{"city": "Suzhou"}')
    assert payload["event"]["properties"] in ({"channel": "web"}, '{"channel": "web"}')
    assert payload["journey"]["id"] == "welcome_series"


def test_entry_ids_tie_state_transitions_sends_goals_and_tags_together(welcome):
    (state,) = welcome.state("p1")
    entry_id = state["entry_id"]
    assert {t["entry_id"] for t in welcome.transitions("p1")} == {entry_id}
    assert {s["entry_id"] for s in welcome.sends("p1")} == {entry_id}
    goals = welcome.rows("journeys.goal_completions", where="profile_id = 'p1'")
    assert [(g["entry_id"], g["completed_at"]) for g in goals] == [(entry_id, T0 + D + H)]
    tags = welcome.rows("journeys.journey_tags", where="profile_id = 'p1'")
    assert [t["tag"] for t in tags] == ["activated_in_welcome"]


def test_node_counters_follow_every_tick(welcome):
    """The fast counters (appended by each tick) add up to what the logs hold after every tick."""
    arrived = welcome.sql("select count(*) from journeys.journey_transitions where to_node is not null")[0][0]
    counted = welcome.sql("select sum(arrived) from journeys.journey_node_counters")[0][0]
    assert counted == arrived
    sent = welcome.sql("select count(*) from journeys.send_queue")[0][0]
    assert welcome.sql("select sum(messages) from journeys.journey_node_counters")[0][0] == sent
    ticks = welcome.sql("select count(distinct tick_at) from journeys.journey_node_counters")[0][0]
    assert ticks > 1, "counters from more than the first tick"


SECOND = """
id: second_look
name: Second look
timezone: UTC
active: {from: "2026-01-01T00:00:00Z", until: "2027-01-01T00:00:00Z"}
entry:
  event:
    did: {event: signup}
start: hello
nodes:
  hello:
    send: {channel: email, template: welcome_email}
"""


def test_two_journeys_on_one_event_keep_separate_entries(make_scenario, welcome_yaml):
    sc = make_scenario({"welcome_series": welcome_yaml, "second_look": SECOND})
    sc.profile("p")
    sc.event("s1", "p", "signup", T0)
    sc.tick(T0 + H)
    states = {s["journey_id"]: s for s in sc.state("p")}
    assert set(states) == {"welcome_series", "second_look"}
    assert states["welcome_series"]["entry_id"] != states["second_look"]["entry_id"]
    assert (states["second_look"]["node_id"], states["second_look"]["status"]) == ("hello", "completed")
    assert (states["welcome_series"]["node_id"], states["welcome_series"]["status"]) == (
        "wait_a_day",
        "active",
    )
    sends = sc.sends("p")
    assert sorted(s["journey_id"] for s in sends) == ["second_look", "welcome_series"]
    assert len({s["message_id"] for s in sends}) == 2
    assert all(s["created_at"] == T0 for s in sends)


def test_counters_count_outcomes_the_senders_recorded(make_scenario, welcome_yaml):
    """A real dispatch over SMTP between two ticks: the next tick's counters hold the `sent` outcomes."""
    from dataclasses import replace

    from channel_senders.loopback import HOST, LocalSmtpServer
    from channel_senders.outbox import dispatch_project
    from journey_compiler.config.channels import ChannelsConfig, SmtpChannel

    sc = make_scenario({"welcome_series": welcome_yaml})
    for name in ("p1", "p2"):
        sc.profile(name)
        sc.event(f"s_{name}", name, "signup", T0)
    sc.tick(T0 + H)
    with LocalSmtpServer() as smtp:
        channels = ChannelsConfig(
            channels={
                "email": SmtpChannel(kind="smtp", host=HOST, port=smtp.port, sender="shop@example.test")
            }
        )
        report = dispatch_project(
            sc.workspace.warehouse, replace(sc.built.project, channels=channels), T0 + H
        )
        assert report.total("sent") == 2 and len(smtp.received) == 2
    sc.tick(T0 + 2 * H)
    by_tick = sc.sql(
        "select tick_at, sum(sent), sum(messages) from journeys.journey_node_counters group by 1 order by 1"
    )
    assert by_tick == [(T0 + H, 0, 2), (T0 + 2 * H, 2, 0)]
