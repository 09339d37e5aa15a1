"""What one dispatch did: per channel, how many messages ended in each status; which channels were down."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from channel_senders.protocol import DEFERRED, SendResult

COLUMNS = ("sent", "deferred", "failed", "suppressed", "expired")


@dataclass
class DispatchReport:
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    deferred_because: dict[str, str] = field(default_factory=dict)
    """channel -> why its messages were deferred (the first reason seen): the channel is down."""

    def add(self, channel: str, outcome: SendResult) -> None:
        self.counts[(channel, outcome.status)] += 1
        if outcome.status == DEFERRED:
            self.deferred_because.setdefault(channel, outcome.detail)

    def total(self, status: str | None = None) -> int:
        return sum(n for (_, s), n in self.counts.items() if status is None or s == status)

    @property
    def channels(self) -> list[str]:
        return sorted({channel for channel, _ in self.counts})

    def rows(self) -> list[tuple[str, ...]]:
        """One row per channel: the channel, then the count of each of `COLUMNS`."""
        return [(c, *(str(self.counts[(c, s)]) for s in COLUMNS)) for c in self.channels]

    @property
    def outages(self) -> dict[str, str]:
        return dict(sorted(self.deferred_because.items()))

    def __str__(self) -> str:
        if not self.counts:
            return "nothing due"
        return ", ".join(f"{channel} {status}: {n}" for (channel, status), n in sorted(self.counts.items()))
