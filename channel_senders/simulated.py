"""A transport that accepts every message without sending it anywhere, for what-if backtests: the outbox's
own rules (caps, `exclusive_with`, blacklists at dispatch, expiry, missing addresses) decide as they would
live, while no provider is called and no credential is needed."""

from __future__ import annotations

from channel_senders.protocol import OutgoingMessage, SendResult


class SimulatedTransport:
    async def send(self, message: OutgoingMessage) -> SendResult:
        return SendResult("sent", "simulated: a what-if backtest calls no provider")

    async def close(self) -> None:
        """Nothing is held open."""
