"""Each channel's message arrives at a real receiver on 127.0.0.1 with the content and headers promised."""

from __future__ import annotations

import hashlib
import hmac

from channel_senders.channels import RetryPolicy
from channel_senders.loopback import HOST, LocalSmtpServer


def test_email_arrives_rendered_with_message_id(
    dispatch, channels, enqueue, make_payload, smtp_server, now, events
):
    body = make_payload(
        attributes={"city": "Berlin"},
        event={
            "event_id": "ev1",
            "event_name": "signup",
            "event_time": "2024-11-11T08:00:00",
            "properties": {"channel": "app"},
        },
    )
    enqueue("m1", "email", "welcome_email", body)
    enqueue("m2", "email", "welcome_email", make_payload("p2", email="bob@example.com"))

    report = dispatch(channels, now)

    assert report.counts == {("email", "sent"): 2}
    # sent at once over two pooled connections: they may arrive in either order
    first, second = sorted(smtp_server.received, key=lambda email: email.rcpt_tos)
    assert first.rcpt_tos == ["ada@example.com"]
    assert first.mail_from == "noreply@shop.example"
    assert first.message["Subject"] == "Welcome, Berlin!"
    assert first.message["Message-ID"] == "<m1@shop.example>"
    assert first.message.get_content() == "Hi ada@example.com,\nthanks for signing up via app.\n"
    assert second.message["Subject"] == "Welcome, friend!"
    assert "via our site." in second.message.get_content()
    assert [(m, s, at) for m, s, at, _ in events()] == [
        ("m1", "sending", now),
        ("m1", "sent", now),
        ("m2", "sending", now),
        ("m2", "sent", now),
    ]


def one_connection(smtp: LocalSmtpServer, concurrency: int = 1) -> dict:
    return {
        "kind": "smtp",
        "host": HOST,
        "port": smtp.port,
        "sender": "Example Shop <noreply@shop.example>",
        "concurrency": concurrency,
    }


def test_smtp_connections_are_pooled_and_reused(
    dispatch, make_channels, enqueue, make_payload, http_server, now
):
    for i in range(12):
        enqueue(f"m{i:02}", "email", "welcome_email", make_payload(f"p{i}", email=f"p{i}@example.com"))
    with LocalSmtpServer() as smtp:
        report = dispatch(make_channels(smtp, http_server, email=one_connection(smtp, 2)), now)

    assert report.counts == {("email", "sent"): 12}
    assert len(smtp.received) == 12
    assert len({e.peer for e in smtp.received}) <= 2, "two connections carried all twelve emails"


def test_webhook_is_signed_over_the_exact_body(dispatch, channels, enqueue, http_server, now, credentials):
    enqueue("m1", "webhook", "recall_crm")

    dispatch(channels, now)

    (request,) = http_server.received
    expected = hmac.new(credentials["CRM_WEBHOOK_SECRET"].encode(), request.body, hashlib.sha256).hexdigest()
    assert request.path == "/hook"
    assert request.headers["X-Journeys-Signature"] == f"sha256={expected}"
    assert request.headers["Idempotency-Key"] == "m1"
    assert request.json() == {"action": "create_call_task", "profile_id": "p1", "reason": "dormant_vip"}


def test_sms_push_and_whatsapp_bodies(
    dispatch, channels, enqueue, make_payload, http_server, now, credentials
):
    cart = {
        "event_id": "ev2",
        "event_name": "cart_abandoned",
        "event_time": "2024-11-11T08:00:00",
        "properties": {"sku": "SKU-42", "value": 19.9},
    }
    enqueue("sms1", "sms", "cart_reminder_sms", make_payload(event=cart))
    enqueue("push1", "push", "activation_nudge")
    enqueue("wa1", "whatsapp", "cart_reminder", make_payload(event=cart))

    report = dispatch(channels, now)

    assert report.total("sent") == 3
    by_path = {r.path: r for r in http_server.received}
    assert by_path["/sms"].json() == {
        "to": "+4915100000001",
        "text": "You left SKU-42 in your cart. Reply STOP to opt out.",
    }
    assert by_path["/push"].json() == {
        "to": "p1",
        "title": "Your account is waiting",
        "body": "Open the app to finish setting up.",
    }
    assert by_path["/whatsapp"].json() == {
        "messaging_product": "whatsapp",
        "to": "+4915100000001",
        "type": "template",
        "biz_opaque_callback_data": "wa1",
        "template": {
            "name": "cart_reminder",
            "language": {"code": "en"},
            "components": [
                {
                    "type": "body",
                    "parameters": [{"type": "text", "text": "SKU-42"}, {"type": "text", "text": "19.9"}],
                }
            ],
        },
    }
    for path, var in [
        ("/sms", "SMS_API_TOKEN"),
        ("/push", "PUSH_API_TOKEN"),
        ("/whatsapp", "WHATSAPP_API_TOKEN"),
    ]:
        assert by_path[path].headers["Authorization"] == f"Bearer {credentials[var]}"
    assert {r.headers["Idempotency-Key"] for r in http_server.received} == {"sms1", "push1", "wa1"}


def test_subject_is_the_profile_and_the_recipient_gets_it(
    dispatch, channels, enqueue, make_payload, http_server, now
):
    car = make_payload(
        "car1",
        email=None,
        phone=None,
        attributes={"plate_number": "B-XY 123"},
        event={
            "event_id": "ev3",
            "event_name": "policy_due",
            "event_time": "2024-11-11T08:00:00",
            "properties": {"expires_on": "2024-12-01"},
        },
        recipient={
            "profile_id": "owner1",
            "email": None,
            "phone": "+4915100000009",
            "timezone": None,
            "attributes": {},
        },
    )
    enqueue("m1", "sms", "renewal_sms", car)

    dispatch(channels, now)

    assert http_server.received[0].json() == {
        "to": "+4915100000009",
        "text": "The insurance of your car B-XY 123 expires on 2024-12-01.",
    }


def test_smtp_4xx_is_retried_and_5xx_is_final(
    dispatch, make_channels, enqueue, make_payload, http_server, now, outcomes
):
    enqueue("m1", "email", "welcome_email")
    enqueue("m2", "email", "welcome_email", make_payload("p2", email="bob@example.com"))
    with LocalSmtpServer(first_replies=["451 4.3.0 try later", "250 OK", "550 5.1.1 no user"]) as smtp:
        dispatch(
            make_channels(smtp, http_server, email=one_connection(smtp)), now, retry=RetryPolicy(backoff=0.01)
        )

    assert outcomes() == {
        "m1": ("sent", "SMTP accepted <m1@shop.example>"),
        "m2": ("failed", "SMTP 550: 5.1.1 no user"),
    }
    assert [e.rcpt_tos for e in smtp.received] == [["ada@example.com"]]
