"""Conditions shared by triggers, checks, splits, exits, goals and segments."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Literal

from pydantic import Field, model_validator

from journey_compiler.config.base import Duration, StrictModel


class EventCondition(StrictModel):
    """`did`/`did_not`: one event or any of several, `times` times, with an optional property filter."""

    event: str | None = None
    events: list[str] | None = Field(None, min_length=1)
    times: int = Field(1, ge=1)
    where: str | None = None
    within: Duration | None = None
    within_last: Duration | None = None

    @model_validator(mode="after")
    def _one_event_form(self) -> EventCondition:
        if (self.event is None) == (self.events is None):
            raise ValueError("give exactly one of `event:` (one name) or `events:` (a list)")
        return self

    @property
    def names(self) -> tuple[str, ...]:
        return (self.event,) if self.event is not None else tuple(self.events or ())


class DetailCondition(StrictModel):
    """An aggregate over a declared detail table: count of a column or sum of it."""

    table: str
    count: str | None = None
    sum: str | None = None
    where: str | None = None
    within_last: Duration | None = None
    at_least: float | None = None

    @model_validator(mode="after")
    def _one_measure(self) -> DetailCondition:
        if (self.count is None) == (self.sum is None):
            raise ValueError("give exactly one of `count:` or `sum:`")
        return self

    @property
    def column(self) -> str:
        return self.count if self.count is not None else str(self.sum)


_RULE_KEYS = ("all", "any", "not_", "segment", "left_segment", "where", "tag", "did", "did_not", "detail")


class Rule(StrictModel):
    """Exactly one of: `all`/`any` (lists), `not`, `segment`, `left_segment`, `where`, `tag`, `did`,
    `did_not`, `detail`."""

    all: list[Rule] | None = None
    any: list[Rule] | None = None
    not_: Rule | None = Field(None, alias="not")
    segment: str | None = None
    left_segment: str | None = Field(
        None, description="In the segment when the path entered, not any more (exits, checks and splits)."
    )
    where: str | None = None
    tag: str | None = None
    did: EventCondition | None = None
    did_not: EventCondition | None = None
    detail: DetailCondition | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Rule:
        given = [key for key in _RULE_KEYS if getattr(self, key) is not None]
        if len(given) != 1:
            names = ", ".join(k.rstrip("_") for k in _RULE_KEYS)
            raise ValueError(f"a rule needs exactly one of {names}; got {len(given)}")
        return self

    @property
    def kind(self) -> str:
        return next(key for key in _RULE_KEYS if getattr(self, key) is not None).rstrip("_")


Match = Literal["all", "any"]


def rule_parts(
    rule: Rule, segments: Mapping[str, Rule], _seen: frozenset[str] = frozenset()
) -> Iterator[Rule]:
    """The rule and every rule inside it, through the segments it names (`segment`, `left_segment`), so a
    caller can ask what a rule reads (events, tags, detail tables) wherever it is written down. Safe on a
    project not validated yet: an unknown segment or a cycle of segments (each reported on its own by
    validation) is not followed."""
    yield rule
    for child in [*(rule.all or []), *(rule.any or []), *([rule.not_] if rule.not_ else [])]:
        yield from rule_parts(child, segments, _seen)
    for name in (rule.segment, rule.left_segment):
        if name in segments and name not in _seen:
            yield from rule_parts(segments[name], segments, _seen | {name})
