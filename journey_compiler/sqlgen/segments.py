"""Segment rules -> a boolean SQL predicate about one profile at one logical time.

Each rule becomes a correlated condition on `profile_id` (EXISTS / COUNT subqueries), so a segment can be
asked anywhere a profile row is at hand: an audience, a send's blacklist, a segment check. Behaviour counts
events up to the logical time `at` only, so the answer does not depend on when the tick ran.
"""

from __future__ import annotations

from sqlglot import exp

from journey_compiler.config.project import Project
from journey_compiler.config.rules import EventCondition, Rule
from journey_compiler.expressions import compile_filter, json_columns
from journey_compiler.sqlgen.relations import ref

PROFILE_FIELDS = ("profile_id", "email", "phone", "timezone")


class SegmentSql:
    def __init__(
        self,
        project: Project,
        events: exp.Expression,
        profiles: exp.Expression,
        tags: exp.Expression,
        entered: exp.Expression | None = None,
    ) -> None:
        self.project = project
        self.events, self.profiles, self.tags = events, profiles, tags
        self.entered = entered
        """The entry time of the path asked about (`left_segment` compares with it), if one is."""

    def on_path(self, entered: exp.Expression) -> SegmentSql:
        """The same predicates, asked of a path that entered at `entered`."""
        return SegmentSql(self.project, self.events, self.profiles, self.tags, entered)

    def predicate(self, rule: Rule, profile_id: exp.Expression, at: exp.Expression) -> exp.Expression:
        visit = getattr(self, f"visit_{rule.kind}")
        return visit(rule, profile_id, at)

    def visit_all(self, rule: Rule, profile_id: exp.Expression, at: exp.Expression) -> exp.Expression:
        return exp.and_(*(self.predicate(r, profile_id, at) for r in rule.all or []))

    def visit_any(self, rule: Rule, profile_id: exp.Expression, at: exp.Expression) -> exp.Expression:
        return exp.paren(exp.or_(*(self.predicate(r, profile_id, at) for r in rule.any or [])))

    def visit_not(self, rule: Rule, profile_id: exp.Expression, at: exp.Expression) -> exp.Expression:
        assert rule.not_ is not None
        return exp.not_(self.predicate(rule.not_, profile_id, at))

    def visit_segment(self, rule: Rule, profile_id: exp.Expression, at: exp.Expression) -> exp.Expression:
        assert rule.segment is not None
        return exp.paren(self.predicate(self.project.segments[rule.segment].rule, profile_id, at))

    def visit_left_segment(
        self, rule: Rule, profile_id: exp.Expression, at: exp.Expression
    ) -> exp.Expression:
        """In the segment when the path entered, and not at `at` (docs/semantics.md)."""
        assert rule.left_segment is not None and self.entered is not None
        segment = Rule(segment=rule.left_segment)
        was = self.predicate(segment, profile_id, self.entered)
        return exp.and_(was, exp.not_(self.predicate(segment, profile_id, at)))

    def visit_where(self, rule: Rule, profile_id: exp.Expression, at: exp.Expression) -> exp.Expression:
        assert rule.where is not None
        alias = "sp"
        columns = {name: exp.column(name, alias) for name in PROFILE_FIELDS}
        columns |= json_columns(exp.column("attributes", alias), self.project.warehouse.attributes)
        return exp.Exists(
            this=exp.select("1")
            .from_(exp.alias_(self.profiles.copy(), alias, table=True))
            .where(
                exp.and_(
                    exp.EQ(this=exp.column("profile_id", alias), expression=profile_id.copy()),
                    compile_filter(rule.where, columns),
                )
            )
        )

    def visit_tag(self, rule: Rule, profile_id: exp.Expression, at: exp.Expression) -> exp.Expression:
        """Tagged by `at` and not removed by a later write (tags from other systems and those journeys
        published; `written` orders the writes at one instant, see int_profile_tags)."""
        alias, removal = "st", "sr"

        def same(table: str) -> list[exp.Expression]:
            return [
                exp.EQ(this=exp.column("profile_id", table), expression=profile_id.copy()),
                exp.EQ(this=exp.column("tag", table), expression=exp.Literal.string(rule.tag or "")),
                exp.LTE(this=exp.column("tagged_at", table), expression=at.copy()),
            ]

        removed_since = (
            exp.select("1")
            .from_(exp.alias_(self.tags.copy(), removal, table=True))
            .where(
                exp.and_(
                    *same(removal),
                    exp.column("removed", removal),
                    exp.GT(this=exp.column("written", removal), expression=exp.column("written", alias)),
                )
            )
        )
        return exp.Exists(
            this=exp.select("1")
            .from_(exp.alias_(self.tags.copy(), alias, table=True))
            .where(
                exp.and_(
                    *same(alias),
                    exp.not_(exp.column("removed", alias)),
                    exp.not_(exp.Exists(this=removed_since)),
                )
            )
        )

    def visit_did(self, rule: Rule, profile_id: exp.Expression, at: exp.Expression) -> exp.Expression:
        assert rule.did is not None
        return self.did(rule.did, profile_id, at)

    def visit_did_not(self, rule: Rule, profile_id: exp.Expression, at: exp.Expression) -> exp.Expression:
        assert rule.did_not is not None
        return exp.not_(self.did(rule.did_not, profile_id, at))

    def did(
        self, condition: EventCondition, profile_id: exp.Expression, at: exp.Expression
    ) -> exp.Expression:
        """Did the profile do any of the events `times` times, in the last `within_last` before `at`?"""
        alias = "se"
        declared = self.project.warehouse.events
        conditions = [
            exp.EQ(this=exp.column("profile_id", alias), expression=profile_id.copy()),
            exp.In(
                this=exp.column("event_name", alias),
                expressions=[exp.Literal.string(n) for n in condition.names],
            ),
            exp.LTE(this=exp.column("event_time", alias), expression=at.copy()),
        ]
        if condition.within_last is not None:
            since = exp.Sub(
                this=at.copy(),
                expression=exp.Interval(
                    this=exp.Literal.number(int(condition.within_last.total_seconds())),
                    unit=exp.var("SECOND"),
                ),
            )
            conditions.append(exp.GT(this=exp.column("event_time", alias), expression=since))
        if condition.where is not None:
            shared = set.intersection(*(set(declared[n]) for n in condition.names))
            types = {k: v for k, v in declared[condition.names[0]].items() if k in shared}
            conditions.append(
                compile_filter(condition.where, json_columns(exp.column("properties", alias), types))
            )
        events = exp.alias_(self.events.copy(), alias, table=True)
        if condition.times == 1:
            return exp.Exists(this=exp.select("1").from_(events).where(exp.and_(*conditions)))
        count = exp.select(exp.func("COUNT", exp.Star())).from_(events).where(exp.and_(*conditions))
        return exp.GTE(this=count.subquery(), expression=exp.Literal.number(condition.times))

    def visit_detail(self, rule: Rule, profile_id: exp.Expression, at: exp.Expression) -> exp.Expression:
        """Count or sum of a detail column (orders, GMV) up to `at`, within `within_last`, at least `at_least`
        (default: one row for a count, more than zero for a sum)."""
        detail = rule.detail
        assert detail is not None
        alias = "sd"
        table = self.project.warehouse.details[detail.table]
        conditions = [
            exp.EQ(this=exp.column("profile_id", alias), expression=profile_id.copy()),
            exp.LTE(this=exp.column("detail_at", alias), expression=at.copy()),
        ]
        if detail.within_last is not None:
            since = exp.Sub(
                this=at.copy(),
                expression=exp.Interval(
                    this=exp.Literal.number(int(detail.within_last.total_seconds())), unit=exp.var("SECOND")
                ),
            )
            conditions.append(exp.GT(this=exp.column("detail_at", alias), expression=since))
        if detail.where is not None:
            columns = {c: exp.column(c, alias) for c in table.columns}
            conditions.append(compile_filter(detail.where, columns))
        column = exp.column(detail.column, alias)
        measure = (
            exp.func("COUNT", column)
            if detail.count is not None
            else exp.func("COALESCE", exp.func("SUM", column), exp.Literal.number(0))
        )
        value = (
            exp.select(measure)
            .from_(exp.alias_(ref(f"stg_details__{detail.table}"), alias, table=True))
            .where(exp.and_(*conditions))
            .subquery()
        )
        if detail.at_least is not None:
            return exp.GTE(this=value, expression=exp.Literal.number(detail.at_least))
        threshold = exp.Literal.number(1 if detail.count is not None else 0)
        return (exp.GTE if detail.count is not None else exp.GT)(this=value, expression=threshold)
