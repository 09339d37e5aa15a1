"""Segment rules for one profile at one logical time.

Spec section 2 (Segments): "Rules over profile attributes, tags, other segments, detail data and behaviour
(did event E at least N times in the last D days), combined with and/or." README: "Segments compile to
predicates about one profile at one logical time: behaviour (`did`, `did_not`, `within_last`) and detail sums
count only what happened up to that time; attributes are the current ones (the warehouse keeps no attribute
history)."
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from journey_compiler.config.project import Project
from journey_compiler.config.rules import DetailCondition, EventCondition, Rule
from journey_compiler.reference.facts import TickFacts
from journey_compiler.reference.filters import passes, typed_row

PROFILE_COLUMNS = ("profile_id", "email", "phone", "timezone")


def profile_row(project: Project, facts: TickFacts, profile_id: str) -> dict[str, Any]:
    """The columns a profile filter may name: the profile's own and its declared attributes."""
    profile = facts.index.profiles.get(profile_id)
    if profile is None:
        return {"profile_id": profile_id}
    row = typed_row(profile.attributes, project.warehouse.attributes)
    row.update({name: getattr(profile, name) for name in PROFILE_COLUMNS})
    return row


def holds(
    project: Project,
    rule: Rule,
    profile_id: str,
    at: datetime,
    facts: TickFacts,
    entered: datetime | None = None,
) -> bool:
    """Is the rule true for the profile at logical time `at` (asked of a path that entered at `entered`)?"""
    kind = rule.kind
    if kind == "all":
        return all(holds(project, r, profile_id, at, facts, entered) for r in rule.all or [])
    if kind == "any":
        return any(holds(project, r, profile_id, at, facts, entered) for r in rule.any or [])
    if kind == "not":
        assert rule.not_ is not None
        return not holds(project, rule.not_, profile_id, at, facts, entered)
    if kind == "segment":
        assert rule.segment is not None
        return holds(project, project.segments[rule.segment].rule, profile_id, at, facts, entered)
    if kind == "left_segment":
        # docs/semantics.md: in the segment when the path entered, and not at `at`
        assert rule.left_segment is not None and entered is not None
        segment = Rule(segment=rule.left_segment)
        was = holds(project, segment, profile_id, entered, facts, entered)
        return was and not holds(project, segment, profile_id, at, facts, entered)
    if kind == "where":
        return passes(rule.where, profile_row(project, facts, profile_id))
    if kind == "tag":
        assert rule.tag is not None
        return facts.has_tag(profile_id, rule.tag, at)
    if kind == "did":
        assert rule.did is not None
        return _did(rule.did, profile_id, at, facts)
    if kind == "did_not":
        assert rule.did_not is not None
        return not _did(rule.did_not, profile_id, at, facts)
    if kind == "detail":
        assert rule.detail is not None
        return detail_holds(rule.detail, profile_id, at, facts)
    raise ValueError(f"the reference does not execute segment rule `{kind}`")


def _did(condition: EventCondition, profile_id: str, at: datetime, facts: TickFacts) -> bool:
    """Spec: "did event E at least N times in the last D days": events in (at - D, at] (no D: all up to
    `at`); an event D before `at` has just left the window."""
    lower = at - condition.within_last if condition.within_last is not None else None
    found = [
        e for e in facts.matching(profile_id, condition, lower, at) if lower is None or e.event_time > lower
    ]
    return len(found) >= condition.times


def _since(detail: DetailCondition, at: datetime) -> datetime | None:
    return at - detail.within_last if detail.within_last is not None else None


def _meets(detail: DetailCondition, total: float) -> bool:
    """`at_least` (inclusive); without it: one row for a count, more than zero for a sum."""
    return total >= detail.at_least if detail.at_least is not None else total > 0


def _amounts(
    detail: DetailCondition, profile_id: str, facts: TickFacts, lower: datetime | None, upper: datetime
) -> list[tuple[datetime, float]]:
    """(time, amount) of the profile's detail rows in [lower, upper] that pass the filter: 1 per row for a
    count, the column for a sum; a row whose column is NULL does not count."""
    amounts = []
    for at, row in facts.index.details.get((detail.table, profile_id), []):
        if at > upper or at > facts.tick_at:
            break
        if (lower is not None and at < lower) or not passes(detail.where, row):
            continue
        value = row.get(detail.column)
        if value is not None:
            amounts.append((at, 1.0 if detail.count is not None else float(value)))
    return amounts


def detail_holds(detail: DetailCondition, profile_id: str, at: datetime, facts: TickFacts) -> bool:
    """A segment's detail rule: the total over the window (at - within_last, at]."""
    since = _since(detail, at)
    amounts = _amounts(detail, profile_id, facts, since, at)
    return _meets(detail, sum(amount for t, amount in amounts if since is None or t > since))


def detail_reached(
    detail: DetailCondition, profile_id: str, facts: TickFacts, lower: datetime, upper: datetime
) -> datetime | None:
    """README (goals on a detail table): when the count (or sum) since `lower` first reaches `at_least`."""
    total = 0.0
    for at, amount in _amounts(detail, profile_id, facts, lower, upper):
        total += amount
        if _meets(detail, total):
            return at
    return None


def change_points(project: Project, rule: Rule, profile_id: str, facts: TickFacts) -> set[datetime]:
    """Every instant where what the rule reads may change (attributes have no history, so within one tick
    they do not): the profile's events, tag writes and detail rows, and when each leaves a `within_last`
    window. A rule is true from one such instant to the next."""
    parts = list(project.rule_parts(rule))
    windows = {timedelta(0)}
    windows |= {c.within_last for p in parts for c in (p.did, p.did_not) if c and c.within_last}
    windows |= {p.detail.within_last for p in parts if p.detail is not None and p.detail.within_last}
    times = [e.event_time for e in facts.events(profile_id)]
    times += [tagged_at for _, tagged_at in facts.index.raw_tags.get(profile_id, [])]
    times += [row.tagged_at for row in facts.published_tags.get(profile_id, [])]
    for p in parts:
        if p.detail is not None:
            times += [at for at, _ in facts.index.details.get((p.detail.table, profile_id), [])]
    return {t + window for t in times for window in windows}
