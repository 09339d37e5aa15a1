"""The compiler's intermediate form: a journey resolved against the catalog, nodes in topological order."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from graphlib import TopologicalSorter
from typing import TypeVar

from journey_compiler.config import journey as cfg
from journey_compiler.config.project import Project
from journey_compiler.config.rules import DetailCondition, EventCondition, Rule
from journey_compiler.config.warehouse import ColumnType


@dataclass(frozen=True)
class EventMatch:
    """Any of `names`, the `times`-th occurrence, filtered by `where` over the properties they share."""

    names: tuple[str, ...]
    times: int
    where: str | None
    properties: Mapping[str, ColumnType]


@dataclass(frozen=True)
class EventAnswer:
    """A branch's event rule: `parts` met (their `times`-th occurrence) all or any of them; with `absent`
    (`did_not`), the rule holds when the window closes with all (any) of the parts unmet."""

    parts: tuple[EventMatch, ...]
    match: str = "any"
    absent: bool = False


N = TypeVar("N")


@dataclass(frozen=True)
class Step:
    id: str
    kind: str
    node: cfg.AnyNode
    successors: Mapping[str, str]
    events: Mapping[str, EventAnswer]
    """Event rules of the node by branch, resolved against the catalog (e.g. `did` of an event_check)."""

    def node_as(self, kind: type[N]) -> N:
        """The config node as the type its handler expects (the handler registry guarantees it)."""
        assert isinstance(self.node, kind), (self.id, type(self.node))
        return self.node


@dataclass(frozen=True)
class EntryPlan:
    match: EventMatch | None
    mode: str
    """`cumulative` / `every` (event trigger), `each_of` (event trigger: `each`, combined by `each_match`),
    `without` (event_without: `match`, then not `absent`), `schedule` (schedule_recurring: the audience
    enters at each recorded occurrence), `once` (schedule_once) or `segment` (profiles that newly satisfy
    `segment`)."""
    count: int
    starts_at: datetime
    ends_at: datetime | None
    audience: tuple[Rule, ...]
    frequency_max: int | None
    frequency_per: timedelta | None
    reentry: bool
    absent: EventMatch | None = None
    absent_within: timedelta | None = None
    segment: Rule | None = None
    """The `segment` trigger's segment: profiles enter when it turns true (segment_trigger.py)."""
    absent_by: time | None = None
    """event_without `by:`: the window closes at this local time on the local day of `match`."""
    timezone: str = "UTC"
    """The journey's timezone: local rules of a profile without one (`by:`)."""
    once_at: datetime | None = None
    """schedule_once: the planned time; the audience enters then if approved by it (else per `late`)."""
    run_when_approved: bool = False
    each: tuple[EventMatch, ...] = ()
    """each_of: the conditions, each its own `times`; the profile enters once, when all (any) are met."""
    each_match: str = "all"

    @property
    def entry_delay(self) -> timedelta | None:
        """How long after its event an `event_without` candidate may enter at most (a local day lasts at
        most 25 hours)."""
        if self.absent_by is not None:
            return timedelta(hours=25)
        return self.absent_within

    @property
    def once(self) -> bool:
        """The trigger enters a profile once (`cumulative`, `each_of`), not at every occurrence."""
        return self.mode in ("cumulative", "each_of")


@dataclass(frozen=True)
class ExitPlan:
    match: EventMatch | None
    within: timedelta | None
    """Spec section 2: a condition's window runs `within` after entering (None: for as long as the path
    lasts)."""
    rule: Rule | None = None
    """A condition on the profile's state (segment, attribute, tag), instead of an event."""
    detail: DetailCondition | None = None
    """A detail goal with `exit_on_goal`: its count or sum reaching the threshold."""
    reason: str = "exit_when"
    """`goal` for the goals of a journey with `exit_on_goal: true`."""


@dataclass(frozen=True)
class GoalPlan:
    id: str
    match: EventMatch | None
    """An event goal; else `detail` (a count or sum over a detail table reaching its threshold)."""
    within: timedelta
    detail: DetailCondition | None = None


@dataclass(frozen=True)
class JourneyPlan:
    id: str
    name: str
    version: str
    priority: int
    active_from: datetime
    active_until: datetime | None
    entry: EntryPlan
    exits: tuple[ExitPlan, ...]
    goals: tuple[GoalPlan, ...]
    start: str
    steps: tuple[Step, ...]
    timezone: str
    quiet_hours: cfg.QuietHours | None
    holdout_percent: float | None = None
    """The share of entries whose messages are all suppressed (`holdout`), if the journey has a holdout."""

    def step(self, node_id: str) -> Step:
        return next(s for s in self.steps if s.id == node_id)

    def predecessors(self, node_id: str) -> list[tuple[str, str]]:
        """(node, branch) pairs leading into `node_id`, in topological order."""
        return [(s.id, b) for s in self.steps for b, target in s.successors.items() if target == node_id]


def naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


def lower(journey: cfg.Journey, project: Project) -> JourneyPlan:
    """Resolve a validated journey into a plan (every feature of the language compiles)."""

    def match(condition: EventCondition, times: int | None = None) -> EventMatch:
        declared = project.warehouse.events
        shared = set.intersection(*(set(declared[n]) for n in condition.names))
        properties = {k: v for k, v in declared[condition.names[0]].items() if k in shared}
        return EventMatch(condition.names, times or condition.times, condition.where, properties)

    entry = journey.entry
    trigger = entry.event
    audience = [Rule(where=entry.where)] if entry.where else []
    if entry.audience is not None:
        audience.append(entry.audience)
    active_from = naive_utc(journey.active.from_)
    starts_at = max(active_from, naive_utc(trigger.from_)) if trigger and trigger.from_ else active_from
    ends = [naive_utc(t) for t in (journey.active.until, trigger.until if trigger else None) if t is not None]
    common = dict(
        starts_at=starts_at,
        ends_at=min(ends) if ends else None,
        audience=tuple(audience),
        frequency_max=entry.frequency.max if entry.frequency else None,
        frequency_per=entry.frequency.per if entry.frequency else None,
        reentry=entry.reentry,
    )
    if entry.schedule_recurring is not None:
        entry_plan = EntryPlan(match=None, mode="schedule", count=1, **common)  # type: ignore[arg-type]
    elif entry.segment is not None:
        segment = Rule(segment=entry.segment)
        entry_plan = EntryPlan(match=None, mode="segment", count=1, segment=segment, **common)  # type: ignore[arg-type]
    elif entry.schedule_once is not None:
        once = entry.schedule_once
        entry_plan = EntryPlan(
            match=None,
            mode="once",
            count=1,
            once_at=naive_utc(once.at),  # type: ignore[arg-type]
            run_when_approved=once.on_late_approval == "run_when_approved",
            **common,
        )
    elif trigger is not None and trigger.mode == "each_of":
        assert trigger.each is not None
        entry_plan = EntryPlan(
            match=None,
            mode="each_of",
            count=1,
            each=tuple(match(c) for c in trigger.each),
            each_match=trigger.match,
            **common,
        )  # type: ignore[arg-type]
    elif trigger is not None:
        assert trigger.did is not None
        entry_plan = EntryPlan(
            match=match(trigger.did, trigger.count), mode=trigger.mode, count=trigger.count, **common
        )  # type: ignore[arg-type]
    else:
        without = entry.event_without
        assert without is not None
        entry_plan = EntryPlan(
            match=match(without.did, 1),
            mode="without",
            count=1,
            absent=match(without.then_not),
            absent_within=without.within,
            absent_by=without.by,
            timezone=journey.timezone,
            **common,
        )  # type: ignore[arg-type]

    exits = [
        ExitPlan(match(rule.did), rule.did.within)
        if rule.did is not None
        else ExitPlan(None, None, rule=rule)
        for rule in journey.exit_when
    ]
    goals = []
    for goal in journey.goals:
        goals.append(GoalPlan(goal.id, match(goal.did) if goal.did else None, goal.within, goal.detail))
    if journey.exit_on_goal:
        exits += [ExitPlan(g.match, g.within, detail=g.detail, reason="goal") for g in goals]

    steps = []
    graph = {node_id: set() for node_id in journey.nodes}
    for node_id, node in journey.nodes.items():
        for target in node.successors().values():
            graph[target].add(node_id)
    for node_id in TopologicalSorter(graph).static_order():
        node = journey.nodes[node_id]
        kind = cfg.kind_of(node)
        steps.append(Step(node_id, kind, node, dict(node.successors()), _node_events(node, match)))

    return JourneyPlan(
        id=journey.id,
        name=journey.name or journey.id,
        version=journey.version,
        priority=journey.priority,
        active_from=active_from,
        active_until=naive_utc(journey.active.until) if journey.active.until else None,
        entry=entry_plan,
        exits=tuple(exits),
        goals=tuple(goals),
        start=journey.start_node,
        steps=tuple(steps),
        timezone=journey.timezone,
        quiet_hours=journey.quiet_hours,
        holdout_percent=journey.holdout.percent if journey.holdout else None,
    )


def _node_events(node: object, match: Callable[[EventCondition], EventMatch]) -> dict[str, EventAnswer]:
    """Branch name -> the event rule that takes it, for the nodes that wait for events."""
    if isinstance(node, cfg.EventCheckNode):
        return {"then": _answer(node.event_check, match)}
    if isinstance(node, cfg.WaitForEventNode):
        return {"happened": EventAnswer((match(node.wait_for_event),))}
    if isinstance(node, cfg.EventSplitNode):
        return {f"branch_{i + 1}": _answer(b, match) for i, b in enumerate(node.event_split.branches)}
    return {}


def _answer(rule: cfg.EventRule, match: Callable[[EventCondition], EventMatch]) -> EventAnswer:
    """`did_not` counts each listed event on its own, as `did_each` counts each condition."""
    if rule.did is not None:
        return EventAnswer((match(rule.did),))
    if rule.did_each is not None:
        return EventAnswer(tuple(match(c) for c in rule.did_each), rule.match)
    assert rule.did_not is not None
    each = [rule.did_not.model_copy(update={"event": name, "events": None}) for name in rule.did_not.names]
    return EventAnswer(tuple(match(c) for c in each), rule.match, absent=True)
