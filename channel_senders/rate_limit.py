"""Per-channel rate limit: a token bucket holding one token, refilled at `rate_per_second`.

A bucket of one spaces the attempts evenly, so no window of any length sees more than the provider's rate,
however many sends of the channel are in flight at once. Takers queue behind one lock, and the next slot
is counted from the moment a token was really handed out (not from when it was due): an event loop that
wakes a taker late never lets the next one through early. Retries take tokens like first attempts.
"""

from __future__ import annotations

import asyncio
import time


class TokenBucket:
    def __init__(self, rate_per_second: float | None) -> None:
        self._interval = 1.0 / rate_per_second if rate_per_second else 0.0
        self._next = time.monotonic()
        self._queue = asyncio.Lock()

    async def take(self) -> None:
        """Wait until a token is available, then use it."""
        if not self._interval:
            return
        async with self._queue:
            wait = self._next - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._next = time.monotonic() + self._interval
