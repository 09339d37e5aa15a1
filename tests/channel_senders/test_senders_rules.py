"""Delivery rules at dispatch: frequency caps shared by journeys, consumed in priority order, and
mutually exclusive journeys; both count only what was actually sent."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from channel_senders.delivery_rules import DeliveryRules
from channel_senders.loopback import LocalHttpServer
from journey_compiler.config.channels import FrequencyCap


def capped(channels, max_push=2):
    """These channels with a cap of `max_push` push messages a day, as channels.yaml would say it."""
    cap = FrequencyCap(max=max_push, per=timedelta(days=1))
    return channels.model_copy(update={"frequency_caps": {"push": cap}})


def test_cap_is_consumed_in_priority_order(dispatch, channels, enqueue, http_server, now, outcomes):
    enqueue("normal", "push", "activation_nudge", priority=3)
    enqueue("urgent", "push", "activation_nudge", priority=2)
    enqueue("notification", "push", "activation_nudge", priority=1)

    dispatch(capped(channels), now)

    result = outcomes()
    assert result["notification"][0] == "sent" and result["urgent"][0] == "sent"
    assert result["normal"] == ("suppressed", "frequency cap: at most 2 push per 86400 s")
    assert len(http_server.received) == 2


def test_cap_counts_earlier_sends_in_the_window_only(dispatch, channels, enqueue, http_server, now, outcomes):
    enqueue("first", "push", "activation_nudge")
    enqueue("second", "push", "activation_nudge")
    dispatch(capped(channels), now)
    enqueue("same_day", "push", "activation_nudge", not_before=now + timedelta(hours=1))
    enqueue("next_day", "push", "activation_nudge", not_before=now + timedelta(days=1, hours=1))

    dispatch(capped(channels), now + timedelta(hours=2))
    dispatch(capped(channels), now + timedelta(days=1, hours=2))

    result = outcomes()
    assert result["same_day"][0] == "suppressed"
    assert result["next_day"][0] == "sent"
    assert len(http_server.received) == 3


def test_a_failed_message_ahead_consumes_no_cap(dispatch, make_channels, enqueue, now, outcomes):
    enqueue("rejected", "push", "activation_nudge", priority=1)
    enqueue("next", "push", "activation_nudge", priority=2)
    enqueue("third", "push", "activation_nudge", priority=3)
    with LocalHttpServer(first_statuses=[400]) as http:
        dispatch(capped(make_channels(None, http), max_push=1), now)

    result = outcomes()
    assert result["rejected"][0] == "failed"
    assert result["next"][0] == "sent", "the cap of one is still free after a failure"
    assert result["third"][0] == "suppressed"
    assert [r.headers["Idempotency-Key"] for r in http.received] == ["rejected", "next"]


def test_cap_whitelisted_recipient_is_not_capped(dispatch, channels, enqueue, http_server, now, outcomes):
    for name in ("a", "b", "c"):
        enqueue(name, "push", "activation_nudge", cap_exempt=True)

    dispatch(capped(channels), now)

    assert {status for status, _ in outcomes().values()} == {"sent"}
    assert len(http_server.received) == 3


def test_exclusive_journeys_reach_a_recipient_once(
    dispatch, channels, enqueue, make_journey, http_server, now, outcomes
):
    journeys = (make_journey("cart", ("recall",)), make_journey("recall"), make_journey("welcome"))
    enqueue("recall_1", "push", "activation_nudge", journey="recall", priority=2)
    enqueue("cart_1", "push", "activation_nudge", journey="cart", priority=3)
    enqueue("welcome_1", "push", "activation_nudge", journey="welcome", priority=3)
    dispatch(channels, now, journeys=journeys)
    enqueue("cart_2", "push", "activation_nudge", journey="cart", not_before=now + timedelta(days=3))
    dispatch(channels, now + timedelta(days=3), journeys=journeys)

    result = outcomes()
    assert result["recall_1"][0] == "sent" and result["welcome_1"][0] == "sent"
    assert result["cart_1"][0] == "suppressed" and "exclusive_with" in result["cart_1"][1]
    assert result["cart_2"][0] == "suppressed"
    assert len(http_server.received) == 2


def test_exclusive_with_yields_to_a_journey_whose_message_failed(
    dispatch, make_channels, enqueue, make_journey, now, outcomes
):
    journeys = (make_journey("cart", ("recall",)), make_journey("recall"))
    enqueue("recall_1", "push", "activation_nudge", journey="recall", priority=1)
    enqueue("cart_1", "push", "activation_nudge", journey="cart", priority=2)
    with LocalHttpServer(first_statuses=[400]) as http:
        dispatch(make_channels(None, http), now, journeys=journeys)

    assert outcomes()["recall_1"][0] == "failed"
    assert outcomes()["cart_1"][0] == "sent"


def test_rules_are_built_symmetric_from_the_project():
    from journey_compiler.config.project import load_project

    rules = DeliveryRules.from_project(load_project(Path(__file__).parents[2] / "examples" / "shop"))

    assert rules.exclusive["cart_abandonment"] == {"dormant_recall"}
    assert rules.exclusive["dormant_recall"] == {"cart_abandonment"}
    assert rules.caps["sms"] == FrequencyCap(max=2, per=timedelta(days=1))


def test_suppressed_by_the_tick_is_never_dispatched(
    dispatch, channels, enqueue, http_server, now, outcomes, con
):
    enqueue("blacklisted", "push", "activation_nudge")
    con.execute("update journeys.send_queue set status = 'suppressed' where message_id = 'blacklisted'")

    report = dispatch(channels, now)

    assert report.total() == 0 and http_server.received == [] and outcomes() == {}


def test_caps_stay_exact_across_batches_and_passes(
    dispatch, channels, enqueue, make_payload, http_server, now, outcomes
):
    # the rules are read once per pass: each recipient's second and third message wait for a later pass
    for p in range(4):
        for rank, priority in enumerate((3, 1, 2)):
            enqueue(f"p{p}_{rank}", "push", "activation_nudge", make_payload(f"p{p}"), priority=priority)

    report = dispatch(capped(channels), now, batch_size=2)

    assert report.counts == {("push", "sent"): 8, ("push", "suppressed"): 4}
    result = outcomes()
    for p in range(4):
        assert result[f"p{p}_1"][0] == result[f"p{p}_2"][0] == "sent"  # priorities 1 and 2
        assert result[f"p{p}_0"] == ("suppressed", "frequency cap: at most 2 push per 86400 s")
    assert len(http_server.received) == 8


def test_a_long_queue_over_a_cap_sends_the_most_important_and_suppresses_the_rest(
    dispatch, channels, enqueue, http_server, now, outcomes
):
    # m0 and m1 go out in two passes; the third pass finds the cap used and decides m2..m5 at once
    for i in range(6):
        enqueue(f"m{i}", "push", "activation_nudge", priority=5 - i, not_before=now - timedelta(minutes=i))

    report = dispatch(capped(channels), now)

    assert report.counts == {("push", "sent"): 2, ("push", "suppressed"): 4}
    assert {m for m, (status, _) in outcomes().items() if status == "sent"} == {"m5", "m4"}
    assert [r.headers["Idempotency-Key"] for r in http_server.received] == ["m5", "m4"]
