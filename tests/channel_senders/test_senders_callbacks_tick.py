"""Provider callbacks reach the journeys: a real dispatch of the shipped cart abandonment journey, a signed
WhatsApp `read` status webhook through the status receiver, and the next real tick takes the
`message_status` branch at the time the provider said the message was read."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from channel_senders.loopback import LocalHttpServer
from channel_senders.outbox import dispatch_project
from channel_senders.receiver import StatusReceiver
from channel_senders.webhook import signature
from journey_compiler.config.channels import ChannelsConfig, HttpChannel

pytestmark = pytest.mark.slow

M, H, D = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
T = datetime(2026, 3, 3, 9, 0)
READ_AT = T + 3 * H


EXAMPLE_JOURNEYS = Path(__file__).resolve().parents[2] / "examples" / "shop" / "journeys"
SECRET = "whatsapp-app-secret"


def _read_webhook(message_id: str, at: datetime) -> bytes:
    """Meta's status webhook shape, with our message id echoed in biz_opaque_callback_data."""
    status = {
        "id": "wamid.HBgM",
        "status": "read",
        "timestamp": str(int(at.replace(tzinfo=UTC).timestamp())),
        "recipient_id": "4915100000001",
        "biz_opaque_callback_data": message_id,
    }
    value = {"messaging_product": "whatsapp", "statuses": [status]}
    body = {"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{"value": value}]}]}
    return json.dumps(body).encode()


def test_a_read_callback_drives_the_message_status_branch(make_scenario, monkeypatch):
    journeys = {
        n: (EXAMPLE_JOURNEYS / f"{n}.yaml").read_text() for n in ("cart_abandonment", "dormant_recall")
    }
    sc = make_scenario(journeys)
    for pid in ("reader", "silent"):
        sc.profile(pid)
        sc.event(f"{pid}_cart", pid, "add_to_cart", T, value=60.0, sku="SHOE-1")
    sc.tick(T + H + 2 * M)
    monkeypatch.setenv("WHATSAPP_APP_SECRET", SECRET)
    with LocalHttpServer() as provider:
        whatsapp = HttpChannel(
            kind="whatsapp_cloud", url=provider.url("/wa"), callback_secret_env="WHATSAPP_APP_SECRET"
        )
        channels = ChannelsConfig(channels={"whatsapp": whatsapp})
        dispatch_project(sc.workspace.warehouse, replace(sc.built.project, channels=channels), T + H + 4 * M)
        sent = {r.json()["to"]: r.json()["biz_opaque_callback_data"] for r in provider.received}
    (reader_message,) = [s["message_id"] for s in sc.sends("reader")]
    assert reader_message in sent.values()

    with StatusReceiver(sc.workspace.warehouse, channels) as receiver:
        body = _read_webhook(reader_message, READ_AT)
        answer = httpx.post(
            receiver.url("whatsapp"), content=body, headers={"X-Hub-Signature-256": signature(SECRET, body)}
        )
    assert answer.status_code == 200
    sc.tick(T + D + 3 * H)

    assert ("was_read", "tag_reader", "then", "advanced", READ_AT) in sc.moves("reader")
    assert ("was_read", "sms_fallback", "else", "advanced", T + H + 4 * M + D) in sc.moves("silent")
