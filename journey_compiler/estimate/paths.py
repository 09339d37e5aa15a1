"""The ways from a journey's start to a node, and what taking each hop requires.

Spec section 2: `journeys estimate` reports "the joint audience of a node (the node's own rule intersected
with every judgement above it)". A hop is judged from today's data when its answer is a segment rule (a
segment check or split, asked now) or a share of the traffic (A/B); a hop that waits for what happens after
arrival (an event, a message's status, a send's outcome) cannot be, and says so instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass

from journey_compiler.config import journey as cfg
from journey_compiler.config.rules import Rule
from journey_compiler.errors import JourneysError
from journey_compiler.ir import JourneyPlan, Step

MAX_PATHS = 1_000
"""A graph whose paths to one node exceed this is refused (the query would have as many columns)."""


@dataclass(frozen=True)
class Hop:
    node_id: str
    branch: str

    def __str__(self) -> str:
        return f"{self.node_id}[{self.branch}]"


@dataclass(frozen=True)
class Judgement:
    """What taking `hop` requires: every rule of `holds` and none of `fails` (asked at the estimate's time),
    a `share` of the traffic, or, with `unjudged`, something today's data cannot answer."""

    hop: Hop
    holds: tuple[Rule, ...] = ()
    fails: tuple[Rule, ...] = ()
    share: float = 1.0
    unjudged: str | None = None


@dataclass(frozen=True)
class Way:
    """One counted row: the hops of a path to the node (with the node's own branch last, when it is
    counted per branch) and what each hop requires."""

    hops: tuple[Hop, ...]
    judgements: tuple[Judgement, ...]
    own_branch: str | None = None

    @property
    def path(self) -> tuple[Hop, ...]:
        """The hops that lead to the node (without the node's own branch)."""
        return self.hops[:-1] if self.own_branch is not None else self.hops

    @property
    def share(self) -> float:
        product = 1.0
        for judgement in self.judgements:
            product *= judgement.share
        return product

    @property
    def unjudged(self) -> tuple[str, ...]:
        return tuple(j.unjudged for j in self.judgements if j.unjudged is not None)


def ways_to(plan: JourneyPlan, node_id: str) -> list[Way]:
    """One way per path to the node; when the node's own rule can be estimated, one more per path and
    branch of the node (its joint audience branch by branch)."""
    paths = paths_to(plan, node_id)  # first: it names an unknown node
    target = plan.step(node_id)
    ways = []
    for path in paths:
        judgements = tuple(judge(plan.step(hop.node_id), hop.branch) for hop in path)
        ways.append(Way(path, judgements))
        for own in own_branches(target):
            ways.append(Way((*path, own), (*judgements, judge(target, own.branch)), own.branch))
    return ways


def paths_to(plan: JourneyPlan, node_id: str) -> list[tuple[Hop, ...]]:
    """Every path from the start to `node_id`, as the hops taken (the node itself not included)."""
    if node_id not in {s.id for s in plan.steps}:
        known = ", ".join(s.id for s in plan.steps)
        raise JourneysError(f"journey {plan.id!r} has no node {node_id!r} (its nodes: {known})")
    found: list[tuple[Hop, ...]] = []

    def walk(at: str, taken: tuple[Hop, ...]) -> None:
        if at == node_id:
            found.append(taken)
            if len(found) > MAX_PATHS:
                raise JourneysError(
                    f"journey {plan.id!r}: more than {MAX_PATHS} paths lead to {node_id!r}; "
                    "estimate a node nearer the start"
                )
            return
        for branch, target in plan.step(at).successors.items():
            walk(target, (*taken, Hop(at, branch)))

    walk(plan.start, ())
    return found


def own_branches(step: Step) -> list[Hop]:
    """The node's own branches when it decides between several and its rule can be estimated (segments,
    A/B); else none."""
    hops = [Hop(step.id, branch) for branch in step.successors]
    judged = all(judge(step, h.branch).unjudged is None for h in hops)
    return hops if len(hops) > 1 and judged else []


def judge(step: Step, branch: str) -> Judgement:
    hop = Hop(step.id, branch)
    node = step.node
    if isinstance(node, cfg.SegmentCheckNode):
        rule = node.segment_check
        return Judgement(hop, holds=(rule,)) if branch == "then" else Judgement(hop, fails=(rule,))
    if isinstance(node, cfg.SegmentSplitNode):
        return _segment_branch(hop, node.segment_split)
    if isinstance(node, cfg.AbSplitNode):
        percent = next(b.percent for b in node.ab_split if b.group == branch)
        return Judgement(hop, share=percent / 100)
    if isinstance(node, cfg.AbRaceNode):
        race = node.ab_race
        return Judgement(hop, share=race.test_share / (100 * len(race.variants)))
    if isinstance(node, cfg.SendNode) and any(b.startswith("on_") for b in step.successors):
        # with outcome branches even `next` is an outcome (those without a branch of their own)
        return Judgement(hop, unjudged=f"{hop}: waits for the message's outcome")
    if isinstance(node, cfg.MessageStatusNode):
        return Judgement(hop, unjudged=f"{hop}: waits for the status of {node.message_status.of!r}")
    if step.events or isinstance(node, cfg.EventCheckNode | cfg.EventSplitNode):
        return Judgement(hop, unjudged=f"{hop}: waits for events after arrival")
    if len(step.successors) > 1:
        return Judgement(hop, unjudged=f"{hop}: decided when the profile gets there")
    return Judgement(hop)


def _segment_branch(hop: Hop, split: cfg.SegmentSplitSpec) -> Judgement:
    """`first_match`: this branch's rule and none before it; `all_matches`: its own rule only (every
    matching branch is a path of its own); `else`: no branch matched."""
    rules: list[Rule] = list(split.branches)
    if hop.branch == "else":
        return Judgement(hop, fails=tuple(rules))
    index = int(hop.branch.removeprefix("branch_")) - 1
    earlier = () if split.mode == "all_matches" else tuple(rules[:index])
    return Judgement(hop, holds=(rules[index],), fails=earlier)
