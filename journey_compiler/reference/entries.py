"""Triggers: the moments a profile may enter a journey, before the entry rules judge them.

Spec section 2 (Triggers): "`schedule_once`: at a time, the audience enters. Needs approval: if not approved
by the time, the policy `on_late_approval: cancel | run_when_approved` applies; unapproved after 72 h it is
cancelled either way. `schedule_recurring`: a cron ... until the end time; the audience enters at each
occurrence. `event`: doing event A (with property filter) between the trigger's start and end. Counting
modes: `cumulative` (the N-th time in total: enters once), `every` (each N-th time: enters again each
time), `each_of` (several events, each with its own count, combined with `all`/`any`: enters once).
`event_without`: did A, then did not do B within a window after A (or by a local time on the day of A);
the profile enters when the window closes without B."
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from journey_compiler.config import journey as j
from journey_compiler.config.project import Project
from journey_compiler.config.rules import Rule
from journey_compiler.reference.clock import to_local, to_utc
from journey_compiler.reference.facts import TickFacts
from journey_compiler.reference.ids import trigger_key
from journey_compiler.reference.segments import change_points, holds
from journey_compiler.reference.world import Event

LATE_APPROVAL_LIMIT = timedelta(hours=72)


def utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Candidate:
    """A moment the profile may enter: its logical time, what makes the entry id, the triggering event."""

    at: datetime
    key: str
    trigger: Event | None = None


@dataclass(frozen=True)
class EntryWindow:
    """Entries happen in [starts_at, ends_at): the active window cut by the trigger's own `from`/`until`."""

    starts_at: datetime
    ends_at: datetime | None

    @classmethod
    def of(cls, journey: j.Journey) -> EntryWindow:
        trigger = journey.entry.event
        schedule = journey.entry.schedule_recurring
        starts = [utc(journey.active.from_)]
        ends = [utc(journey.active.until)] if journey.active.until else []
        if trigger is not None and trigger.from_ is not None:
            starts.append(utc(trigger.from_))
        for until in (trigger.until if trigger else None, schedule.until if schedule else None):
            if until is not None:
                ends.append(utc(until))
        return cls(max(starts), min(ends) if ends else None)

    def admits(self, at: datetime) -> bool:
        return at >= self.starts_at and (self.ends_at is None or at < self.ends_at)


def event_candidates(
    journey: j.Journey, window: EntryWindow, profile_id: str, facts: TickFacts, horizon: datetime
) -> list[Candidate]:
    """The triggering events this tick sees, with the logical time each would enter at."""
    entry = journey.entry
    if entry.event is not None and entry.event.mode == "each_of":
        return each_of_candidates(entry.event, window, profile_id, facts)
    if entry.event is not None:
        trigger = entry.event
        assert trigger.did is not None
        matching = [
            e
            for e in facts.events(profile_id)
            if window.admits(e.event_time) and facts.matches(e, trigger.did)
        ]
        n = trigger.count
        chosen = (
            matching[n - 1 : n] if trigger.mode == "cumulative" else matching[n - 1 :: n]
        )  # the N-th, or every N-th
        return [Candidate(e.event_time, trigger_key(e.event_id), e) for e in chosen]
    without = entry.event_without
    assert without is not None
    found = []
    for event in facts.events(profile_id):
        if not (window.admits(event.event_time) and facts.matches(event, without.did)):
            continue
        closes = window_close(without, event.event_time, facts, profile_id, journey.timezone)
        if closes is None or closes > horizon:
            continue
        # "did not do B within a window after A" (B `times` times; B at A's instant or at the close counts)
        others = facts.matching(profile_id, without.then_not, event.event_time, closes, event.event_id)
        if len(others) < without.then_not.times:
            found.append(Candidate(closes, trigger_key(event.event_id), event))
    return found


def window_close(
    without: j.EventWithoutTrigger, at: datetime, facts: TickFacts, profile_id: str, timezone: str
) -> datetime | None:
    """Spec: "did not do B within a window after A (or by a local time on the day of A)": `within` after A,
    or the `by` local time on A's local day, in the profile's timezone, else the journey's (spec section 1).
    An A after that time has no window that day: it opens none (docs/semantics.md)."""
    if without.within is not None:
        return at + without.within
    assert without.by is not None
    profile = facts.index.profiles.get(profile_id)
    zone = (profile.timezone if profile else None) or timezone
    closes = to_utc(datetime.combine(to_local(at, zone).date(), without.by), zone)
    return closes if closes >= at else None


def each_of_candidates(
    trigger: j.EventTrigger, window: EntryWindow, profile_id: str, facts: TickFacts
) -> list[Candidate]:
    """Spec: "`each_of` (several events, each with its own count, combined with `all`/`any`: enters once)":
    the one candidate is the event that meets the last of the conditions (`all`) or the first (`any`),
    each met by its `times`-th matching event in the trigger's window (ties: by event id)."""
    assert trigger.each is not None
    met = []
    for condition in trigger.each:
        matching = [
            e for e in facts.events(profile_id) if window.admits(e.event_time) and facts.matches(e, condition)
        ]
        if len(matching) >= condition.times:
            met.append(matching[condition.times - 1])
    if not met or (trigger.match == "all" and len(met) < len(trigger.each)):
        return []
    order = [(e.event_time, e.event_id, e) for e in met]
    _, _, event = (
        max(order, key=lambda o: o[:2]) if trigger.match == "all" else min(order, key=lambda o: o[:2])
    )
    return [Candidate(event.event_time, trigger_key(event.event_id), event)]


def cron_occurrences(journey: j.Journey, start: datetime, end: datetime) -> list[datetime]:
    """Occurrences (naive UTC) of the journey's cron in [start, end], evaluated in the journey's timezone
    (README: "the cron runs in the journey's timezone"), so daylight saving moves them in UTC."""
    schedule = journey.entry.schedule_recurring
    assert schedule is not None
    local = (start - timedelta(seconds=1)).replace(tzinfo=UTC).astimezone(ZoneInfo(journey.timezone))
    cursor = croniter(schedule.cron, local)
    found = []
    while (moment := utc(cursor.get_next(datetime))) <= end:
        found.append(moment)
    return found


def once_occurrence(journey: j.Journey, facts: TickFacts) -> datetime | None:
    """When a `schedule_once` journey runs, given the approvals in effect by this tick: its time if approved
    by then; else with `run_when_approved` the approval's time if within 72 h; else never."""
    once = journey.entry.schedule_once
    assert once is not None
    planned = utc(once.at)
    approval = facts.first_control(journey.id, "approve")
    if approval is None:
        return None
    if approval.effective_at <= planned:
        return planned
    late = approval.effective_at - planned
    if once.on_late_approval == "run_when_approved" and late <= LATE_APPROVAL_LIMIT:
        return approval.effective_at
    return None


def segment_candidates(
    project: Project,
    journey: j.Journey,
    window: EntryWindow,
    profile_id: str,
    facts: TickFacts,
    horizon: datetime,
    since: datetime | None,
    was_member: bool,
) -> tuple[list[Candidate], bool]:
    """Spec: "`segment`: profiles that newly satisfy a segment ... enter" (docs/semantics.md, "The segment
    trigger"): asked at the start of what this tick decides (the previous tick `since`, or the journey's
    start) and at every instant after it where what the segment reads changes; each instant where it holds
    and did not just before (before the start: `was_member`, as the previous tick left it) is a candidate.
    One at the start itself is a change nothing dates (an attribute): it enters at the horizon, unless the
    start is the journey's own. Returns the candidates and the membership at the horizon."""
    assert journey.entry.segment is not None
    rule = Rule(segment=journey.entry.segment)
    start = max(since or window.starts_at, window.starts_at)
    if start > horizon:
        return [], was_member
    points = change_points(project, rule, profile_id, facts)
    found, member = [], was_member
    for at in [start, *sorted(t for t in points if start < t <= horizon)]:
        now = holds(project, rule, profile_id, at, facts)
        if now and not member:
            entry_at = horizon if at == start and at != window.starts_at else at
            if window.admits(entry_at):
                found.append(Candidate(entry_at, trigger_key(entry_at)))
        member = now
    return found, member
