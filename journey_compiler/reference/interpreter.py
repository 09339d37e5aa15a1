"""The reference interpreter: the tick semantics of spec section 3, one profile at a time, in plain Python.

It is the yardstick the SQL tick is measured against, so it favours clarity over speed and shares nothing
with the SQL code path (no `sqlgen`, `ir`, `render`, `runtime`, dbt or DuckDB): only the typed config and the
filter parser.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from journey_compiler.config.project import Project
from journey_compiler.reference.facts import TickFacts, WorldIndex
from journey_compiler.reference.journeys import JourneyRun
from journey_compiler.reference.world import (
    Message,
    MessageEvent,
    ReferenceOutput,
    StateRow,
    TagRow,
    World,
)


def interpret(
    project: Project,
    world: World,
    ticks: Sequence[datetime],
    edits: Mapping[datetime, Project] | None = None,
) -> ReferenceOutput:
    """Run every journey of the project over the world, tick by tick (naive UTC times, in order).

    README: "Re-running a tick that was applied changes nothing. Ticks only move forward: a tick earlier
    than the last one applied is refused." `edits` (tick -> the project from that tick on) edits journeys
    in flight; an edit keeps the set of journeys and their ids (a journey added or removed is not modelled).
    """
    for earlier, later in zip(ticks, ticks[1:], strict=False):
        if later < earlier:
            raise ValueError(f"ticks must not go back in time: {later} comes after {earlier}")
    out = ReferenceOutput()
    index = WorldIndex(project, world)
    runs = [
        JourneyRun(project, journey, out, schedule_start=ticks[0])
        for _, journey in sorted(project.journeys.items())
        if ticks
    ]
    profile_ids = sorted(set(index.profiles) | set(index.events))
    published: dict[str, list[TagRow]] = defaultdict(list)
    for tick_at in dict.fromkeys(ticks):
        if edits and tick_at in edits:
            project = edits[tick_at]
            index = WorldIndex(project, world)
            for run in runs:
                if project.journeys[run.journey.id].version != run.journey.version:
                    run.edit(project, project.journeys[run.journey.id])
        facts = TickFacts(index, tick_at, published)
        written = len(out.tags)
        for run in runs:
            run.tick(facts, profile_ids)
        # spec section 2: a tag "visible to segments from the next tick". Published in the order that
        # decides between writes at one instant (docs/semantics.md): by journey id, then entry id, then path
        # id, then the order one path wrote them (the sort is stable).
        for tag in sorted(out.tags[written:], key=lambda t: (t.journey_id, t.entry_id, t.path_id)):
            published[tag.profile_id].append(tag)
    out.state = [
        StateRow(
            journey_id=run.journey.id,
            profile_id=entry.profile_id,
            entry_id=entry.entry_id,
            node_id=entry.node,
            node_entered_at=entry.node_at,
            status=entry.status,
            ab_group=entry.ab_group,
            entry_at=entry.entry_at,
            version=entry.version,
            path_id=entry.path_id,
        )
        for run in runs
        for entries in run.entries.values()
        for entry in entries
    ]
    out.messages = [_with_outcome(m, index.message_events.get(m.message_id, [])) for m in out.messages]
    return out


def _with_outcome(message: Message, statuses: list[MessageEvent]) -> Message:
    """The send queue's status: "the latest `message_events` status when there is one" (`statuses` are in
    the order they happened)."""
    return replace(message, status=statuses[-1].status) if statuses else message
