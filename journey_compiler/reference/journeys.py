"""One journey over the ticks, one profile at a time.

Within a tick each profile's entries and its candidate entries are taken in logical-time order: whatever
is due earliest happens first (at one instant: moves of entries already inside, then new entries). Spec
section 3: "Every transition has a logical time: when it became due (the entry event's time, a wait's end, the
event that answered a check), not when the tick ran. Later waits count from the logical time. So the same
events give the same transitions, with the same logical times, whether ticks run every 5 minutes or every
hour."
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from journey_compiler.config import journey as j
from journey_compiler.config.project import Project
from journey_compiler.config.rules import Rule
from journey_compiler.reference.clock import in_quiet_hours
from journey_compiler.reference.entries import (
    Candidate,
    EntryWindow,
    cron_occurrences,
    event_candidates,
    once_occurrence,
    segment_candidates,
    utc,
)
from journey_compiler.reference.facts import OUTCOMES, READ_AS, TickFacts, status_order
from journey_compiler.reference.ids import entry_id, fork_id, race_notice_id, trigger_key
from journey_compiler.reference.lifecycle import STOPPED, Lifecycle
from journey_compiler.reference.nodes import KEEP, Move, NodeRules, follow, race_variant
from journey_compiler.reference.segments import change_points, detail_reached, holds
from journey_compiler.reference.sends import create_messages
from journey_compiler.reference.world import (
    Event,
    GoalRow,
    Message,
    MessageEvent,
    ReferenceOutput,
    TagRow,
    Transition,
)

RULES = NodeRules()
RELEASED = "released"
"""The reason of a pseudo-move: a send reached during a pause creates its messages at the resume."""
FORKED = "forked"
"""The reason of a fork's first transition: it starts at the `all_matches` split that made it."""
REMOVED = "node_removed"
"""Spec section 3: "a profile on a removed node leaves with reason `node_removed`" (at the first tick of the
version that removed it; an exit or a stop seen by that tick and due earlier wins, as it would anyway)."""


@dataclass
class Entry:
    """One path of a profile's entry: where it is, since when (the logical time of its latest transition).
    An entry has one path unless an `all_matches` split forks it (`path_id`: the entry's id, or a fork's)."""

    entry_id: str
    profile_id: str
    entry_at: datetime
    trigger: Event | None
    node: str
    node_at: datetime
    status: str = "active"
    ab_group: str | None = None
    goals_done: set[str] = field(default_factory=set)
    held_send: bool = False
    """At a send reached during a pause, its messages not created yet."""
    version: str = ""
    """The journey version of its latest record."""
    admitted_tick: datetime | None = None
    """The tick that admitted it (a rule on the profile's state is looked at from there on)."""
    path_id: str = ""

    def __post_init__(self) -> None:
        self.path_id = self.path_id or self.entry_id

    @property
    def forked(self) -> bool:
        """A fork, not the entry's own path (which alone counts the entry's goals)."""
        return self.path_id != self.entry_id

    @property
    def trigger_id(self) -> str | None:
        return self.trigger.event_id if self.trigger else None

    def inside_at(self, at: datetime) -> bool:
        """Was the entry inside the journey at `at` (a path that ended at `at` is no longer inside)?"""
        return self.entry_at <= at and (self.status == "active" or self.node_at > at)


@dataclass
class ProfileTick:
    """One journey, one profile, one tick: what the node rules need."""

    run: JourneyRun
    facts: TickFacts
    horizon: datetime
    profile_id: str

    @property
    def journey(self) -> j.Journey:
        return self.run.journey

    @property
    def project(self) -> Project:
        return self.run.project

    @property
    def timezone(self) -> str:
        """Spec section 1: the profile's `timezone`, else the journey's."""
        profile = self.facts.index.profiles.get(self.profile_id)
        return (profile.timezone if profile else None) or self.journey.timezone


@dataclass
class JourneyRun:
    project: Project
    journey: j.Journey
    out: ReferenceOutput
    schedule_start: datetime
    """README: "A schedule starts at the first tick that runs its journey: it does not replay occurrences from
    before"."""
    entries: dict[str, list[Entry]] = field(default_factory=dict)
    messages: dict[tuple[str, str], list[Message]] = field(default_factory=dict)
    judged_until: datetime | None = None
    """Schedule occurrences up to here were judged (README: "Each occurrence's audience is evaluated
    once")."""
    previous_tick: datetime | None = None
    notified: bool = False
    members: dict[str, bool] = field(default_factory=dict)
    """The `segment` trigger: each profile's membership at the previous tick's horizon."""
    race_arrivals: list[tuple[datetime, str]] = field(default_factory=list)
    """(logical time, entry id) of every arrival at the journey's ab_race."""
    window: EntryWindow = field(init=False)
    life: Lifecycle = field(default_factory=lambda: Lifecycle((), None))

    def __post_init__(self) -> None:
        self.window = EntryWindow.of(self.journey)

    def horizon(self, tick_at: datetime) -> datetime:
        """Spec section 2: "after the end the journey is ended and nothing in it moves"."""
        until = self.journey.active.until
        return min(tick_at, utc(until)) if until is not None else tick_at

    # ---------------------------------------------------------------- the tick

    def tick(self, facts: TickFacts, profile_ids: list[str]) -> None:
        horizon = self.horizon(facts.tick_at)
        self.life = Lifecycle.of(facts.index.controls.get(self.journey.id, []))
        occurrences = self.planned(facts, horizon)
        for profile_id in profile_ids:
            self.advance(ProfileTick(self, facts, horizon, profile_id), occurrences)
        if occurrences is not None:
            self.judged_until = max(self.judged_until or horizon, horizon)
        self.previous_tick = facts.tick_at
        for entries in self.entries.values():
            for entry in entries:
                self.goals(facts, entry)
        self.race_notice(facts, horizon)

    def planned(self, facts: TickFacts, horizon: datetime) -> list[datetime] | None:
        """Schedule occurrences this tick judges (None: the journey is not scheduled)."""
        entry = self.journey.entry
        if entry.schedule_recurring is not None:
            start = max(self.schedule_start, self.window.starts_at)
            found = cron_occurrences(self.journey, start, horizon)
        elif entry.schedule_once is not None:
            once = once_occurrence(self.journey, facts)
            found = [once] if once is not None and once <= horizon else []
        else:
            return None
        return [
            at
            for at in found
            if self.window.admits(at) and (self.judged_until is None or at > self.judged_until)
        ]

    def candidates(self, step: ProfileTick, occurrences: list[datetime] | None) -> list[Candidate]:
        if self.journey.entry.segment is not None:
            found = []
            if step.profile_id in step.facts.index.profiles:
                was = self.members.get(step.profile_id, False)
                found, self.members[step.profile_id] = segment_candidates(
                    self.project,
                    self.journey,
                    self.window,
                    step.profile_id,
                    step.facts,
                    step.horizon,
                    self.previous_tick,
                    was,
                )
        elif occurrences is None:
            found = event_candidates(self.journey, self.window, step.profile_id, step.facts, step.horizon)
            found = [c for c in found if self.judged_now(step, c)]
        elif step.profile_id in step.facts.index.profiles:
            found = [Candidate(at, trigger_key(at)) for at in occurrences]
        else:
            found = []
        known = {e.entry_id for e in self.entries.get(step.profile_id, [])}
        return sorted(
            (c for c in found if entry_id(self.journey.id, step.profile_id, c.key) not in known),
            key=lambda c: (c.at, c.key),
        )

    def judged_now(self, step: ProfileTick, candidate: Candidate) -> bool:
        """docs/semantics.md, "When a trigger is judged": by the first tick that sees it, and again by a tick
        that brings an event at or before its time (a late event may change the verdict); not when only
        attributes or tags changed."""
        before = self.previous_tick
        if before is None or candidate.at > before:
            return True
        return any(
            e.event_time <= candidate.at
            for e in step.facts.events(step.profile_id)
            if e.loaded > before or e.event_time > before
        )

    def advance(self, step: ProfileTick, occurrences: list[datetime] | None) -> None:
        """Move the profile's entries and admit its new ones, earliest first, up to the horizon."""
        pending = self.candidates(step, occurrences)
        entries = self.entries.setdefault(step.profile_id, [])
        while True:
            due = [(move.at, i, move) for i, e in enumerate(entries) if (move := self.next_move(step, e))]
            first = min(due, key=lambda d: d[:2]) if due else None
            if first is not None and (not pending or first[0] <= pending[0].at):
                self.apply(step, entries[first[1]], first[2])
            elif pending:
                self.judge(step, pending.pop(0))
            else:
                return

    # ---------------------------------------------------------------- entries

    def judge(self, step: ProfileTick, candidate: Candidate) -> None:
        """The entry rules at the candidate's logical time; admit it or let it go."""
        journey, entry, at = self.journey, self.journey.entry, candidate.at
        entries = self.entries[step.profile_id]
        if entry.event is not None and entry.event.mode in ("cumulative", "each_of") and entries:
            return  # "the N-th time in total: enters once"; each_of "enters once"
        if not self.life.admits(at):
            return  # spec: while paused "no new profile ... enters"; "Stopping ... moves nobody again"
        if journey.quiet_hours and in_quiet_hours(at, step.timezone, journey.quiet_hours):
            return  # spec: "local window in which no profile may enter the journey"
        audience = [Rule(where=entry.where)] if entry.where else []
        audience += [entry.audience] if entry.audience else []
        if not all(holds(self.project, rule, step.profile_id, at, step.facts) for rule in audience):
            return
        if entry.frequency is not None:
            per = entry.frequency.per
            recent = [
                e
                for e in entries
                if not e.forked and e.entry_at <= at and (per is None or e.entry_at > at - per)
            ]
            if len(recent) >= entry.frequency.max:
                return  # "at most N entries per profile, optionally per period"
        if not entry.reentry and any(e.inside_at(at) for e in entries):
            return  # "may a profile enter again while still inside; default false"
        admitted = Entry(
            entry_id(journey.id, step.profile_id, candidate.key),
            step.profile_id,
            at,
            candidate.trigger,
            journey.start_node,
            at,
            admitted_tick=step.facts.tick_at,
        )
        entries.append(admitted)
        self.record(step, admitted, Move(at, None, journey.start_node, "entered"), from_node=None)
        self.arrive(step, admitted)

    def exit_time(self, step: ProfileTick, entry: Entry) -> tuple[datetime, str] | None:
        """Spec: "`exit_when`: conditions ... checked at every tick; a profile that meets one leaves at once,
        wherever it is, and nothing after runs for it": the first exit event after the entry (its `within`,
        if given, counts from the entry), or the first instant a rule on the profile's state holds; with
        `exit_on_goal`, "reaching a goal ends the path" too (reason `goal`; an `exit_when` wins a tie)."""
        found = []
        for rule in self.journey.exit_when:
            if rule.did is None:
                at = self.state_exit(step, entry, rule)
            else:
                upper = step.horizon
                if rule.did.within is not None:
                    upper = min(upper, entry.entry_at + rule.did.within)
                at = step.facts.nth_time(step.profile_id, rule.did, entry.entry_at, upper, entry.trigger_id)
            if at is not None:
                found.append((at, 0, "exit_when"))
        if self.journey.exit_on_goal:
            for goal in self.journey.goals:
                if (at := self.goal_time(step.facts, entry, goal, step.horizon)) is not None:
                    found.append((at, 1, "goal"))
        if not found:
            return None
        at, _, reason = min(found)
        return at, reason

    def state_exit(self, step: ProfileTick, entry: Entry, rule: Rule) -> datetime | None:
        """docs/semantics.md, "Exits on a segment or an attribute": asked at the start of what this tick
        decides (the entry, if this tick admitted it, else the previous tick) and at every instant after it
        where what the rule reads changes. Holding at the start: a new entry exits at once, an older one at
        the horizon (no event says when it changed); else at the first such instant where it holds."""
        new = entry.admitted_tick == step.facts.tick_at
        start = entry.entry_at if new or self.previous_tick is None else self.previous_tick

        def true_at(at: datetime) -> bool:
            return holds(self.project, rule, step.profile_id, at, step.facts, entry.entry_at)

        if start > step.horizon:
            return None  # the journey ended before this tick: nothing in it moves
        if true_at(start):
            return entry.entry_at if new else step.horizon
        points = change_points(self.project, rule, step.profile_id, step.facts)
        return next((t for t in sorted(points) if start < t <= step.horizon and true_at(t)), None)

    def next_move(self, step: ProfileTick, entry: Entry) -> Move | None:
        """The entry's next move due by the horizon. README: "Exits win ties: if an exit event and a move
        happen at the same instant, the profile exits"; an exit seen late leaves from where the entry is, at
        the exit's time or the arrival there, whichever is later."""
        if entry.status != "active":
            return None
        exit_at, reason = self.leaving(step, entry) or (None, "exit_when")
        if entry.node not in self.journey.nodes:  # an edit removed the node the path waits on
            if exit_at is not None:
                return Move(max(exit_at, entry.node_at), None, None, reason)
            return Move(step.facts.tick_at, None, None, REMOVED)
        if entry.held_send:
            sent_at = self.life.released(entry.node_at, step.horizon)
            move = None if sent_at is None else Move(sent_at, None, entry.node, RELEASED)
        else:
            move = RULES.leave(step, entry)
            if move is not None:
                # a move due during a pause happens at the resume
                at = self.life.released(move.at, step.horizon)
                move = None if at is None else replace(move, at=at)
        if exit_at is not None and (move is None or exit_at <= move.at):
            return Move(max(exit_at, entry.node_at), None, None, reason)
        return move if move is not None and move.at <= step.horizon else None

    def leaving(self, step: ProfileTick, entry: Entry) -> tuple[datetime, str] | None:
        """The exit or the stop due for the entry, and why; the stop wins a tie (docs/semantics.md)."""
        exit_at, reason = self.exit_time(step, entry) or (None, "exit_when")
        stop = self.life.stop_seen(step.horizon)
        if stop is not None and (exit_at is None or stop <= exit_at):
            exit_at, reason = stop, STOPPED
        return None if exit_at is None else (exit_at, reason)

    def edit(self, project: Project, journey: j.Journey) -> None:
        """Spec section 3, "Journey edits": from this tick on, paths in flight follow the new version's
        edges and rules (a path on a removed node leaves, `next_move`); its entry rules apply to new entries
        only. Every path still open is restated on the new version (`journey_state.version`)."""
        self.project, self.journey = project, journey
        self.window = EntryWindow.of(journey)
        for entries in self.entries.values():
            for entry in entries:
                if entry.status == "active" and entry.node in journey.nodes:
                    entry.version = journey.version

    def apply(self, step: ProfileTick, entry: Entry, move: Move) -> None:
        if move.reason == RELEASED:
            entry.held_send = False
            self.send(step, entry, move.at)
            return
        from_node = entry.node
        if move.ab_group is not KEEP:
            entry.ab_group = move.ab_group  # type: ignore[assignment]
        entry.node_at = move.at
        if move.ends_path:
            entry.status = "completed" if move.reason == "completed" else "exited"
        else:
            assert move.to_node is not None
            entry.node = move.to_node
        self.record(step, entry, move, from_node=from_node)
        if not move.ends_path:
            self.arrive(step, entry)
        for branch in move.forks:
            self.fork(step, entry, from_node, follow(self.journey.nodes[from_node], branch, move.at))

    def fork(self, step: ProfileTick, entry: Entry, split: str, move: Move) -> None:
        """A further branch of an `all_matches` split: a path of its own (docs/semantics.md, "all_matches"),
        which starts at the split as it leaves it (reason `forked`) and takes `move`'s branch from there. It
        carries the entry (its time, trigger, admission), so the entry's exits end it with the others."""
        child = replace(
            entry,
            path_id=fork_id(entry.path_id, split, move.branch or ""),
            node=split,
            node_at=move.at,
            goals_done=set(),
            held_send=False,
        )
        self.entries[entry.profile_id].append(child)
        self.record(step, child, Move(move.at, None, split, FORKED), from_node=None)
        self.apply(step, child, move)

    def record(self, step: ProfileTick, entry: Entry, move: Move, from_node: str | None) -> None:
        if move.to_node is not None and isinstance(self.journey.nodes[move.to_node], j.AbRaceNode):
            self.race_arrivals.append((move.at, entry.entry_id))
        entry.version = self.journey.version
        self.out.transitions.append(
            Transition(
                tick_at=step.facts.tick_at,
                logical_at=move.at,
                journey_id=self.journey.id,
                entry_id=entry.entry_id,
                profile_id=entry.profile_id,
                from_node=from_node,
                to_node=move.to_node,
                branch=move.branch,
                reason=move.reason,
                ab_group=entry.ab_group,
                version=entry.version,
                path_id=entry.path_id,
            )
        )

    def arrive(self, step: ProfileTick, entry: Entry) -> None:
        """What a node does when a profile reaches it: a send creates its messages, a tag node its tag."""
        node = self.journey.nodes[entry.node]
        exit = self.leaving(step, entry)
        if exit is not None and exit[0] <= entry.node_at:
            return  # an exit at the arrival wins: no message, no tag (docs/semantics.md)
        if isinstance(node, j.SendNode):
            if self.life.pause_at(entry.node_at) is not None:
                entry.held_send = True
            else:
                self.send(step, entry, entry.node_at)
        elif isinstance(node, j.AddTagNode | j.RemoveTagNode):
            removed = isinstance(node, j.RemoveTagNode)
            tag = node.remove_tag if isinstance(node, j.RemoveTagNode) else node.add_tag
            self.out.tags.append(
                TagRow(
                    entry.profile_id,
                    tag,
                    self.journey.id,
                    entry.node_at,
                    removed,
                    entry.entry_id,
                    entry.path_id,
                )
            )

    def send(self, step: ProfileTick, entry: Entry, at: datetime) -> None:
        created = create_messages(
            self.project,
            self.journey,
            entry.node,
            entry.entry_id,
            entry.path_id,
            entry.profile_id,
            entry.ab_group,
            at,
            step.facts,
        )
        self.messages.setdefault((entry.entry_id, entry.node), []).extend(created)
        self.out.messages.extend(created)

    # ---------------------------------------------------------------- message outcomes

    def statuses(self, facts: TickFacts, entry: Entry, node_id: str) -> list[tuple[str, datetime]]:
        """Every status the entry's messages of a send node have had by this tick, earliest first, as the
        journey reads them (READ_AS): a suppression by the tick at the message's creation, then what the
        senders recorded (none before the creation)."""
        found = []
        for message in self.messages.get((entry.entry_id, node_id), []):
            if message.status == "suppressed":
                found.append(MessageEvent(message.message_id, "suppressed", message.created_at))
            found += [
                replace(s, status_at=max(s.status_at, message.created_at))
                for s in facts.statuses(message.message_id)
            ]
        return [(READ_AS.get(s.status, s.status), s.status_at) for s in sorted(found, key=status_order)]

    def outcome(self, facts: TickFacts, entry: Entry, node_id: str) -> tuple[str, datetime] | None:
        """The first outcome (`sent`, `failed` or `suppressed`) of the entry's message at a send node."""
        return next((s for s in self.statuses(facts, entry, node_id) if s[0] in OUTCOMES), None)

    # ---------------------------------------------------------------- goals and the race notice

    def goals(self, facts: TickFacts, entry: Entry) -> None:
        """Spec: "`goals`: conditions counted for statistics ... within a window after entry; a goal does not
        end the journey". Recorded once, at the time it was first met (after the path ended too)."""
        if entry.forked:
            return  # a goal is the entry's: its own path records it, once (docs/semantics.md)
        for goal in self.journey.goals:
            if goal.id in entry.goals_done:
                continue
            if (at := self.goal_time(facts, entry, goal, facts.tick_at)) is not None:
                entry.goals_done.add(goal.id)
                self.out.goals.append(GoalRow(self.journey.id, entry.entry_id, entry.profile_id, goal.id, at))

    def goal_time(self, facts: TickFacts, entry: Entry, goal: j.Goal, until: datetime) -> datetime | None:
        """When the entry first met the goal, inside its window after the entry and by `until`."""
        upper = min(entry.entry_at + goal.within, until)
        if goal.did is not None:
            return facts.nth_time(entry.profile_id, goal.did, entry.entry_at, upper, entry.trigger_id)
        assert goal.detail is not None
        return detail_reached(goal.detail, entry.profile_id, facts, entry.entry_at, upper)

    def race_notice(self, facts: TickFacts, horizon: datetime) -> None:
        """Spec: "when the test phase is over (its duration, or its sample size) the operator is notified
        through a configured channel". README: `test_ends_after` after the first arrival, or at the
        `sample_size`-th test arrival, whichever comes first; one message to `notify.to`."""
        race = next(
            ((node_id, n) for node_id, n in self.journey.nodes.items() if isinstance(n, j.AbRaceNode)), None
        )
        if race is None or self.notified or race[1].ab_race.notify is None:
            return
        node_id, node = race
        spec = node.ab_race
        notify = spec.notify
        assert notify is not None
        arrivals = sorted(self.race_arrivals)
        if not arrivals:
            return
        ends = []
        if spec.test_ends_after is not None:
            ends.append(arrivals[0][0] + spec.test_ends_after)
        tested = [at for at, e in arrivals if race_variant(self.journey.id, e, node_id, spec) is not None]
        if spec.sample_size is not None and len(tested) >= spec.sample_size:
            ends.append(tested[spec.sample_size - 1])
        if not ends or min(ends) > horizon:
            return
        ended = min(ends)
        self.notified = True
        self.out.messages.append(
            Message(
                message_id=race_notice_id(self.journey.id, node_id),
                journey_id=self.journey.id,
                node_id=node_id,
                entry_id=None,
                profile_id=None,
                recipient_id=notify.to,
                channel=notify.channel,
                template=notify.template,
                priority=1,
                not_before=ended,
                created_at=ended,
                status="queued",
                suppressed_by=None,
                ab_group=None,
                tick_at=facts.tick_at,
            )
        )
