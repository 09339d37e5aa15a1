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

    async def take(self) -> float:
        """Wait until a token is available, use it, and return the monotonic instant it was handed out.

        The sleep loops because an event loop may wake a sleeper up to its clock resolution early.
        """
        if not self._interval:
            return time.monotonic()
        async with self._queue:
            while (wait := self._next - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            handed_out = time.monotonic()
            self._next = handed_out + self._interval
            return handed_out
