"""When a deferred message is tried again: exponential backoff across dispatches, jittered, never sooner
than the provider's `Retry-After`.

The jitter is a hash of the message id and the deferral number, not a random draw, so a dispatch run again
for the same time (a backfill, a test) schedules the same retries; it still spreads the messages of one
outage over half the backoff interval, so they do not all come back at the same instant.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Backoff:
    first: timedelta = timedelta(minutes=1)
    longest: timedelta = timedelta(hours=1)

    def retry_at(
        self, message_id: str, deferral: int, now: datetime, retry_after: float | None = None
    ) -> datetime:
        """The earliest time the `deferral`-th deferral (1, 2, ...) of `message_id` may be tried again."""
        delay = min(self.first * 2 ** (deferral - 1), self.longest)
        digest = hashlib.blake2b(f"{message_id}:{deferral}".encode(), digest_size=4).digest()
        jittered = delay * (0.5 + int.from_bytes(digest) / 2**33)
        if retry_after is not None:
            jittered = max(jittered, timedelta(seconds=retry_after))
        return now + jittered
