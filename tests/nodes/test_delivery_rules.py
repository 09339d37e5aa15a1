"""Delivery rules at dispatch time, with real journeys and real local receivers: the channel frequency caps of
channels.yaml (sms: 2 per day) are consumed in priority order (`notification` > `urgent` > `normal`), whatever
the messages' ages, counting what the recipient was sent in the window before (cap-whitelist members are
exempt); `exclusive_with` (declared on either side) keeps a recipient reached by one journey from the
other."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

pytestmark = pytest.mark.slow

M = timedelta(minutes=1)
H = timedelta(hours=1)
T = datetime(2026, 3, 5, 12, 0)
HEADER = """
timezone: UTC
active: {from: "2026-01-01T00:00:00Z", until: "2027-01-01T00:00:00Z"}
"""
SMS = "{channel: sms, template: recall_sms}"
EMAIL = "{channel: email, template: welcome_email}"

ALERTS = f"""
id: alerts
name: Alerts
type: notification
{HEADER}
entry:
  event:
    did: {{event: signup, where: "channel = 'rules'"}}
nodes:
  settle:
    wait: {{for: 2m}}
    next: alert
  alert:
    send: {SMS}
"""
PROMOS = f"""
id: promos
name: Promotions
type: normal
{HEADER}
entry:
  event:
    did: {{event: signup, where: "channel = 'rules'"}}
nodes:
  promo_1:
    send: {SMS}
    next: gap
  gap:
    wait: {{for: 1m}}
    next: promo_2
  promo_2:
    send: {SMS}
"""
EARLIER = f"""
id: earlier
name: An earlier sms
type: normal
{HEADER}
entry:
  event:
    did: {{event: signup, where: "channel = 'before'"}}
    mode: every
nodes:
  once:
    send: {SMS}
"""
EXCL_A = f"""
id: excl_a
name: Exclusive A (declares it)
type: urgent
exclusive_with: [excl_b]
{HEADER}
entry:
  event:
    did: {{event: signup, where: "channel IN ('excl', 'excl_a')"}}
nodes:
  a_sms:
    send: {SMS}
"""
EXCL_B = f"""
id: excl_b
name: Exclusive B
type: normal
{HEADER}
entry:
  event:
    did: {{event: signup, where: "channel IN ('excl', 'excl_b')"}}
nodes:
  b_mail:
    send: {EMAIL}
"""

DAY_OLD = T - 25 * H
HALF_DAY = T - 12 * H


@pytest.fixture(scope="module")
def rules(tmp_path_factory, scenario_builder):
    from dataclasses import replace

    from channel_senders.loopback import HOST, LocalHttpServer, LocalSmtpServer
    from channel_senders.outbox import dispatch_project
    from journey_compiler.config.channels import ChannelsConfig, HttpChannel, SmtpChannel

    sc = scenario_builder(
        tmp_path_factory.mktemp("rules"),
        {"alerts": ALERTS, "promos": PROMOS, "earlier": EARLIER, "excl_a": EXCL_A, "excl_b": EXCL_B},
    )
    for pid in ("fresh", "sent_12h_ago", "sent_25h_ago", "staff_member", "x_both", "x_b_first", "x_no_phone"):
        sc.profile(pid)
    sc.sql("update raw.profiles set phone = null where profile_id = 'x_no_phone'")
    sc.sql("insert into raw.profile_tags values ('staff_member', 'staff', ?)", [T - 30 * H])
    sc.event("e25", "sent_25h_ago", "signup", DAY_OLD, channel="before")
    sc.event("e12", "sent_12h_ago", "signup", HALF_DAY, channel="before")
    sc.event("xb", "x_b_first", "signup", HALF_DAY, channel="excl_b")
    for pid in ("fresh", "sent_12h_ago", "sent_25h_ago", "staff_member"):
        sc.event(f"{pid}_now", pid, "signup", T, channel="rules")
    sc.event("x_both_now", "x_both", "signup", T, channel="excl")
    sc.event("x_no_phone_now", "x_no_phone", "signup", T, channel="excl")
    sc.event("x_b_first_now", "x_b_first", "signup", T, channel="excl_a")

    project = sc.built.project
    with LocalHttpServer() as sms, LocalSmtpServer() as smtp:
        channels = ChannelsConfig(
            channels={
                "sms": HttpChannel(kind="http_sms", url=sms.url("/sms")),
                "email": SmtpChannel(kind="smtp", host=HOST, port=smtp.port, sender="shop@example.test"),
            },
            frequency_caps=project.channels.frequency_caps,
            cap_whitelist=project.channels.cap_whitelist,
        )
        for tick_at, dispatch_at in (
            (DAY_OLD + M, DAY_OLD + 2 * M),
            (HALF_DAY + M, HALF_DAY + 2 * M),
            (T + 5 * M, T + 10 * M),
        ):
            sc.tick(tick_at)
            dispatch_project(sc.workspace.warehouse, replace(project, channels=channels), dispatch_at)
        sms_to = len(sms.received)
    return sc, sms_to


def outcome(sc, pid, node):
    ((status, detail),) = sc.sql(
        "select e.status, e.detail from journeys.message_events e "
        "join journeys.send_queue q using (message_id) "
        "where q.profile_id = ? and q.node_id = ? and e.status <> 'sending'",
        [pid, node],
    )
    return status, detail


def test_caps_are_consumed_in_priority_order(rules):
    sc, _ = rules
    # the alert is the newest message (T + 2m) but the most important
    assert outcome(sc, "fresh", "alert")[0] == "sent"
    assert outcome(sc, "fresh", "promo_1")[0] == "sent"
    status, detail = outcome(sc, "fresh", "promo_2")
    assert status == "suppressed" and detail.startswith("frequency cap")


def test_caps_count_what_was_sent_in_the_window_before(rules):
    sc, _ = rules
    assert outcome(sc, "sent_12h_ago", "once")[0] == "sent"
    assert outcome(sc, "sent_12h_ago", "alert")[0] == "sent"
    for node in ("promo_1", "promo_2"):
        status, detail = outcome(sc, "sent_12h_ago", node)
        assert status == "suppressed" and detail.startswith("frequency cap"), node


def test_sends_older_than_the_window_do_not_count(rules):
    sc, _ = rules
    got = {node: outcome(sc, "sent_25h_ago", node)[0] for node in ("once", "alert", "promo_1", "promo_2")}
    assert got == {"once": "sent", "alert": "sent", "promo_1": "sent", "promo_2": "suppressed"}


def test_cap_whitelist_members_are_not_capped(rules):
    sc, _ = rules
    got = {node: outcome(sc, "staff_member", node)[0] for node in ("alert", "promo_1", "promo_2")}
    assert got == {"alert": "sent", "promo_1": "sent", "promo_2": "sent"}


def test_exclusive_journeys_the_more_important_one_wins_a_tie(rules):
    sc, _ = rules
    assert outcome(sc, "x_both", "a_sms")[0] == "sent"
    status, detail = outcome(sc, "x_both", "b_mail")
    assert status == "suppressed" and detail.startswith("exclusive_with")


def test_exclusive_with_holds_for_the_side_that_did_not_declare_it(rules):
    sc, _ = rules
    assert outcome(sc, "x_b_first", "b_mail")[0] == "sent"  # reached by B half a day earlier
    status, detail = outcome(sc, "x_b_first", "a_sms")
    assert status == "suppressed" and detail.startswith("exclusive_with")


def test_exclusive_with_yields_to_a_journey_that_did_not_reach_the_recipient(rules):
    sc, _ = rules
    assert outcome(sc, "x_no_phone", "a_sms") == ("failed", "no address: recipient 'x_no_phone' has no phone")
    assert outcome(sc, "x_no_phone", "b_mail")[0] == "sent"


def test_the_sms_receiver_got_exactly_the_sent_messages(rules):
    sc, sms_to = rules
    ((sent,),) = sc.sql(
        "select count(*) from journeys.message_events e join journeys.send_queue q "
        "using (message_id) where q.channel = 'sms' and e.status = 'sent'"
    )
    ((capped_journeys,),) = sc.sql(
        "select count(*) from journeys.message_events e join journeys.send_queue q using (message_id) "
        "where q.journey_id in ('alerts', 'promos', 'earlier') and e.status = 'sent'"
    )
    assert sms_to == sent
    assert capped_journeys == 2 + 2 + 3 + 3  # fresh 2; 12h ago: 1 + 1; 25h ago: 1 + 2; staff 3
