"""The channels one dispatch sends over: transports opened on first use, rate limits, in-dispatch retries,
and the verdict that a channel is down.

A message gets `max_attempts` tries within one dispatch, spaced by a doubling `backoff` (or the provider's
`Retry-After`, when it is short). What still fails temporarily is deferred to a later dispatch. A channel is
*down* once `down_after` attempts in a row could not reach it (refused, DNS, TLS, timeouts), when it is not
usable at all (not configured, secret missing), at the first refusal of its credentials (HTTP 401/403, a
refused SMTP login), or when it asks for a `Retry-After` longer than one dispatch should wait: its remaining
messages are then deferred without another attempt, with the reason.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

from channel_senders.protocol import (
    DEFERRED,
    ChannelUnavailable,
    CredentialsRefused,
    OutgoingMessage,
    PermanentFailure,
    SendResult,
    TemporaryFailure,
    Transport,
)
from channel_senders.rate_limit import TokenBucket
from channel_senders.simulated import SimulatedTransport
from channel_senders.transports import open_transport
from journey_compiler.config.channels import Channel, ChannelsConfig


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3
    backoff: float = 0.2
    """Seconds before the second attempt within one dispatch; doubled before each further one."""
    max_wait: float = 5.0
    """A `Retry-After` longer than this defers the channel's messages instead of waiting for it."""
    down_after: int = 5

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")


@dataclass
class _Channel:
    transport: Transport | None
    bucket: TokenBucket
    concurrency: int
    """Workers taking the channel's messages in order: `concurrency` sends at once, no task per message."""
    down: str | None = None
    retry_after: float | None = None
    unreachable_in_a_row: int = 0
    queue: deque[tuple[OutgoingMessage, asyncio.Future[SendResult]]] = field(default_factory=deque)
    idle: list[asyncio.Future[None]] = field(default_factory=list)
    workers: list[asyncio.Task[None]] = field(default_factory=list)


class OpenChannels:
    """Use as `async with OpenChannels(config, policy) as channels:` inside the dispatch's event loop."""

    def __init__(self, config: ChannelsConfig, policy: RetryPolicy, *, simulate: bool = False) -> None:
        self._configs: dict[str, Channel] = dict(config.channels.items())
        self._policy = policy
        self._simulate = simulate
        """Every channel accepts every message at once (`SimulatedTransport`, no rate limit)."""
        self._open: dict[str, _Channel] = {}

    def config(self, channel: str) -> Channel | None:
        return self._configs.get(channel)

    def down(self, channel: str) -> str | None:
        """Why `channel` cannot send in this dispatch (opening it first), or None when it can."""
        return self._channel(channel).down

    def _channel(self, name: str) -> _Channel:
        if name not in self._open and self._simulate:
            self._open[name] = _Channel(SimulatedTransport(), TokenBucket(None), 1)
        if name not in self._open:
            config = self._configs.get(name)
            try:
                if config is None:
                    raise ChannelUnavailable(f"channel {name!r} is not configured in channels.yaml")
                self._open[name] = _Channel(
                    open_transport(name, config), TokenBucket(config.rate_per_second), config.concurrency
                )
            except ChannelUnavailable as error:
                self._open[name] = _Channel(None, TokenBucket(None), 1, down=str(error))
        return self._open[name]

    def deliver(self, message: OutgoingMessage) -> asyncio.Future[SendResult]:
        """Hand `message` over, retrying within the policy; `deferred` when the channel cannot take it now.

        Messages of one channel are taken in the order they were handed in."""
        channel = self._channel(message.channel)
        outcome: asyncio.Future[SendResult] = asyncio.get_running_loop().create_future()
        channel.queue.append((message, outcome))
        if channel.idle:
            channel.idle.pop().set_result(None)
        elif len(channel.workers) < channel.concurrency:
            channel.workers.append(asyncio.ensure_future(self._work(channel)))
        return outcome

    async def _work(self, channel: _Channel) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while channel.queue:
                message, outcome = channel.queue.popleft()
                try:
                    result = await self._attempts(channel, message)
                except Exception as error:  # a bug, not a provider's answer: the dispatch ends with it
                    if not outcome.done():
                        outcome.set_exception(error)
                else:
                    if not outcome.done():  # nobody waits for a cancelled one
                        outcome.set_result(result)
            wake: asyncio.Future[None] = loop.create_future()
            channel.idle.append(wake)
            await wake

    async def _attempts(self, channel: _Channel, message: OutgoingMessage) -> SendResult:
        policy = self._policy
        last: TemporaryFailure | None = None
        for attempt in range(1, policy.max_attempts + 1):
            if channel.down is not None:
                return SendResult(DEFERRED, channel.down, channel.retry_after)
            assert channel.transport is not None
            await channel.bucket.take()
            try:
                result = await channel.transport.send(message)
            except PermanentFailure as error:
                channel.unreachable_in_a_row = 0
                return SendResult("failed", str(error))
            except CredentialsRefused as error:
                self._mark_down(channel, message.channel, str(error), None)
                return SendResult(DEFERRED, channel.down or str(error))
            except TemporaryFailure as error:
                last = error
                self._note(channel, message.channel, error)
                wait = policy.backoff * 2 ** (attempt - 1)
                if error.retry_after is not None and error.retry_after > policy.max_wait:
                    self._mark_down(channel, message.channel, str(error), error.retry_after)
                    continue
                if attempt < policy.max_attempts:
                    await asyncio.sleep(max(wait, error.retry_after or 0.0))
                continue
            channel.unreachable_in_a_row = 0
            return result
        assert last is not None
        if channel.down is not None and last.retry_after is not None:
            return SendResult(DEFERRED, channel.down, channel.retry_after)
        detail = f"{last} (after {policy.max_attempts} attempts in this dispatch)"
        return SendResult(DEFERRED, detail, last.retry_after)

    def _note(self, channel: _Channel, name: str, error: TemporaryFailure) -> None:
        if not error.unreachable:
            return
        channel.unreachable_in_a_row += 1
        if channel.unreachable_in_a_row >= self._policy.down_after and channel.down is None:
            self._mark_down(channel, name, str(error), None)

    @staticmethod
    def _mark_down(channel: _Channel, name: str, reason: str, retry_after: float | None) -> None:
        if channel.down is None:
            channel.down = f"channel {name!r} is down: {reason}"
            channel.retry_after = retry_after

    async def __aenter__(self) -> OpenChannels:
        return self

    async def __aexit__(self, *_: object) -> None:
        workers = [worker for channel in self._open.values() for worker in channel.workers]
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        await asyncio.gather(*(c.transport.close() for c in self._open.values() if c.transport is not None))
