"""The dispatcher on a real DuckDB file with real receivers: what is due, retries, outcomes, idempotency."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest

from channel_senders.channels import RetryPolicy
from channel_senders.loopback import LocalHttpServer

FAST = RetryPolicy(backoff=0.01)


def test_rerun_sends_nothing_new(dispatch, channels, enqueue, http_server, smtp_server, now, events):
    enqueue("m1", "push", "activation_nudge")
    enqueue("m2", "email", "welcome_email")
    dispatch(channels, now)
    written = events()

    again = dispatch(channels, now + timedelta(minutes=5))

    assert again.total() == 0
    assert str(again) == "nothing due"
    assert len(http_server.received) == 1 and len(smtp_server.received) == 1
    assert events() == written


def test_future_messages_wait_for_not_before(dispatch, channels, enqueue, http_server, now, outcomes):
    enqueue("later", "push", "activation_nudge", not_before=now + timedelta(hours=1))

    assert dispatch(channels, now).total() == 0
    assert http_server.received == [] and outcomes() == {}

    assert dispatch(channels, now + timedelta(hours=1)).counts == {("push", "sent"): 1}


def test_aware_now_is_read_as_utc(dispatch, channels, enqueue, http_server, now, events):
    enqueue("m1", "push", "activation_nudge", not_before=now)

    dispatch(channels, now.replace(tzinfo=UTC))

    assert {at for _, _, at, _ in events()} == {now}


def test_priority_then_limit(dispatch, channels, enqueue, http_server, now):
    enqueue("a", "push", "activation_nudge", priority=50)
    enqueue("b", "push", "activation_nudge", priority=10)
    enqueue("c", "push", "activation_nudge", priority=10, not_before=now - timedelta(hours=1))

    dispatch(channels, now, limit=2)
    first_two = {r.headers["Idempotency-Key"] for r in http_server.received}
    dispatch(channels, now)

    assert first_two == {"b", "c"}
    assert [r.headers["Idempotency-Key"] for r in http_server.received][-1] == "a"


def test_template_error_fails_the_message(dispatch, channels, enqueue, http_server, now, outcomes):
    # the template reads event.properties, the message has no event
    enqueue("no_event", "sms", "cart_reminder_sms")
    enqueue("broken", "sms", "broken_sms")

    report = dispatch(channels, now)

    assert report.counts == {("sms", "failed"): 2}
    assert http_server.received == []
    status, detail = outcomes()["no_event"]
    assert status == "failed"
    assert detail.startswith("template 'cart_reminder_sms': body:") and "properties" in detail
    assert outcomes()["broken"][1].startswith("template 'broken_sms': body: unexpected end of template")


def test_no_address_fails_without_a_request(
    dispatch, channels, enqueue, make_payload, http_server, now, outcomes
):
    enqueue("m1", "sms", "cart_reminder_sms", make_payload(phone=None))
    enqueue("m2", "email", "welcome_email", make_payload("p2", email=""))

    report = dispatch(channels, now)

    assert report.counts == {("sms", "failed"): 1, ("email", "failed"): 1}
    assert outcomes() == {
        "m1": ("failed", "no address: recipient 'p1' has no phone"),
        "m2": ("failed", "no address: recipient 'p2' has no email"),
    }
    assert http_server.received == []


def test_unconfigured_channels_defer_broken_templates_fail(
    dispatch, make_channels, enqueue, http_server, now, outcomes, monkeypatch
):
    monkeypatch.delenv("SMS_API_TOKEN")
    enqueue("mail", "email", "welcome_email")  # no email channel configured
    enqueue("sms", "sms", "cart_reminder_sms")
    enqueue("gone", "push", "deleted_template")
    enqueue("mismatch", "push", "welcome_email")

    report = dispatch(make_channels(None, http_server), now)

    got = outcomes()
    assert got["mail"][0] == got["sms"][0] == "deferred"
    assert got["mail"][1].startswith("channel 'email' is not configured in channels.yaml; next attempt from")
    assert got["sms"][1].startswith("channel 'sms': environment variable SMS_API_TOKEN is not set; next")
    assert got["gone"] == ("failed", "template 'deleted_template' not found in templates/")
    assert got["mismatch"] == ("failed", "template 'welcome_email' is for email, queued for push")
    assert set(report.outages) == {"email", "sms"}
    assert http_server.received == []


def test_temporary_failure_is_retried_with_the_same_key(dispatch, make_channels, enqueue, now, events):
    enqueue("m1", "webhook", "recall_crm")
    with LocalHttpServer(first_statuses=[503]) as http:
        report = dispatch(make_channels(None, http), now, retry=FAST)

    assert report.counts == {("webhook", "sent"): 1}
    assert [(r.status, r.headers["Idempotency-Key"]) for r in http.received] == [(503, "m1"), (200, "m1")]
    assert http.received[0].body == http.received[1].body
    assert [(s, d) for _, s, _, d in events()] == [
        ("sending", "handing over to the provider"),
        ("sent", "HTTP 200"),
    ]


def test_client_error_is_not_retried(dispatch, make_channels, enqueue, now, outcomes):
    enqueue("m1", "push", "activation_nudge")
    with LocalHttpServer(first_statuses=[400]) as http:
        dispatch(make_channels(None, http), now, retry=FAST)

    assert len(http.received) == 1
    assert outcomes() == {"m1": ("failed", 'HTTP 400: {"ok": false}')}


@pytest.mark.parametrize("refusal", [401, 403])
def test_a_refused_token_defers_the_whole_channel(
    dispatch, make_channels, enqueue, make_payload, now, outcomes, con, refusal
):
    for i in range(3):
        enqueue(f"m{i}", "push", "activation_nudge", make_payload(f"p{i}"))
    with LocalHttpServer(first_statuses=[refusal]) as http:
        one_at_a_time = {"kind": "http_push", "url": http.url("/push"), "concurrency": 1}
        channels = make_channels(None, http, push=one_at_a_time)
        refused = dispatch(channels, now, retry=FAST)
        asked = len(http.received)
        later = dispatch(channels, now + timedelta(hours=2))

    assert asked == 1, "one refusal is enough: the token is the channel's, not the message's"
    assert refused.counts == {("push", "deferred"): 3}
    down = f"channel 'push' is down: the provider refused the channel's credentials: HTTP {refusal}"
    assert down in refused.outages["push"]
    (retries,) = con.execute("select count(*) from journeys.message_retries").fetchone()
    assert retries == 3, "each deferred message says when it is tried next"
    assert later.counts == {("push", "sent"): 3}
    assert {status for status, _ in outcomes().values()} == {"sent"}


def test_temporary_failures_are_deferred_after_max_attempts(
    dispatch, make_channels, enqueue, now, outcomes, con
):
    enqueue("m1", "push", "activation_nudge")
    enqueue("m2", "push", "activation_nudge")
    with LocalHttpServer(first_statuses=[429, 503, 200, 503, 503]) as http:
        report = dispatch(make_channels(None, http), now, retry=FAST)

    assert sorted(r.headers["Idempotency-Key"] for r in http.received) == ["m1", "m1", "m2", "m2", "m2"]
    assert outcomes()["m1"] == ("sent", "HTTP 200")
    status, detail = outcomes()["m2"]
    assert status == "deferred"
    assert detail.startswith('HTTP 503: {"ok": false} (after 3 attempts in this dispatch); next attempt from')
    ((deferral, retry_at),) = con.execute(
        "select deferral, retry_at from journeys.message_retries where message_id = 'm2'"
    ).fetchall()
    assert deferral == 1 and now + timedelta(seconds=30) <= retry_at <= now + timedelta(minutes=1)
    assert report.outages == {"push": detail.split("; next attempt")[0]}


def test_an_outage_loses_nothing(dispatch, make_channels, enqueue, now, outcomes, con):
    with LocalHttpServer() as http:
        port = http.port
        channels = make_channels(None, http)  # the port is closed again once the server stops
    for i in range(12):
        enqueue(f"m{i:02}", "push", "activation_nudge")

    down = dispatch(channels, now, retry=FAST)
    assert down.counts == {("push", "deferred"): 12}
    assert "ConnectError" in down.outages["push"] and "is down" in down.outages["push"]
    assert dispatch(channels, now + timedelta(seconds=10)).total() == 0, "nothing is due before its retry"

    later = now + timedelta(hours=2)
    with LocalHttpServer(port=port) as http:
        back = dispatch(channels, later)

    assert back.counts == {("push", "sent"): 12} and back.outages == {}
    assert sorted(r.headers["Idempotency-Key"] for r in http.received) == [f"m{i:02}" for i in range(12)]
    assert {status for status, _ in outcomes().values()} == {"sent"}
    (finals,) = con.execute(
        "select count(*) from journeys.message_events where status not in ('sending', 'deferred')"
    ).fetchone()
    assert finals == 12


def test_retry_after_is_honoured_across_dispatches(dispatch, make_channels, enqueue, make_payload, now, con):
    for i in range(3):
        enqueue(f"m{i}", "push", "activation_nudge", make_payload(f"p{i}"))
    with LocalHttpServer(first_statuses=[(429, {"Retry-After": "900"})]) as http:
        one_at_a_time = {"kind": "http_push", "url": http.url("/push"), "concurrency": 1}
        report = dispatch(make_channels(None, http, push=one_at_a_time), now, retry=FAST)

    assert len(http.received) == 1, "a long Retry-After pauses the channel for this dispatch"
    assert report.counts == {("push", "deferred"): 3}
    (earliest,) = con.execute("select min(retry_at) from journeys.message_retries").fetchone()
    assert earliest >= now + timedelta(seconds=900)


def test_old_messages_expire_instead_of_going_out_late(
    dispatch, make_channels, enqueue, http_server, now, outcomes
):
    channels = make_channels(
        None,
        http_server,
        push={"kind": "http_push", "url": http_server.url("/push"), "expire_after": "2d"},
    )
    enqueue("stale", "push", "activation_nudge", not_before=now - timedelta(days=2, minutes=1))
    enqueue("fresh", "push", "activation_nudge", not_before=now - timedelta(days=1))

    report = dispatch(channels, now)

    assert report.counts == {("push", "expired"): 1, ("push", "sent"): 1}
    assert outcomes()["stale"][0] == "expired" and "2 days" in outcomes()["stale"][1]
    assert [r.headers["Idempotency-Key"] for r in http_server.received] == ["fresh"]


def test_interrupted_dispatch_is_sent_again_with_the_same_key(
    dispatch, channels, enqueue, http_server, now, events, con
):
    enqueue("m1", "webhook", "recall_crm")
    earlier = now - timedelta(minutes=5)
    con.execute("insert into journeys.message_events values ('m1', 'sending', ?, 'handing over')", [earlier])

    dispatch(channels, now)

    assert [r.headers["Idempotency-Key"] for r in http_server.received] == ["m1"]
    assert events()[-1] == ("m1", "sent", now, "HTTP 200 (after an interrupted dispatch)")


def test_rate_limit_spaces_attempts_even_when_concurrent(dispatch, make_channels, enqueue, http_server, now):
    push = {"kind": "http_push", "url": http_server.url("/push"), "rate_per_second": 20, "concurrency": 8}
    for i in range(6):
        enqueue(f"m{i}", "push", "activation_nudge")

    dispatch(make_channels(None, http_server, push=push), now)

    arrivals = sorted(r.at for r in http_server.received)
    assert len(arrivals) == 6
    # the sender spaces the attempts exactly (below); arrivals add the network's jitter on top
    assert arrivals[-1] - arrivals[0] >= 5 / 20 - 0.03


def test_the_token_bucket_hands_out_evenly_spaced_slots_to_concurrent_takers():
    """The spacing is asserted on the instants the bucket handed tokens out, not on when each taker
    resumed: how late the event loop wakes a taker is the machine's business, not the bucket's."""
    import asyncio

    from channel_senders.rate_limit import TokenBucket

    async def run() -> list[float]:
        bucket = TokenBucket(50)
        return await asyncio.gather(*(bucket.take() for _ in range(10)))

    handed_out = sorted(asyncio.run(run()))
    gaps = [b - a for a, b in zip(handed_out, handed_out[1:], strict=False)]
    assert min(gaps) >= 1 / 50 - 1e-9  # float rounding only


def test_more_than_one_batch(dispatch, channels, enqueue, http_server, now, events):
    for i in range(130):
        enqueue(f"m{i:03}", "push", "activation_nudge")

    report = dispatch(channels, now, batch_size=50)

    assert str(report) == "push sent: 130"
    assert len(http_server.received) == 130
    assert sorted(s for _, s, _, _ in events()) == ["sending"] * 130 + ["sent"] * 130
