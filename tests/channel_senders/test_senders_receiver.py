"""The status receiver over real HTTP on 127.0.0.1 and a real DuckDB file: signed callbacks become
`message_events` rows once; anything else is refused with a 4xx and records nothing; while another process
holds the warehouse, callbacks are spooled and written when it is free."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import duckdb
import httpx
import pytest

from channel_senders.receiver import StatusReceiver
from channel_senders.webhook import signature
from journey_compiler.runtime.lock import exclusive

SECRET = "callback-secret"


@pytest.fixture
def receiver(con, tmp_path, make_channels, http_server, monkeypatch):
    monkeypatch.setenv("CALLBACK_SECRET", SECRET)
    channels = make_channels(
        None,
        http_server,
        sms={"kind": "http_sms", "url": http_server.url("/sms"), "callback_secret_env": "CALLBACK_SECRET"},
        whatsapp={
            "kind": "whatsapp_cloud",
            "url": http_server.url("/wa"),
            "callback_secret_env": "CALLBACK_SECRET",
        },
    )
    with StatusReceiver(tmp_path / "warehouse.duckdb", channels) as server:
        yield server


def post(
    url: str, body: object, *, secret: str = SECRET, header: str = "X-Journeys-Signature"
) -> httpx.Response:
    raw = json.dumps(body).encode()
    return httpx.post(url, content=raw, headers={header: signature(secret, raw)})


def provider_rows(con) -> list[tuple]:
    return con.execute(
        "select message_id, status, status_at, detail from journeys.message_events order by all"
    ).fetchall()


def test_a_signed_callback_is_recorded_once(receiver, con, enqueue):
    enqueue("m1", "sms", "cart_reminder_sms")
    callback = {"message_id": "m1", "status": "delivered", "at": "2024-11-11T09:30:00Z"}

    first = post(receiver.url("sms"), callback)
    again = post(receiver.url("sms"), callback)

    assert first.status_code == again.status_code == 200
    assert provider_rows(con) == [("m1", "delivered", datetime(2024, 11, 11, 9, 30), "provider callback")]


@pytest.mark.parametrize(
    ("body", "secret", "code"),
    [
        ({"message_id": "m1", "status": "read", "at": "2024-11-11T09:30:00Z"}, "wrong", 401),
        ({"message_id": "nope", "status": "read", "at": "2024-11-11T09:30:00Z"}, SECRET, 404),
        ({"message_id": "m1", "status": "opened-maybe", "at": "2024-11-11T09:30:00Z"}, SECRET, 400),
        ({"message_id": "m1", "status": "read", "at": "yesterday"}, SECRET, 400),
        ({"status": "read"}, SECRET, 400),
    ],
)
def test_bad_callbacks_are_refused_and_record_nothing(receiver, con, enqueue, body, secret, code):
    enqueue("m1", "sms", "cart_reminder_sms")

    assert post(receiver.url("sms"), body, secret=secret).status_code == code
    assert provider_rows(con) == []


def test_a_channel_without_a_callback_secret_refuses(receiver, con, enqueue):
    enqueue("m1", "push", "activation_nudge")
    response = post(
        receiver.url("push"), {"message_id": "m1", "status": "read", "at": "2024-11-11T09:30:00Z"}
    )
    assert response.status_code == 403 and "callback_secret_env" in response.json()["detail"]
    assert post(receiver.url("fax"), {}).status_code == 404
    assert provider_rows(con) == []


def test_whatsapp_cloud_status_webhook(receiver, con, enqueue):
    enqueue("wa1", "whatsapp", "cart_reminder")
    webhook = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "WABA_ID",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "statuses": [
                                {
                                    "id": "wamid.1",
                                    "status": "sent",
                                    "timestamp": "1731315600",
                                    "biz_opaque_callback_data": "wa1",
                                },
                                {
                                    "id": "wamid.1",
                                    "status": "read",
                                    "timestamp": "1731317400",
                                    "recipient_id": "4915100000001",
                                    "biz_opaque_callback_data": "wa1",
                                },
                            ],
                        },
                    }
                ],
            }
        ],
    }

    response = post(receiver.url("whatsapp"), webhook, header="X-Hub-Signature-256")

    assert response.status_code == 200
    assert provider_rows(con) == [("wa1", "read", datetime(2024, 11, 11, 9, 30), "whatsapp status webhook")]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_callbacks_are_spooled_while_another_process_holds_the_warehouse(tmp_path: Path, outbox_file):
    journeys = tmp_path / "journeys"
    journeys.mkdir()
    (journeys / "channels.yaml").write_text(
        "channels:\n  sms: {kind: http_sms, url: 'http://127.0.0.1:9/sms',"
        " callback_secret_env: CALLBACK_SECRET}\n"
    )
    warehouse = outbox_file(tmp_path / "warehouse.duckdb", 2)
    port = _free_port()
    env = {**os.environ, "CALLBACK_SECRET": SECRET}
    command = [str(Path(sys.executable).parent / "journeys"), "receive", "--dir", str(journeys)]
    server = subprocess.Popen(
        [*command, "--warehouse", str(warehouse), "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/callbacks/sms"
    try:
        _wait_until_listening(port, server)
        with exclusive(warehouse, "a long tick (test)"):
            busy = [
                post(url, {"message_id": "m1", "status": status, "at": "2024-11-11T09:30:00Z"})
                for status in ("delivered", "read", "read")
            ]
            spooled = sorted((tmp_path / "warehouse.duckdb.callbacks").glob("*.json"))
        rows = _wait_for_rows(warehouse, 2)
    finally:
        server.terminate()
        server.wait(timeout=10)

    assert [r.status_code for r in busy] == [202, 202, 202]
    assert len(spooled) == 3, "each accepted request is on disk before it is answered"
    assert rows == [("m1", "delivered"), ("m1", "read")], "the repeat is one row"
    assert list((tmp_path / "warehouse.duckdb.callbacks").glob("*.json")) == []


def _wait_until_listening(port: int, server: subprocess.Popen) -> None:
    """The CLI imports the whole stack first: on a loaded machine that takes a while."""
    for _ in range(1200):
        if server.poll() is not None:
            raise AssertionError(
                f"the receiver exited: {server.stderr.read().decode() if server.stderr else ''}"
            )
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError("the receiver did not start within a minute")


def _wait_for_rows(warehouse: Path, expected: int) -> list[tuple]:
    rows: list[tuple] = []
    for _ in range(100):
        time.sleep(0.2)
        try:
            with exclusive(warehouse, "test reads"), duckdb.connect(str(warehouse)) as con:
                rows = con.execute(
                    "select message_id, status from journeys.message_events order by all"
                ).fetchall()
        except duckdb.IOException:
            continue
        if len(rows) >= expected:
            break
    return rows


def test_a_dispatch_writes_callbacks_spooled_while_no_receiver_runs(
    dispatch, channels, enqueue, http_server, now, events, tmp_path
):
    """A receiver stopped after spooling (the tick held the warehouse) leaves files behind; the next send
    writes them before it dispatches, so the tick after it sees them."""
    from channel_senders.callback_store import CallbackStore, spool_health
    from channel_senders.callbacks import Callback

    enqueue("m1", "push", "activation_nudge")
    dispatch(channels, now)
    warehouse = tmp_path / "warehouse.duckdb"
    # what `accept` writes when another process holds the warehouse (the lock is re-entrant in this one)
    CallbackStore(warehouse)._spool([Callback("m1", "delivered", now, "provider callback")])
    waiting = spool_health(warehouse, time.time())

    dispatch(channels, now)

    assert waiting.waiting == 1 and waiting.rejected == 0
    assert [(m, s) for m, s, _, _ in events()] == [("m1", "sending"), ("m1", "delivered"), ("m1", "sent")]
    assert spool_health(warehouse, time.time()).waiting == 0
