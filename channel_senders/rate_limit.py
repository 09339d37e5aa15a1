"""Per-channel rate limit: a token bucket holding one token, refilled at `rate_per_second`.

A bucket of one spaces the attempts evenly, so no window of any length sees more than the provider's rate,
however many sends of the channel are in flight at once: each attempt reserves the next free slot (the
event loop runs one reservation at a time) and waits for it. Retries take tokens like first attempts.
"""

from __future__ import annotations

import asyncio
import time


class TokenBucket:
    def __init__(self, rate_per_second: float | None) -> None:
        self._interval = 1.0 / rate_per_second if rate_per_second else 0.0
        self._next = time.monotonic()

    async def take(self) -> None:
        """Wait until a token is available, then use it."""
        if not self._interval:
            return
        now = time.monotonic()
        slot = max(now, self._next)
        self._next = slot + self._interval
        if slot > now:
            await asyncio.sleep(slot - now)
