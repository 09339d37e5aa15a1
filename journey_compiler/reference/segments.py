"""Segment rules for one profile at one logical time.

Spec section 2 (Segments): "Rules over profile attributes, tags, other segments, detail data and behaviour
(did event E at least N times in the last D days), combined with and/or." README: "Segments compile to
predicates about one profile at one logical time: behaviour (`did`, `did_not`, `within_last`) and detail sums
count only what happened up to that time; attributes are the current ones (the warehouse keeps no attribute
history)."
"""

from __future__ import annotations

from datetime import datetime
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


def holds(project: Project, rule: Rule, profile_id: str, at: datetime, facts: TickFacts) -> bool:
    """Is the rule true for the profile at logical time `at`?"""
    kind = rule.kind
    if kind == "all":
        return all(holds(project, r, profile_id, at, facts) for r in rule.all or [])
    if kind == "any":
        return any(holds(project, r, profile_id, at, facts) for r in rule.any or [])
    if kind == "not":
        assert rule.not_ is not None
        return not holds(project, rule.not_, profile_id, at, facts)
    if kind == "segment":
        assert rule.segment is not None
        return holds(project, project.segments[rule.segment].rule, profile_id, at, facts)
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
    """Spec: "did event E at least N times in the last D days": events in [at - D, at] (no D: all up to
    `at`)."""
    lower = at - condition.within_last if condition.within_last is not None else None
    return len(facts.matching(profile_id, condition, lower, at)) >= condition.times


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
    """A segment's detail rule: the total over the window that ends at `at`."""
    amounts = _amounts(detail, profile_id, facts, _since(detail, at), at)
    return _meets(detail, sum(amount for _, amount in amounts))


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
