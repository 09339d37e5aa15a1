"""The one contract every transport implements, and the statuses its outcomes become.

A transport delivers one rendered message to one address and either returns a `SendResult` (status `sent`)
or raises `TemporaryFailure` (worth another attempt: the outbox retries, then defers the message to a later
dispatch), `CredentialsRefused` (the channel's token or login was refused: the whole channel is deferred) or
`PermanentFailure` (recorded as `failed`). The outbox itself decides `failed` for a message without an
address, `suppressed` (a rule), `expired` (too old to send) and `deferred` (the channel is down or not
configured yet).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from journey_compiler.errors import JourneysError

Status = Literal["sending", "deferred", "sent", "failed", "suppressed", "expired"]

IN_FLIGHT: Status = "sending"
"""Written just before a provider call. Not an outcome: a message whose last event is this one is sent again
by the next dispatch (see `channel_senders.outbox`)."""
DEFERRED: Status = "deferred"
"""Not an outcome either: the message could not be handed over (channel down, not configured, provider
busy); it stays due and is tried again from the time its `message_retries` row names."""
PENDING: tuple[Status, ...] = (IN_FLIGHT, DEFERRED)
"""Every other status in `message_events` is final: the dispatcher never picks such a message again."""


@dataclass(frozen=True)
class Content:
    """A template after rendering; which fields a transport reads depends on its channel."""

    subject: str | None = None
    title: str | None = None
    body: str | dict[str, Any] | None = None
    template_name: str | None = None
    language: str | None = None
    parameters: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class OutgoingMessage:
    """`message_id` is the idempotency key: providers see the same key on every attempt of one message."""

    message_id: str
    channel: str
    to: str
    content: Content


@dataclass(frozen=True)
class SendResult:
    """One outcome, written as one `journeys.message_events` row; `detail` is a short reason for humans."""

    status: Status
    detail: str
    retry_after: float | None = None
    """For `deferred`: the provider asked for at least this many seconds before the next attempt."""


class SendFailure(JourneysError):
    """A transport could not hand the message over; `str(error)` is the detail recorded for it."""


class TemporaryFailure(SendFailure):
    """Worth another attempt later (rate limited, provider down, connection lost).

    `retry_after` (seconds) is the provider's own `Retry-After`, when it said one; `unreachable` marks a
    failure of the channel rather than of the message (connection refused, DNS, TLS, timeouts)."""

    def __init__(self, reason: str, *, retry_after: float | None = None, unreachable: bool = False) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.unreachable = unreachable


class CredentialsRefused(SendFailure):
    """The provider refused the channel's credentials (HTTP 401/403, a refused SMTP login).

    A revoked or rotated token is the channel's problem, not the message's: like an outage, every message of
    the channel stays due (`deferred`) until the credential is fixed, instead of each one being `failed`."""


class PermanentFailure(SendFailure):
    """Another attempt would fail the same way (rejected address, bad request)."""


class ChannelUnavailable(JourneysError):
    """A channel cannot send at all (not configured, credential missing): its messages are deferred."""


class Transport(Protocol):
    async def send(self, message: OutgoingMessage) -> SendResult: ...

    async def close(self) -> None:
        """Release the connections kept open between the sends of one dispatch."""


def env_secret(var: str | None) -> str | None:
    """The credential named in channels.yaml, read from the environment (never from the journey files)."""
    if var is None:
        return None
    value = os.environ.get(var)
    if not value:
        raise ChannelUnavailable(f"environment variable {var} is not set")
    return value
