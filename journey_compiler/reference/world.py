"""The inputs and outputs of the reference interpreter, as plain rows.

A `World` holds the raw rows of spec section 1 (plus the operator controls and the message outcomes the
senders wrote); the interpreter turns a world, a project and a list of tick times into `ReferenceOutput`,
the rows of spec section 4. The differential tests load the same world into a DuckDB warehouse, tick it
with the SQL engine, read the marts back into the same row types and compare.

Times are naive UTC datetimes, as the warehouse stores them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True)
class Profile:
    profile_id: str
    email: str | None = None
    phone: str | None = None
    timezone: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict, hash=False)
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Event:
    event_id: str
    profile_id: str
    event_name: str
    event_time: datetime
    properties: dict[str, Any] = field(default_factory=dict, hash=False)
    loaded_at: datetime | None = None
    """When the warehouse received it; None means at `event_time` (not late)."""

    @property
    def loaded(self) -> datetime:
        return self.loaded_at or self.event_time


@dataclass(frozen=True)
class ProfileTag:
    profile_id: str
    tag: str
    tagged_at: datetime


@dataclass(frozen=True)
class Relation:
    from_id: str
    to_id: str
    relation: str


@dataclass(frozen=True)
class MessageEvent:
    """An outcome the senders (or a provider callback) recorded for a message."""

    message_id: str
    status: str
    status_at: datetime
    detail: str | None = None


@dataclass(frozen=True)
class Control:
    """An operator decision (`approve`, `pick_winner`) taking effect at `effective_at`."""

    journey_id: str
    action: str
    effective_at: datetime
    value: str | None = None


@dataclass
class World:
    profiles: list[Profile] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    profile_tags: list[ProfileTag] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    trading_calendar: dict[date, bool] = field(default_factory=dict)
    details: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Detail table name (the key under `details:` in warehouse.yaml) -> its rows (column -> value)."""
    message_events: list[MessageEvent] = field(default_factory=list)
    controls: list[Control] = field(default_factory=list)


# ---------------------------------------------------------------- outputs (spec section 4)


@dataclass(frozen=True)
class Transition:
    tick_at: datetime
    logical_at: datetime
    journey_id: str
    entry_id: str
    profile_id: str
    from_node: str | None
    to_node: str | None
    """None when the path ends (completed, exited)."""
    branch: str | None
    reason: str | None
    ab_group: str | None
    version: str
    """The journey version (content hash) the tick ran: spec section 3, "Journey edits"."""
    path_id: str
    """The entry's id, or a fork's made at an `all_matches` split (docs/semantics.md)."""


@dataclass(frozen=True)
class StateRow:
    journey_id: str
    profile_id: str
    entry_id: str
    node_id: str
    node_entered_at: datetime
    status: str
    ab_group: str | None
    entry_at: datetime
    version: str
    """The version the path is on: the one of its latest record."""
    path_id: str
    """One row per path: the entry's own, and one per further branch an `all_matches` split took."""


@dataclass(frozen=True)
class Message:
    message_id: str
    journey_id: str
    node_id: str
    entry_id: str | None
    """None only for an ab_race's operator notice, which belongs to no entry."""
    profile_id: str | None
    recipient_id: str | None
    channel: str
    template: str
    priority: int
    not_before: datetime | None
    created_at: datetime
    status: str
    """`queued`, or `suppressed` when the tick suppressed it (then `suppressed_by` says why), or the latest
    outcome in `message_events`."""
    suppressed_by: str | None
    ab_group: str | None
    cap_exempt: bool = field(default=False, compare=False)
    """The recipient is in the cap-whitelist segment (judged when the message is created)."""
    tick_at: datetime | None = field(default=None, compare=False)
    """The tick that created the message (left out of comparisons: it depends on the cadence)."""


@dataclass(frozen=True)
class TagRow:
    profile_id: str
    tag: str
    journey_id: str
    tagged_at: datetime
    removed: bool
    entry_id: str
    path_id: str


@dataclass(frozen=True)
class GoalRow:
    journey_id: str
    entry_id: str
    profile_id: str
    goal_id: str
    completed_at: datetime


@dataclass
class ReferenceOutput:
    transitions: list[Transition] = field(default_factory=list)
    state: list[StateRow] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    tags: list[TagRow] = field(default_factory=list)
    goals: list[GoalRow] = field(default_factory=list)
