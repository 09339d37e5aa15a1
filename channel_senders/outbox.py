"""The one dispatcher for every channel: send what is due in `journeys.send_queue`, record every outcome.

What is due is decided here, in one query: a queued row whose `not_before` has passed and that has no
outcome in `journeys.message_events` yet (rows the tick suppressed itself carry status `suppressed`).
Outcomes are `sent`,
`failed` or `suppressed` (or any later provider status); the dispatcher never updates the queue.

Crash between the provider call and the outcome write: the dispatcher prefers a possible duplicate to a
silent loss (at least once). Before a chunk of messages is handed to providers, one `sending` row per message
is written; the outcomes follow in one write after the chunk. A message left with only `sending` (the run
died in between) is due again on the next dispatch and sent with the same key: HTTP providers receive the
same `Idempotency-Key` and drop the repeat, SMTP receivers get the same `Message-ID`. Its outcome detail
says it was sent again. Readers that derive a current status must rank a final status above `sending`
(both carry the dispatch's `now`).

Temporary failures are retried in rounds: every message of a chunk is tried once, then the ones that failed
temporarily are tried again after `backoff`, `2 * backoff`, ... seconds, up to `max_attempts` tries in all;
the last failure is recorded as `failed`. Each attempt first takes a token from its channel's rate limit.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb

from channel_senders.delivery_rules import DeliveryRules
from channel_senders.protocol import (
    IN_FLIGHT,
    ChannelUnavailable,
    OutgoingMessage,
    PermanentFailure,
    SendResult,
    TemporaryFailure,
    Transport,
)
from channel_senders.rate_limit import TokenBucket
from channel_senders.rendering import RenderError, render
from channel_senders.transports import open_transport
from journey_compiler.config.channels import Channel, ChannelsConfig
from journey_compiler.config.templates import Template
from journey_compiler.warehouse.tables import CONTROL_SCHEMA

SEND_QUEUE = f"{CONTROL_SCHEMA}.send_queue"
MESSAGE_EVENTS = f"{CONTROL_SCHEMA}.message_events"

_DUE_SQL = f"""
select q.message_id, q.channel, q.template, q.payload,
       exists (
         select 1 from {MESSAGE_EVENTS} e where e.message_id = q.message_id and e.status = $in_flight
       ) as interrupted
from {SEND_QUEUE} q
where q.not_before <= $now
  and q.status in ('queued', $in_flight)
  and not exists (
    select 1 from {MESSAGE_EVENTS} e where e.message_id = q.message_id and e.status <> $in_flight
  )
order by q.priority, q.not_before, q.message_id
limit $limit
"""
# One statement per batch: atomic, and one round trip however many rows (the lists are zipped by unnest).
_INSERT_SQL = f"""
insert into {MESSAGE_EVENTS} (message_id, status, status_at, detail)
select unnest($message_ids), unnest($statuses), $now, unnest($details)
"""

_CHUNK = 100
"""Messages per `sending` write: bounds how many may be sent again after a crash."""

_ADDRESS_FIELD = {
    "email": "email",
    "sms": "phone",
    "whatsapp": "phone",
    "push": "profile_id",
    "webhook": "profile_id",
}
"""Where each channel finds its address in the payload's `recipient` (push and webhooks take the id)."""


@dataclass(frozen=True)
class _Due:
    message_id: str
    channel: str
    template: str
    payload: str
    interrupted: bool


@dataclass
class DispatchReport:
    """How many messages of each channel ended in each status during one dispatch."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)

    def total(self, status: str | None = None) -> int:
        return sum(n for (_, s), n in self.counts.items() if status is None or s == status)

    def __str__(self) -> str:
        if not self.counts:
            return "nothing due"
        return ", ".join(f"{channel} {status}: {n}" for (channel, status), n in sorted(self.counts.items()))


class _Channels:
    """The transports and rate limits one dispatch uses: opened on first use, closed together at the end."""

    def __init__(self, config: ChannelsConfig) -> None:
        self._configs: dict[str, Channel] = dict(config.channels.items())
        self._open: dict[str, tuple[Transport, TokenBucket]] = {}
        self._unavailable: dict[str, str] = {}

    def ensure(self, channel: str) -> None:
        """Open `channel` or raise `ChannelUnavailable` (remembered, so each reason is found once)."""
        if channel in self._unavailable:
            raise ChannelUnavailable(self._unavailable[channel])
        if channel in self._open:
            return
        config = self._configs.get(channel)
        try:
            if config is None:
                raise ChannelUnavailable(f"channel {channel!r} is not configured in channels.yaml")
            self._open[channel] = (open_transport(channel, config), TokenBucket(config.rate_per_second))
        except ChannelUnavailable as error:
            self._unavailable[channel] = str(error)
            raise

    def send(self, message: OutgoingMessage) -> SendResult:
        transport, bucket = self._open[message.channel]
        bucket.take()
        return transport.send(message)

    def __enter__(self) -> _Channels:
        return self

    def __exit__(self, *_: object) -> None:
        for transport, _bucket in self._open.values():
            transport.close()


def dispatch_due(
    con: duckdb.DuckDBPyConnection,
    channels: ChannelsConfig,
    templates: dict[str, Template],
    now: datetime,
    *,
    limit: int | None = None,
    max_attempts: int = 3,
    backoff: float = 0.2,
    rules: DeliveryRules | None = None,
) -> DispatchReport:
    """Send every message due at `now` (at most `limit`, most important first) and record the outcomes.

    `now` (UTC) decides what is due and stamps every event row, so backfills and tests are reproducible.
    Running it again sends nothing twice: a message with an outcome is never picked again.
    `rules` (caps, exclusive journeys) suppress what may not go out; see delivery_rules.
    """
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
    now = now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now
    due = [
        _Due(*row)
        for row in con.execute(_DUE_SQL, {"now": now, "in_flight": IN_FLIGHT, "limit": limit}).fetchall()
    ]
    blocked = (rules or DeliveryRules()).blocked(con, [row.message_id for row in due], now)
    report = DispatchReport()
    with _Channels(channels) as open_channels:
        for start in range(0, len(due), _CHUNK):
            chunk = due[start : start + _CHUNK]
            outcomes = _dispatch_chunk(
                con, chunk, templates, open_channels, now, max_attempts, backoff, blocked
            )
            report.counts.update((row.channel, outcomes[row.message_id].status) for row in chunk)
    return report


def _dispatch_chunk(
    con: duckdb.DuckDBPyConnection,
    chunk: list[_Due],
    templates: dict[str, Template],
    open_channels: _Channels,
    now: datetime,
    max_attempts: int,
    backoff: float,
    blocked: dict[str, str],
) -> dict[str, SendResult]:
    """Mark the chunk's sendable messages `sending`, send them, then write every outcome in one batch."""
    outcomes: dict[str, SendResult] = {}
    outgoing: list[OutgoingMessage] = []
    for row in chunk:
        if row.message_id in blocked:
            outcomes[row.message_id] = SendResult("suppressed", blocked[row.message_id])
            continue
        prepared = _prepare(row, templates, open_channels)
        if isinstance(prepared, OutgoingMessage):
            outgoing.append(prepared)
        else:
            outcomes[row.message_id] = prepared
    handing_over = SendResult(IN_FLIGHT, "handing over to the provider")
    _write(con, [(m.message_id, handing_over) for m in outgoing], now)
    outcomes.update(_send_all(outgoing, open_channels, max_attempts, backoff))
    final = {row.message_id: _noting_interruption(row, outcomes[row.message_id]) for row in chunk}
    _write(con, list(final.items()), now)
    return final


def _prepare(
    row: _Due, templates: dict[str, Template], open_channels: _Channels
) -> OutgoingMessage | SendResult:
    """The message to hand to a transport, or the outcome that makes sending it pointless."""
    try:
        open_channels.ensure(row.channel)
    except ChannelUnavailable as error:
        return SendResult("failed", str(error))
    template = templates.get(row.template)
    if template is None:
        return SendResult("failed", f"template {row.template!r} not found in templates/")
    if template.channel != row.channel:
        reason = f"template {row.template!r} is for {template.channel}, queued for {row.channel}"
        return SendResult("failed", reason)
    try:
        payload: dict[str, Any] = json.loads(row.payload)
    except (TypeError, json.JSONDecodeError) as error:
        return SendResult("failed", f"payload is not valid JSON: {error}")
    recipient = payload.get("recipient") or {}
    address_field = _ADDRESS_FIELD[row.channel]
    address = recipient.get(address_field)
    if not address:
        return SendResult("suppressed", f"recipient {recipient.get('profile_id')!r} has no {address_field}")
    try:
        content = render(row.template, template, payload)
    except RenderError as error:
        return SendResult("failed", str(error))
    return OutgoingMessage(row.message_id, row.channel, str(address), content)


def _send_all(
    messages: list[OutgoingMessage], open_channels: _Channels, max_attempts: int, backoff: float
) -> dict[str, SendResult]:
    """Try every message, then retry the temporary failures in rounds with exponential backoff."""
    results: dict[str, SendResult] = {}
    pending = messages
    for attempt in range(1, max_attempts + 1):
        retry = []
        for message in pending:
            try:
                results[message.message_id] = open_channels.send(message)
            except PermanentFailure as error:
                results[message.message_id] = SendResult("failed", str(error))
            except TemporaryFailure as error:
                gave_up = f"{error} (gave up after {attempt} attempts)"
                results[message.message_id] = SendResult("failed", gave_up)
                retry.append(message)
        if not retry or attempt == max_attempts:
            break
        time.sleep(backoff * 2 ** (attempt - 1))
        pending = retry
    return results


def _noting_interruption(row: _Due, outcome: SendResult) -> SendResult:
    if not row.interrupted:
        return outcome
    return SendResult(outcome.status, f"{outcome.detail} (after an interrupted dispatch)")


def _write(con: duckdb.DuckDBPyConnection, events: list[tuple[str, SendResult]], now: datetime) -> None:
    if events:
        con.execute(
            _INSERT_SQL,
            {
                "message_ids": [message_id for message_id, _ in events],
                "statuses": [result.status for _, result in events],
                "details": [result.detail for _, result in events],
                "now": now,
            },
        )
