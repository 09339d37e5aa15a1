"""Real receivers on 127.0.0.1, a real DuckDB file, and the example templates, for the sender tests."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from channel_senders.loopback import LocalHttpServer, LocalSmtpServer
from channel_senders.outbox import DispatchOptions, dispatch_project
from channel_senders.report import DispatchReport
from journey_compiler.config.channels import ChannelsConfig
from journey_compiler.config.journey import Journey
from journey_compiler.config.project import Project
from journey_compiler.config.templates import Template
from journey_compiler.config.warehouse import WarehouseConfig
from journey_compiler.warehouse.tables import (
    MESSAGE_EVENTS,
    MESSAGE_EVENTS_TABLE,
    SEND_QUEUE_VIEW,
    TICK_LOG,
    TICK_LOG_TABLE,
    create_tables,
)

SEND_QUEUE = SEND_QUEUE_VIEW

NOW = datetime(2024, 11, 11, 9, 0)

# The shipped examples (examples/templates/*.yaml), same text, plus one template that cannot compile.
TEMPLATES_YAML = {
    "welcome_email": """
channel: email
subject: "Welcome, {{ profile.attributes.city | default('friend') }}!"
body: |
  Hi {{ profile.email }},
  thanks for signing up via {{ event.properties.channel | default('our site') }}.
""",
    "recall_crm": """
channel: webhook
body:
  action: create_call_task
  profile_id: "{{ profile.profile_id }}"
  reason: dormant_vip
""",
    "cart_reminder_sms": """
channel: sms
body: "You left {{ event.properties.sku }} in your cart. Reply STOP to opt out."
""",
    "cart_reminder": """
channel: whatsapp
template_name: cart_reminder
language: en
parameters: ["{{ event.properties.sku }}", "{{ event.properties.value }}"]
""",
    "activation_nudge": """
channel: push
title: "Your account is waiting"
body: "Open the app to finish setting up."
""",
    "renewal_sms": """
channel: sms
body: "The insurance of your car {{ subject.attributes.plate_number }}
  expires on {{ event.properties.expires_on }}."
""",
    "broken_sms": """
channel: sms
body: "Hello {{ profile.email "
""",
}

SEND_QUEUE_COLUMNS = {
    "message_id": "varchar",
    "journey_id": "varchar",
    "node_id": "varchar",
    "entry_id": "varchar",
    "profile_id": "varchar",
    "recipient_id": "varchar",
    "channel": "varchar",
    "template": "varchar",
    "payload": "varchar",
    "priority": "integer",
    "not_before": "timestamp",
    "tick_at": "timestamp",
    "status": "varchar",
    "cap_exempt": "boolean",
}


@pytest.fixture
def templates() -> dict[str, Template]:
    return {name: Template.model_validate(yaml.safe_load(text)) for name, text in TEMPLATES_YAML.items()}


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A warehouse file: `message_events` as `journeys init` makes it, a `send_queue` like the tick's."""
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    create_tables(
        connection,
        {MESSAGE_EVENTS_TABLE: MESSAGE_EVENTS, SEND_QUEUE: SEND_QUEUE_COLUMNS, TICK_LOG_TABLE: TICK_LOG},
    )
    # the outbox sends only what finished ticks wrote: the rows below are the tick at NOW's
    connection.execute(f"insert into {TICK_LOG_TABLE} values (?, ?, ?, ?)", [NOW, NOW, NOW, NOW])
    yield connection
    connection.close()


@pytest.fixture
def smtp_server() -> Iterator[LocalSmtpServer]:
    with LocalSmtpServer() as server:
        yield server


@pytest.fixture
def http_server() -> Iterator[LocalHttpServer]:
    with LocalHttpServer() as server:
        yield server


MakeChannels = Callable[..., ChannelsConfig]


@pytest.fixture
def make_channels() -> MakeChannels:
    """Every channel pointed at the loopback servers, as channels.yaml would say; `overrides` win."""

    def make(smtp: LocalSmtpServer | None, http: LocalHttpServer, **overrides: Any) -> ChannelsConfig:
        channels: dict[str, Any] = {
            "sms": {"kind": "http_sms", "url": http.url("/sms"), "token_env": "SMS_API_TOKEN"},
            "whatsapp": {
                "kind": "whatsapp_cloud",
                "url": http.url("/whatsapp"),
                "token_env": "WHATSAPP_API_TOKEN",
            },
            "push": {"kind": "http_push", "url": http.url("/push"), "token_env": "PUSH_API_TOKEN"},
            "webhook": {"kind": "webhook", "url": http.url("/hook"), "secret_env": "CRM_WEBHOOK_SECRET"},
        }
        if smtp is not None:
            channels["email"] = {
                "kind": "smtp",
                "host": "127.0.0.1",
                "port": smtp.port,
                "sender": "Example Shop <noreply@shop.example>",
            }
        channels.update(overrides)
        return ChannelsConfig.model_validate({"channels": channels})

    return make


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The secrets channels.yaml names, set in the environment where the transports read them."""
    secrets = {
        "SMS_API_TOKEN": "sms-token",
        "WHATSAPP_API_TOKEN": "whatsapp-token",
        "PUSH_API_TOKEN": "push-token",
        "CRM_WEBHOOK_SECRET": "webhook-secret",
    }
    for var, value in secrets.items():
        monkeypatch.setenv(var, value)
    return secrets


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def channels(
    make_channels: MakeChannels, smtp_server: LocalSmtpServer, http_server: LocalHttpServer
) -> ChannelsConfig:
    return make_channels(smtp_server, http_server)


def _payload(
    profile_id: str = "p1",
    *,
    email: str | None = "ada@example.com",
    phone: str | None = "+4915100000001",
    attributes: dict[str, Any] | None = None,
    event: dict[str, Any] | None = None,
    recipient: dict[str, Any] | None = None,
) -> dict[str, Any]:
    profile = {
        "profile_id": profile_id,
        "email": email,
        "phone": phone,
        "timezone": "Europe/Berlin",
        "attributes": attributes or {},
    }
    return {
        "profile": profile,
        "recipient": recipient or profile,
        "event": event,
        "journey": {"id": "welcome", "name": "Welcome series"},
    }


Enqueue = Callable[..., str]


@pytest.fixture
def enqueue(con: duckdb.DuckDBPyConnection) -> Enqueue:
    """Add one outbox row as the tick would; returns its message_id."""

    def add(
        message_id: str,
        channel: str,
        template: str,
        body: dict[str, Any] | None = None,
        *,
        priority: int = 100,
        not_before: datetime = NOW - timedelta(minutes=5),
        journey: str = "welcome",
        cap_exempt: bool = False,
    ) -> str:
        data = body if body is not None else _payload()
        con.execute(
            f"insert into {SEND_QUEUE} values (?, ?, 'send_1', 'e1', ?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?)",
            [
                message_id,
                journey,
                data["profile"]["profile_id"],
                data["recipient"]["profile_id"],
                channel,
                template,
                json.dumps(data),
                priority,
                not_before,
                NOW,
                cap_exempt,
            ],
        )
        return message_id

    return add


@pytest.fixture
def make_payload() -> Callable[..., dict[str, Any]]:
    """The outbox payload the tick writes: profile, recipient, event, journey."""
    return _payload


Events = Callable[[], list[tuple[str, str, datetime, str]]]


@pytest.fixture
def events(con: duckdb.DuckDBPyConnection) -> Events:
    """Every message_events row, in order: message_id, `sending` before its outcome."""

    def read() -> list[tuple[str, str, datetime, str]]:
        return con.execute(
            "select message_id, status, status_at, detail from journeys.message_events"
            " order by message_id, status = 'sending' desc, status"
        ).fetchall()

    return read


@pytest.fixture
def outcomes(events: Events) -> Callable[[], dict[str, tuple[str, str]]]:
    """message_id -> (final status, detail)."""
    return lambda: {m: (s, d) for m, s, _, d in events() if s != "sending"}


@pytest.fixture
def make_journey() -> Callable[..., Journey]:
    return _journey


def _journey(journey_id: str, exclusive_with: tuple[str, ...] = ()) -> Journey:
    """A journey that only matters for its delivery rules (`exclusive_with`)."""
    return Journey.model_validate(
        {
            "id": journey_id,
            "active": {"from": "2024-01-01T00:00:00Z"},
            "exclusive_with": list(exclusive_with),
            "entry": {"event": {"did": {"event": "signup"}}},
            "nodes": {"hello": {"send": {"channel": "push", "template": "activation_nudge"}}},
        }
    )


Dispatch = Callable[..., DispatchReport]


@pytest.fixture
def dispatch(con: duckdb.DuckDBPyConnection, tmp_path: Path, templates: dict[str, Template]) -> Dispatch:
    """`dispatch_project` on the test warehouse, for a project made of these channels (and journeys)."""

    def run(
        channels: ChannelsConfig,
        now: datetime,
        *,
        journeys: tuple[Journey, ...] = (),
        limit: int | None = None,
        **options: Any,
    ) -> DispatchReport:
        project = Project(
            root=tmp_path,
            warehouse=WarehouseConfig(),
            channels=channels,
            journeys={j.id: j for j in journeys},
            templates=templates,
        )
        return dispatch_project(
            tmp_path / "warehouse.duckdb", project, now, limit=limit, options=DispatchOptions(**options)
        )

    return run


def _outbox_file(warehouse: Path, messages: int, channel: str = "push", template: str = "nudge") -> Path:
    """A warehouse file of its own (for dispatches in another process): `messages` due messages m0, m1, ...
    to recipients p0, p1, ..., written by a finished tick at NOW; closed again when this returns."""
    with duckdb.connect(str(warehouse)) as connection:
        create_tables(connection, {MESSAGE_EVENTS_TABLE: MESSAGE_EVENTS, TICK_LOG_TABLE: TICK_LOG})
        connection.execute(f"insert into {TICK_LOG_TABLE} values (?, ?, ?, ?)", [NOW, NOW, NOW, NOW])
        connection.execute(
            f"""
            create table {SEND_QUEUE} as
            select 'm' || i as message_id, 'j' as journey_id, 'n' as node_id, 'p' || i as recipient_id,
                   $channel as channel, $template as template,
                   json_object('profile', json_object('profile_id', 'p' || i),
                               'recipient', json_object('profile_id', 'p' || i))::varchar as payload,
                   3 as priority, $now as not_before, $now as tick_at, 'queued' as status,
                   false as cap_exempt
            from range($n) t(i)
            """,
            {"channel": channel, "template": template, "now": NOW, "n": messages},
        )
    return warehouse


@pytest.fixture
def outbox_file() -> Callable[..., Path]:
    return _outbox_file
