"""Per-channel rate limit: a token bucket holding one token, refilled at `rate_per_second`.

A bucket of one spaces the attempts evenly, so no window of any length sees more than the provider's rate,
however the dispatch is interleaved across channels. Retries take tokens like first attempts.
"""

from __future__ import annotations

import time


class TokenBucket:
    def __init__(self, rate_per_second: float | None) -> None:
        self._interval = 1.0 / rate_per_second if rate_per_second else 0.0
        self._next = time.monotonic()

    def take(self) -> None:
        """Wait until a token is available, then use it."""
        now = time.monotonic()
        if self._next > now:
            time.sleep(self._next - now)
            now = self._next
        self._next = now + self._interval
