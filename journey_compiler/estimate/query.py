"""One SQL query per estimate, built over the relations the ticks read and with the tick's segment compiler.

A segment is counted as `count_if(<its predicate at T>)` over the profiles. A node's joint audience first
judges every distinct rule on the ways to it once per profile of the journey's audience (one CTE), then
counts each way as a combination of those answers, so a rule shared by many paths costs one evaluation.
"""

from __future__ import annotations

from datetime import datetime

from sqlglot import exp

from journey_compiler.config.rules import Rule
from journey_compiler.estimate.paths import Way
from journey_compiler.ir import EntryPlan, EventMatch
from journey_compiler.sqlgen.ast import aliased, col, ts
from journey_compiler.sqlgen.events import event_filter
from journey_compiler.sqlgen.segments import SegmentSql
from journey_compiler.sqlgen.tick.triggers import window_close

PROFILE = "p"
AUDIENCE = "audience"
PLANNED = ("schedule", "once")
"""Entry modes without trigger facts: the audience enters at a planned time."""


class EstimateSql:
    """Builds the queries over `profiles`, `events` and `tags` (relations of the warehouse)."""

    def __init__(self, segments: SegmentSql) -> None:
        self.segments = segments

    def segment_size(self, rule: Rule, at: datetime) -> exp.Select:
        """members, profiles: how many profiles satisfy `rule` at `at`, of how many."""
        member = self.segments.predicate(rule, col("profile_id", PROFILE), ts(at))
        return exp.select(
            exp.alias_(exp.CountIf(this=member), "members"),
            exp.alias_(exp.Count(this=exp.Star()), "profiles"),
        ).from_(aliased(self.segments.profiles.copy(), PROFILE))

    def joint_audience(self, entry: EntryPlan, ways: list[Way], at: datetime) -> exp.Select:
        """audience (profiles the entry admits), then way_1 ... way_n (profiles on each way)."""
        profile_id, moment = col("profile_id", PROFILE), ts(at)
        entry_rules = [self.segments.predicate(rule, profile_id, moment) for rule in entry.audience]
        trigger = self.trigger_facts(entry, profile_id, moment)
        rules = _distinct_rules(ways)
        judged = exp.select(
            profile_id.copy(),
            *(
                exp.alias_(self.segments.predicate(rule, profile_id, moment), f"rule_{i}")
                for i, rule in enumerate(rules.values())
            ),
        ).from_(aliased(self.segments.profiles.copy(), PROFILE))
        admitted = [*entry_rules, *([trigger] if trigger is not None else [])]
        if admitted:
            judged = judged.where(exp.and_(*admitted))
        index = {key: i for i, key in enumerate(rules)}
        counts = [
            exp.alias_(exp.CountIf(this=_way_condition(way, index)), f"way_{n}") for n, way in enumerate(ways)
        ]
        return (
            exp.select(exp.alias_(exp.Count(this=exp.Star()), "audience"), *counts)
            .from_(AUDIENCE)
            .with_(AUDIENCE, judged)
        )

    def trigger_facts(
        self, entry: EntryPlan, profile_id: exp.Expression, at: exp.Expression
    ) -> exp.Expression | None:
        """Did the profile do what the trigger asks between its start and `at` (None: a planned entry)?
        A `segment` trigger asks the segment at `at` (`trigger_unjudged` says what that leaves out)."""
        if entry.mode in PLANNED:
            return None
        if entry.mode == "segment":
            assert entry.segment is not None
            return self.segments.predicate(entry.segment, profile_id, at)
        window: list[exp.Expression] = [
            exp.GTE(this=col("event_time", "e"), expression=ts(entry.starts_at)),
            exp.LTE(this=col("event_time", "e"), expression=at.copy()),
        ]
        if entry.ends_at is not None:
            window.append(exp.LT(this=col("event_time", "e"), expression=ts(entry.ends_at)))
        if entry.mode == "each_of":
            met = [
                exp.GTE(
                    this=self._count(match, "e", profile_id, window),
                    expression=exp.Literal.number(match.times),
                )
                for match in entry.each
            ]
            return exp.and_(*met) if entry.each_match == "all" else exp.or_(*met)
        assert entry.match is not None
        if entry.mode == "without":
            assert entry.absent is not None
            closes = window_close(entry, col("event_time", "e"), col("timezone", PROFILE))
            if entry.absent_by is not None:  # an A after the day's `by` time opens no window
                window.append(exp.GTE(this=closes.copy(), expression=col("event_time", "e")))
            window += [
                exp.LTE(this=closes, expression=at.copy()),
                exp.LT(
                    this=self._count(entry.absent, "b", col("profile_id", "e"), self._after("e", closes)),
                    expression=exp.Literal.number(entry.absent.times),
                ),
            ]
            return exp.Exists(this=self._events(entry.match, "e", profile_id, window))
        count = self._count(entry.match, "e", profile_id, window)
        return exp.GTE(this=count, expression=exp.Literal.number(entry.count))

    def _events(
        self, match: EventMatch, alias: str, profile_id: exp.Expression, conditions: list[exp.Expression]
    ) -> exp.Select:
        mine = exp.EQ(this=col("profile_id", alias), expression=profile_id.copy())
        return (
            exp.select("1")
            .from_(aliased(self.segments.events.copy(), alias))
            .where(exp.and_(mine, event_filter(match, alias), *conditions))
        )

    def _count(
        self, match: EventMatch, alias: str, profile_id: exp.Expression, conditions: list[exp.Expression]
    ) -> exp.Expression:
        query = self._events(match, alias, profile_id, conditions)
        return query.select(exp.Count(this=exp.Star()), append=False).subquery()

    @staticmethod
    def _after(first: str, closes: exp.Expression) -> list[exp.Expression]:
        """Another event from the first one's time to the close of its window (the trigger's rule)."""
        return [
            exp.GTE(this=col("event_time", "b"), expression=col("event_time", first)),
            exp.LTE(this=col("event_time", "b"), expression=closes.copy()),
            exp.NEQ(this=col("event_id", "b"), expression=col("event_id", first)),
        ]


def trigger_unjudged(entry: EntryPlan) -> str | None:
    """What of the trigger the estimate leaves out, if anything."""
    if entry.mode == "segment":
        return "trigger `segment`: its members at T counted (not those who joined and left before T)"
    return None


def _key(rule: Rule) -> str:
    """Two branches asking the same rule (whatever node they lead to) share one judged column."""
    return rule.model_dump_json(by_alias=True, exclude={"to"})


def _distinct_rules(ways: list[Way]) -> dict[str, Rule]:
    rules: dict[str, Rule] = {}
    for way in ways:
        for judgement in way.judgements:
            for rule in (*judgement.holds, *judgement.fails):
                rules.setdefault(_key(rule), rule)
    return rules


def _way_condition(way: Way, index: dict[str, int]) -> exp.Expression:
    """Every rule the way requires holds and every rule it excludes does not (NULL-safe: a rule that
    cannot be answered for a profile counts as not holding)."""

    def answer(rule: Rule) -> exp.Expression:
        return exp.func("COALESCE", col(f"rule_{index[_key(rule)]}"), exp.false())

    parts: list[exp.Expression] = []
    for judgement in way.judgements:
        parts += [answer(r) for r in judgement.holds]
        parts += [exp.not_(answer(r)) for r in judgement.fails]
    return exp.and_(*parts) if parts else exp.true()
