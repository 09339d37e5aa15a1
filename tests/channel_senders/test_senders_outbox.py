"""The dispatcher on a real DuckDB file with real receivers: what is due, retries, outcomes, idempotency."""

from __future__ import annotations

import time
from datetime import UTC, timedelta

from channel_senders.loopback import LocalHttpServer
from channel_senders.outbox import dispatch_due


def test_rerun_sends_nothing_new(con, channels, templates, enqueue, http_server, smtp_server, now, events):
    enqueue("m1", "push", "activation_nudge")
    enqueue("m2", "email", "welcome_email")
    dispatch_due(con, channels, templates, now)
    written = events()

    again = dispatch_due(con, channels, templates, now + timedelta(minutes=5))

    assert again.total() == 0
    assert str(again) == "nothing due"
    assert len(http_server.received) == 1 and len(smtp_server.received) == 1
    assert events() == written


def test_future_messages_wait_for_not_before(con, channels, templates, enqueue, http_server, now, outcomes):
    enqueue("later", "push", "activation_nudge", not_before=now + timedelta(hours=1))

    assert dispatch_due(con, channels, templates, now).total() == 0
    assert http_server.received == [] and outcomes() == {}

    assert dispatch_due(con, channels, templates, now + timedelta(hours=1)).counts == {("push", "sent"): 1}


def test_aware_now_is_read_as_utc(con, channels, templates, enqueue, http_server, now, events):
    enqueue("m1", "push", "activation_nudge", not_before=now)

    dispatch_due(con, channels, templates, now.replace(tzinfo=UTC))

    assert {at for _, _, at, _ in events()} == {now}


def test_priority_then_limit(con, channels, templates, enqueue, http_server, now):
    enqueue("a", "push", "activation_nudge", priority=50)
    enqueue("b", "push", "activation_nudge", priority=10)
    enqueue("c", "push", "activation_nudge", priority=10, not_before=now - timedelta(hours=1))

    dispatch_due(con, channels, templates, now, limit=2)
    dispatch_due(con, channels, templates, now)

    assert [r.headers["Idempotency-Key"] for r in http_server.received] == ["c", "b", "a"]


def test_template_error_fails_the_message(con, channels, templates, enqueue, http_server, now, outcomes):
    enqueue(
        "no_event", "sms", "cart_reminder_sms"
    )  # the template reads event.properties, the message has no event
    enqueue("broken", "sms", "broken_sms")

    report = dispatch_due(con, channels, templates, now)

    assert report.counts == {("sms", "failed"): 2}
    assert http_server.received == []
    status, detail = outcomes()["no_event"]
    assert status == "failed"
    assert detail.startswith("template 'cart_reminder_sms': body:") and "properties" in detail
    assert outcomes()["broken"][1].startswith("template 'broken_sms': body: unexpected end of template")


def test_no_address_is_suppressed(
    con, channels, templates, enqueue, make_payload, http_server, now, outcomes
):
    enqueue("m1", "sms", "cart_reminder_sms", make_payload(phone=None))

    report = dispatch_due(con, channels, templates, now)

    assert report.counts == {("sms", "suppressed"): 1}
    assert outcomes() == {"m1": ("suppressed", "recipient 'p1' has no phone")}
    assert http_server.received == []


def test_unusable_channels_and_templates_fail_without_a_crash(
    con, make_channels, templates, enqueue, http_server, now, outcomes, monkeypatch
):
    monkeypatch.delenv("SMS_API_TOKEN")
    enqueue("mail", "email", "welcome_email")  # no email channel configured
    enqueue("fax", "fax", "welcome_email")
    enqueue("sms", "sms", "cart_reminder_sms")
    enqueue("gone", "push", "deleted_template")
    enqueue("mismatch", "push", "welcome_email")

    dispatch_due(con, make_channels(None, http_server), templates, now)

    assert outcomes() == {
        "mail": ("failed", "channel 'email' is not configured in channels.yaml"),
        "fax": ("failed", "channel 'fax' is not configured in channels.yaml"),
        "sms": ("failed", "channel 'sms': environment variable SMS_API_TOKEN is not set"),
        "gone": ("failed", "template 'deleted_template' not found in templates/"),
        "mismatch": ("failed", "template 'welcome_email' is for email, queued for push"),
    }
    assert http_server.received == []


def test_temporary_failure_is_retried_with_the_same_key(con, make_channels, templates, enqueue, now, events):
    enqueue("m1", "webhook", "recall_crm")
    with LocalHttpServer(first_statuses=[503]) as http:
        report = dispatch_due(con, make_channels(None, http), templates, now, backoff=0.01)

    assert report.counts == {("webhook", "sent"): 1}
    assert [(r.status, r.headers["Idempotency-Key"]) for r in http.received] == [(503, "m1"), (200, "m1")]
    assert http.received[0].body == http.received[1].body
    assert [(s, d) for _, s, _, d in events()] == [
        ("sending", "handing over to the provider"),
        ("sent", "HTTP 200"),
    ]


def test_client_error_is_not_retried(con, make_channels, templates, enqueue, now, outcomes):
    enqueue("m1", "push", "activation_nudge")
    with LocalHttpServer(first_statuses=[400]) as http:
        dispatch_due(con, make_channels(None, http), templates, now, backoff=0.01)

    assert len(http.received) == 1
    assert outcomes() == {"m1": ("failed", 'HTTP 400: {"ok": false}')}


def test_temporary_failures_give_up_after_max_attempts(con, make_channels, templates, enqueue, now, outcomes):
    enqueue("m1", "push", "activation_nudge")
    enqueue("m2", "push", "activation_nudge")
    with LocalHttpServer(first_statuses=[429, 503, 200, 503, 503]) as http:
        started = time.monotonic()
        dispatch_due(con, make_channels(None, http), templates, now, max_attempts=3, backoff=0.05)
        elapsed = time.monotonic() - started

    assert [r.headers["Idempotency-Key"] for r in http.received] == ["m1", "m2", "m1", "m2", "m2"]
    assert outcomes()["m1"] == ("sent", "HTTP 200")
    assert outcomes()["m2"] == ("failed", 'HTTP 503: {"ok": false} (gave up after 3 attempts)')
    assert elapsed >= 0.05 + 0.1, "backoff doubles between rounds"


def test_unreachable_provider_is_a_temporary_failure(con, make_channels, templates, enqueue, now, outcomes):
    with LocalHttpServer() as http:
        channels = make_channels(None, http)  # the port is closed again once the server stops
    enqueue("m1", "push", "activation_nudge")

    dispatch_due(con, channels, templates, now, max_attempts=2, backoff=0.01)

    status, detail = outcomes()["m1"]
    assert status == "failed" and detail.startswith("ConnectError") and "(gave up after 2 attempts)" in detail


def test_interrupted_dispatch_is_sent_again_with_the_same_key(
    con, channels, templates, enqueue, http_server, now, events
):
    enqueue("m1", "webhook", "recall_crm")
    earlier = now - timedelta(minutes=5)
    con.execute("insert into journeys.message_events values ('m1', 'sending', ?, 'handing over')", [earlier])

    dispatch_due(con, channels, templates, now)

    assert [r.headers["Idempotency-Key"] for r in http_server.received] == ["m1"]
    assert events()[-1] == ("m1", "sent", now, "HTTP 200 (after an interrupted dispatch)")


def test_rate_limit_spaces_attempts(con, make_channels, templates, enqueue, http_server, now):
    channels = make_channels(
        None,
        http_server,
        push={
            "kind": "http_push",
            "url": http_server.url("/push"),
            "token_env": "PUSH_API_TOKEN",
            "rate_per_second": 20,
        },
    )
    for i in range(5):
        enqueue(f"m{i}", "push", "activation_nudge")

    started = time.monotonic()
    dispatch_due(con, channels, templates, now)

    assert len(http_server.received) == 5
    assert time.monotonic() - started >= 4 / 20


def test_more_than_one_chunk(con, channels, templates, enqueue, http_server, now, events):
    for i in range(130):
        enqueue(f"m{i:03}", "push", "activation_nudge")

    report = dispatch_due(con, channels, templates, now)

    assert str(report) == "push sent: 130"
    assert len(http_server.received) == 130
    assert sorted(s for _, s, _, _ in events()) == ["sending"] * 130 + ["sent"] * 130
