"""Pause, resume and stop as the interpreter reads them from the operator controls.

Spec section 3, "Pause and resume": while paused "no new profile is searched for or enters"; a wait's clock
"keeps running" and "profiles whose wait ended during the pause move on" at the resume; events "keep being
watched"; on any other node "a profile that arrives still does the node's work but does not leave"; a send
creates no message while paused and "the messages that were due are created then". "Exit conditions still
apply while paused. Stopping (ending) a journey moves nobody again." docs/semantics.md, "Pausing a journey",
says how these read as logical times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from journey_compiler.reference.world import Control

STOPPED = "stopped"


@dataclass(frozen=True)
class Lifecycle:
    pauses: tuple[tuple[datetime, datetime | None], ...]
    """(paused at, the first resume after it or None)."""
    stopped_at: datetime | None

    @classmethod
    def of(cls, controls: list[Control]) -> Lifecycle:
        times = {a: sorted(c.effective_at for c in controls if c.action == a) for a in ("pause", "resume")}
        pauses = tuple((at, next((r for r in times["resume"] if r > at), None)) for at in times["pause"])
        stops = [c.effective_at for c in controls if c.action == "stop"]
        return cls(pauses, min(stops) if stops else None)

    def pause_at(self, at: datetime) -> tuple[datetime, datetime | None] | None:
        return next((p for p in self.pauses if p[0] <= at and (p[1] is None or at < p[1])), None)

    def admits(self, at: datetime) -> bool:
        """May a profile enter at `at`?"""
        return self.pause_at(at) is None and (self.stopped_at is None or at < self.stopped_at)

    def released(self, at: datetime, horizon: datetime) -> datetime | None:
        """When something due at `at` happens: then, or at the resume of the pause it falls in (None while
        that resume is beyond the horizon)."""
        pause = self.pause_at(at)
        if pause is None:
            return at
        resumed = pause[1]
        return resumed if resumed is not None and resumed <= horizon else None

    def stop_seen(self, horizon: datetime) -> datetime | None:
        return self.stopped_at if self.stopped_at is not None and self.stopped_at <= horizon else None
