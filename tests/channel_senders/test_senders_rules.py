"""Delivery rules at dispatch: frequency caps shared by journeys, consumed in priority order, and
mutually exclusive journeys."""

from __future__ import annotations

from datetime import timedelta

from channel_senders.delivery_rules import DeliveryRules
from channel_senders.outbox import dispatch_due
from journey_compiler.config.channels import FrequencyCap

TWO_PUSH_A_DAY = DeliveryRules(caps={"push": FrequencyCap(max=2, per=timedelta(days=1))})


def test_cap_is_consumed_in_priority_order(con, channels, templates, enqueue, http_server, now, outcomes):
    enqueue("normal", "push", "activation_nudge", priority=3)
    enqueue("urgent", "push", "activation_nudge", priority=2)
    enqueue("notification", "push", "activation_nudge", priority=1)

    dispatch_due(con, channels, templates, now, rules=TWO_PUSH_A_DAY)

    result = outcomes()
    assert result["notification"][0] == "sent" and result["urgent"][0] == "sent"
    assert result["normal"] == ("suppressed", "frequency cap: at most 2 push per 86400 s")
    assert len(http_server.received) == 2


def test_cap_counts_earlier_sends_in_the_window_only(
    con, channels, templates, enqueue, http_server, now, outcomes
):
    enqueue("first", "push", "activation_nudge")
    enqueue("second", "push", "activation_nudge")
    dispatch_due(con, channels, templates, now, rules=TWO_PUSH_A_DAY)
    enqueue("same_day", "push", "activation_nudge", not_before=now + timedelta(hours=1))
    enqueue("next_day", "push", "activation_nudge", not_before=now + timedelta(days=1, hours=1))

    dispatch_due(con, channels, templates, now + timedelta(hours=2), rules=TWO_PUSH_A_DAY)
    dispatch_due(con, channels, templates, now + timedelta(days=1, hours=2), rules=TWO_PUSH_A_DAY)

    result = outcomes()
    assert result["same_day"][0] == "suppressed"
    assert result["next_day"][0] == "sent"
    assert len(http_server.received) == 3


def test_cap_whitelisted_recipient_is_not_capped(
    con, channels, templates, enqueue, http_server, now, outcomes
):
    for name in ("a", "b", "c"):
        enqueue(name, "push", "activation_nudge", cap_exempt=True)

    dispatch_due(con, channels, templates, now, rules=TWO_PUSH_A_DAY)

    assert {status for status, _ in outcomes().values()} == {"sent"}
    assert len(http_server.received) == 3


def test_exclusive_journeys_reach_a_recipient_once(
    con, channels, templates, enqueue, http_server, now, outcomes
):
    rules = DeliveryRules(exclusive={"cart": frozenset({"recall"}), "recall": frozenset({"cart"})})
    enqueue("recall_1", "push", "activation_nudge", journey="recall", priority=2)
    enqueue("cart_1", "push", "activation_nudge", journey="cart", priority=3)
    enqueue("welcome_1", "push", "activation_nudge", journey="welcome", priority=3)
    dispatch_due(con, channels, templates, now, rules=rules)
    enqueue("cart_2", "push", "activation_nudge", journey="cart", not_before=now + timedelta(days=3))
    dispatch_due(con, channels, templates, now + timedelta(days=3), rules=rules)

    result = outcomes()
    assert result["recall_1"][0] == "sent" and result["welcome_1"][0] == "sent"
    assert result["cart_1"][0] == "suppressed" and "exclusive_with" in result["cart_1"][1]
    assert result["cart_2"][0] == "suppressed"
    assert len(http_server.received) == 2


def test_rules_are_built_symmetric_from_the_project():
    from pathlib import Path

    from journey_compiler.config.project import load_project

    rules = DeliveryRules.from_project(load_project(Path(__file__).parents[2] / "examples" / "shop"))

    assert rules.exclusive["cart_abandonment"] == {"dormant_recall"}
    assert rules.exclusive["dormant_recall"] == {"cart_abandonment"}
    assert rules.caps["sms"] == FrequencyCap(max=2, per=timedelta(days=1))


def test_suppressed_by_the_tick_is_never_dispatched(
    con, channels, templates, enqueue, http_server, now, outcomes
):
    enqueue("blacklisted", "push", "activation_nudge")
    con.execute("update journeys.send_queue set status = 'suppressed' where message_id = 'blacklisted'")

    report = dispatch_due(con, channels, templates, now)

    assert report.total() == 0 and http_server.received == [] and outcomes() == {}
