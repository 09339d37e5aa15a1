"""When and where a profile leaves each kind of node: one `visit_<kind>` per node kind.

A visit answers "given what this tick sees, when does this entry leave its node, by which branch?" with a
`Move`, or None while the answer is not known yet (an event, an outcome or an operator still to come).
A move may lie beyond the tick's horizon (a wait that ends tomorrow): the caller applies only moves due.
Spec section 3: "In one tick a profile moves through as many nodes as it can (enter -> split -> send ->
wait), and stops only at a node that must wait for time, an event, a message status or an operator."
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from journey_compiler.config import journey as j
from journey_compiler.config.rules import EventCondition
from journey_compiler.reference.clock import wait_end
from journey_compiler.reference.ids import BUCKETS, bucket
from journey_compiler.reference.segments import holds

if TYPE_CHECKING:
    from journey_compiler.reference.journeys import Entry, ProfileTick

KEEP = object()
"""`Move.ab_group` default: the move leaves the entry's A/B group as it was."""


@dataclass(frozen=True)
class Move:
    at: datetime
    branch: str | None
    to_node: str | None
    reason: str = "advanced"
    """`advanced` (to a node), `completed` (no successor), or why the path ended (`exit_when`, `missed`,
    an exit node's reason)."""
    ab_group: object = field(default=KEEP, compare=False)
    forks: tuple[str, ...] = ()
    """At an `all_matches` split, the further matching branches: each starts a path of its own."""

    @property
    def ends_path(self) -> bool:
        return self.to_node is None


def follow(node: object, branch: str, at: datetime, ab_group: object = KEEP) -> Move:
    """Take `branch` out of `node` at `at`: to its target, or complete the path when it has none."""
    target = node.successors().get(branch)  # type: ignore[attr-defined]
    return Move(at, branch, target, "advanced" if target else "completed", ab_group)


def exit_path(at: datetime, reason: str) -> Move:
    return Move(at, f"exit:{reason}", None, reason)


def event_race(
    step: ProfileTick,
    entry: Entry,
    node: object,
    branches: list[tuple[str, j.EventRule]],
    within: timedelta,
    otherwise: str,
) -> Move:
    """README (event waits): "the first branch whose event condition is met inside the window wins, at that
    event's time; otherwise the `else`/`timeout` branch when it closes" (a tie goes to the branch listed
    first). README: "Events count for exits, goals and checks only when they happen after the profile
    reached the node (or entered), and never the event that triggered the entry": the `times`-th match in
    [arrival, arrival + within]."""
    close = entry.node_at + within
    answered = [
        (at, i, branch)
        for i, (branch, rule) in enumerate(branches)
        if (at := holds_at(step, entry, rule, close)) is not None
    ]
    if answered:
        at, _, branch = min(answered)
        return follow(node, branch, at)
    return follow(node, otherwise, close)


def holds_at(step: ProfileTick, entry: Entry, rule: j.EventRule, close: datetime) -> datetime | None:
    """When an event rule holds in [arrival, close] (docs/semantics.md, "Event rules in checks and
    splits"): `did` at its `times`-th match; `did_each` when the first (`any`) or the last (`all`) of its
    conditions is met; `did_not` at the close, when none (`all`) or not all (`any`) of its events, each
    counted on its own, reached `times`."""
    facts, trigger = step.facts, entry.trigger_id

    def met(condition: EventCondition) -> datetime | None:
        return facts.nth_time(step.profile_id, condition, entry.node_at, close, trigger)

    if rule.did is not None:
        return met(rule.did)
    pick = all if rule.match == "all" else any
    if rule.did_each is not None:
        times = [met(condition) for condition in rule.did_each]
        found = [t for t in times if t is not None]
        if not pick(t is not None for t in times):
            return None
        return max(found) if rule.match == "all" else min(found)
    assert rule.did_not is not None
    each = [rule.did_not.model_copy(update={"event": n, "events": None}) for n in rule.did_not.names]
    return close if pick(met(condition) is None for condition in each) else None


class NodeRules:
    """Dispatch on the node kind; each visit reads the entry's node and arrival time (`entry.node_at`)."""

    def leave(self, step: ProfileTick, entry: Entry) -> Move | None:
        node = step.journey.nodes[entry.node]
        visit = getattr(self, f"visit_{j.kind_of(node)}")
        return visit(step, entry, node)

    # ---------------------------------------------------------------- actions: leave on arrival

    def visit_send(self, step: ProfileTick, entry: Entry, node: j.SendNode) -> Move | None:
        """README: "With `on_sent`/`on_failed`/`on_suppressed` the profile waits at the send for its outcome,
        at the outcome's time"; a message the tick suppressed takes `on_suppressed` at once. An outcome
        without its own branch continues by `next` (else the path completes)."""
        if not any((node.on_sent, node.on_failed, node.on_suppressed)):
            return follow(node, "next", entry.node_at)
        outcome = step.run.outcome(step.facts, entry, entry.node)
        if outcome is None:
            return None
        status, at = outcome
        branch = f"on_{status}"
        at = max(at, entry.node_at)
        if getattr(node, branch) is None:
            return follow(node, "next", at)
        return follow(node, branch, at)

    def visit_add_tag(self, step: ProfileTick, entry: Entry, node: j.AddTagNode) -> Move:
        return follow(node, "next", entry.node_at)

    def visit_remove_tag(self, step: ProfileTick, entry: Entry, node: j.RemoveTagNode) -> Move:
        return follow(node, "next", entry.node_at)

    def visit_exit(self, step: ProfileTick, entry: Entry, node: j.ExitNode) -> Move:
        """Spec: "`exit`: ends the path explicitly"; the reason is the node's (`exit_node` by default)."""
        reason = node.exit.reason if isinstance(node.exit, j.ExitSpec) else "exit_node"
        return exit_path(entry.node_at, reason)

    # ---------------------------------------------------------------- flow

    def visit_wait(self, step: ProfileTick, entry: Entry, node: j.WaitNode) -> Move | None:
        """Spec: "`until` an absolute time (a profile arriving after it does not continue: it leaves with
        reason `missed`)"; "Later waits count from the logical time"."""
        wait = node.wait
        if wait.form == "until":
            assert wait.until is not None
            if entry.node_at > wait.until.astimezone(UTC).replace(tzinfo=None):
                return exit_path(entry.node_at, "missed")
        ends = wait_end(wait, entry.node_at, step.timezone, step.facts.index.world.trading_calendar)
        return None if ends is None else follow(node, "next", ends)

    def visit_wait_for_event(self, step: ProfileTick, entry: Entry, node: j.WaitForEventNode) -> Move:
        """Spec: "until an event happens `within` a duration (then the `happened` branch), else the `timeout`
        branch when the duration has passed"."""
        spec = node.wait_for_event
        return event_race(step, entry, node, [("happened", j.EventRule(did=spec))], spec.within, "timeout")

    def visit_ab_split(self, step: ProfileTick, entry: Entry, node: j.AbSplitNode) -> Move:
        """Spec: "random but deterministic split by percentages (same profile + journey + entry -> same
        branch, on every engine); groups are recorded for metrics". README: buckets are md5(journey, entry,
        node) mod 10 000; branch i takes the buckets below the running sum of the percentages."""
        slot = bucket(step.journey.id, entry.entry_id, entry.node)
        upper = 0.0
        for branch in node.ab_split[:-1]:
            upper += branch.percent
            if slot < round(upper * BUCKETS / 100):
                return follow(node, branch.group, entry.node_at, ab_group=branch.group)
        last = node.ab_split[-1].group
        return follow(node, last, entry.node_at, ab_group=last)

    def visit_ab_race(self, step: ProfileTick, entry: Entry, node: j.AbRaceNode) -> Move | None:
        """Spec: "a share of the traffic (e.g. 30%) is split among variants; the rest waits at the node until
        an operator picks the winner, then flows to it". README: the test share splits evenly (its A/B group
        is the variant); the rest flows at the pick's time (or on arrival after it), its group unchanged."""
        variant = race_variant(step.journey.id, entry.entry_id, entry.node, node.ab_race)
        if variant is not None:
            return follow(node, variant, entry.node_at, ab_group=variant)
        pick = step.facts.first_control(step.journey.id, "pick_winner")
        if pick is None or pick.value is None:
            return None
        return follow(node, pick.value, max(entry.node_at, pick.effective_at))

    # ---------------------------------------------------------------- judgement

    def visit_segment_check(self, step: ProfileTick, entry: Entry, node: j.SegmentCheckNode) -> Move:
        """Spec: "is the profile in a segment / does it match a filter now" (now: the arrival's time)."""
        member = holds(
            step.project, node.segment_check, step.profile_id, entry.node_at, step.facts, entry.entry_at
        )
        return follow(node, "then" if member else "else", entry.node_at)

    def visit_segment_split(self, step: ProfileTick, entry: Entry, node: j.SegmentSplitNode) -> Move:
        """Spec: "several segment branches plus `else`; mode `first_match` (priority order) or `all_matches`
        (the profile continues down every branch it matches, as separate paths)": the path takes the first
        matching branch, the further ones fork (docs/semantics.md, "all_matches")."""
        spec = node.segment_split
        matched = [
            f"branch_{i + 1}"
            for i, branch in enumerate(spec.branches)
            if holds(step.project, branch, step.profile_id, entry.node_at, step.facts, entry.entry_at)
        ]
        if not matched:
            return follow(node, "else", entry.node_at)
        move = follow(node, matched[0], entry.node_at)
        return replace(move, forks=tuple(matched[1:])) if spec.mode == "all_matches" else move

    def visit_event_check(self, step: ProfileTick, entry: Entry, node: j.EventCheckNode) -> Move:
        """Spec: "within a window after reaching the node: `did` (any of several events N times), `did_each`
        (each event its own count, `all`/`any`), `did_not` (`all`/`any`); the profile waits in the node until
        the answer is known: `then` as soon as the condition holds, `else` when the window closes"."""
        spec = node.event_check
        return event_race(step, entry, node, [("then", spec)], spec.within, "else")

    def visit_event_split(self, step: ProfileTick, entry: Entry, node: j.EventSplitNode) -> Move:
        """Spec: "several event-condition branches plus `else`, evaluated like `event_check`"."""
        spec = node.event_split
        branches: list[tuple[str, j.EventRule]] = [
            (f"branch_{i + 1}", b) for i, b in enumerate(spec.branches)
        ]
        return event_race(step, entry, node, branches, spec.within, "else")

    def visit_message_status(self, step: ProfileTick, entry: Entry, node: j.MessageStatusNode) -> Move:
        """Spec: "the status (`sent`, `delivered`, `read`, `clicked`, `failed`, `suppressed`) of an earlier
        send node's message, within a window": `then` at the first such status in [arrival, arrival +
        within] (a status the message already had on arrival counts at the arrival), else when it closes."""
        spec = node.message_status
        close = entry.node_at + spec.within
        times = [
            max(at, entry.node_at)
            for status, at in step.run.statuses(step.facts, entry, spec.of)
            if status in spec.is_ and at <= close
        ]
        if times:
            return follow(node, "then", min(times))
        return follow(node, "else", close)


def race_variant(journey_id: str, entry_id: str, node_id: str, race: j.AbRaceSpec) -> str | None:
    """The variant of a test arrival (buckets below `test_share` %, split evenly), None for the rest."""
    slot = bucket(journey_id, entry_id, node_id)
    share = race.test_share * BUCKETS / 100
    for i, variant in enumerate(race.variants):
        if slot < round(share * (i + 1) / len(race.variants)):
            return variant.id
    return None
