"""What one tick sees of the world: events, tags, detail rows, operator controls and message outcomes.

Spec section 3: "A tick has a time `T`. It sees events with `event_time <= T` and every event loaded since the
previous tick, however late its `event_time`." Spec section 1: `raw.events` "may repeat an `event_id`
(duplicate deliveries: count once)"; README: "Duplicate `event_id`s keep their first load" (ties broken by
event time, profile and name). In a world every row is present from its `loaded_at`, so the README's
watermark (`min(T, newest loaded_at)`) admits exactly the rows loaded by `T`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from journey_compiler.config.project import Project
from journey_compiler.config.rules import EventCondition
from journey_compiler.reference.filters import passes, typed_row
from journey_compiler.reference.world import (
    Control,
    Event,
    MessageEvent,
    Profile,
    TagRow,
    World,
)

OUTCOMES = ("sent", "failed", "suppressed")
"""The statuses a send's outcome branches (`on_sent`, `on_failed`, `on_suppressed`) follow."""
READ_AS = {"expired": "failed"}
"""Statuses a journey branches on as another one: a message that expired unsent (the channel's
`expire_after` passed) failed to go out (docs/semantics.md, "An expired message failed")."""
LIFECYCLE = ("sending", "sent", "delivered", "read", "clicked", "failed", "suppressed")
"""A message's statuses in the order they happen; two recorded at one instant count in this order (README:
`sending` is written before the provider call, with the same time as its outcome)."""


def status_order(status: MessageEvent) -> tuple[datetime, int]:
    rank = LIFECYCLE.index(status.status) if status.status in LIFECYCLE else len(LIFECYCLE)
    return status.status_at, rank


def _first_loads(events: Iterable[Event]) -> list[Event]:
    first: dict[str, Event] = {}
    for event in sorted(events, key=lambda e: (e.loaded, e.event_time, e.profile_id, e.event_name)):
        first.setdefault(event.event_id, event)
    return list(first.values())


@dataclass
class WorldIndex:
    """The world's rows, indexed once for per-profile lookups."""

    project: Project
    world: World
    profiles: dict[str, Profile] = field(init=False)
    events: dict[str, list[Event]] = field(init=False)
    """profile -> its events (first load of each event id), by event time then id."""
    raw_tags: dict[str, list[tuple[str, datetime]]] = field(init=False)
    relations: dict[tuple[str, str], list[str]] = field(init=False)
    details: dict[tuple[str, str], list[tuple[datetime, dict[str, Any]]]] = field(init=False)
    message_events: dict[str, list[MessageEvent]] = field(init=False)
    controls: dict[str, list[Control]] = field(init=False)

    def __post_init__(self) -> None:
        world, warehouse = self.world, self.project.warehouse
        self.profiles = {p.profile_id: p for p in world.profiles}
        self.events = defaultdict(list)
        for event in sorted(_first_loads(world.events), key=lambda e: (e.event_time, e.event_id)):
            self.events[event.profile_id].append(event)
        self.raw_tags = defaultdict(list)
        for tag in world.profile_tags:
            self.raw_tags[tag.profile_id].append((tag.tag, tag.tagged_at))
        self.relations = defaultdict(list)
        for relation in world.relations:
            self.relations[(relation.from_id, relation.relation)].append(relation.to_id)
        self.details = defaultdict(list)
        for name, table in warehouse.details.items():
            columns = {**table.columns}
            for row in world.details.get(name, []):
                at, owner = row.get(table.time), row.get(table.profile)
                if at is None or owner is None:
                    continue
                values = typed_row(row, columns)
                values[table.time], values[table.profile] = at, owner
                self.details[(name, str(owner))].append((at, values))
        for rows in self.details.values():
            rows.sort(key=lambda r: r[0])
        self.message_events = defaultdict(list)
        for status in sorted(world.message_events, key=status_order):
            self.message_events[status.message_id].append(status)
        self.controls = defaultdict(list)
        for control in sorted(world.controls, key=lambda c: c.effective_at):
            self.controls[control.journey_id].append(control)

    def related(self, profile_id: str, relation: str) -> list[str]:
        """Spec section 2 (subject conversion through `raw.relations`): the related profiles, by id."""
        return sorted(set(self.relations.get((profile_id, relation), [])))


@dataclass
class TickFacts:
    """The world as tick `tick_at` sees it, plus the journey tags published by the ticks before it."""

    index: WorldIndex
    tick_at: datetime
    published_tags: dict[str, list[TagRow]]
    _visible: dict[str, list[Event]] = field(default_factory=dict)
    _typed: dict[tuple[str, tuple[str, ...]], dict[str, Any]] = field(default_factory=dict)

    def events(self, profile_id: str) -> list[Event]:
        """The profile's events this tick sees: loaded by T and happened by T."""
        if profile_id not in self._visible:
            self._visible[profile_id] = [
                e
                for e in self.index.events.get(profile_id, [])
                if e.loaded <= self.tick_at and e.event_time <= self.tick_at
            ]
        return self._visible[profile_id]

    def matches(self, event: Event, condition: EventCondition) -> bool:
        """Spec section 2: `event:` (one name) or `events:` (any of them), with `where:` on the properties
        the named events declare (all of them: a filter may only name what they share)."""
        names = condition.names
        if event.event_name not in names:
            return False
        if condition.where is None:
            return True
        key = (event.event_id, names)
        if key not in self._typed:
            declared = self.index.project.warehouse.events
            shared = {k: v for k, v in declared[names[0]].items() if all(k in declared[n] for n in names)}
            self._typed[key] = typed_row(event.properties, shared)
        return passes(condition.where, self._typed[key])

    def matching(
        self,
        profile_id: str,
        condition: EventCondition,
        lower: datetime | None,
        upper: datetime,
        exclude: str | None = None,
    ) -> list[Event]:
        """Matching events with `lower <= event_time <= upper` (both ends inside), except `exclude`."""
        return [
            e
            for e in self.events(profile_id)
            if (lower is None or e.event_time >= lower)
            and e.event_time <= upper
            and e.event_id != exclude
            and self.matches(e, condition)
        ]

    def nth_time(
        self,
        profile_id: str,
        condition: EventCondition,
        lower: datetime,
        upper: datetime,
        exclude: str | None,
        times: int | None = None,
    ) -> datetime | None:
        """When the `times`-th matching event in the window happened (default: the condition's `times`)."""
        found = self.matching(profile_id, condition, lower, upper, exclude)
        n = times or condition.times
        return found[n - 1].event_time if len(found) >= n else None

    def has_tag(self, profile_id: str, tag: str, at: datetime) -> bool:
        """Is the tag on the profile at `at`? Other systems' tags (`raw.profile_tags`) count from `tagged_at`;
        spec section 2: a journey's `add_tag` / `remove_tag` is "visible to segments from the next tick"
        (published tags only). The latest record at or before `at` decides; records at one instant count in
        the order they were written (an add then a remove on one path: not tagged)."""
        raw = [
            (tagged_at, -1, False)
            for name, tagged_at in self.index.raw_tags.get(profile_id, [])
            if name == tag
        ]
        published = [
            (row.tagged_at, i, row.removed)
            for i, row in enumerate(self.published_tags.get(profile_id, []))
            if row.tag == tag
        ]
        known = [record for record in raw + published if record[0] <= at]
        return bool(known) and not max(known)[2]

    def statuses(self, message_id: str) -> list[MessageEvent]:
        """The outcomes the senders recorded for a message by this tick."""
        return [s for s in self.index.message_events.get(message_id, []) if s.status_at <= self.tick_at]

    def first_control(self, journey_id: str, action: str) -> Control | None:
        """The first operator decision of a kind in effect by this tick ("the first pick counts")."""
        return next(
            (
                c
                for c in self.index.controls.get(journey_id, [])
                if c.action == action and c.effective_at <= self.tick_at
            ),
            None,
        )
