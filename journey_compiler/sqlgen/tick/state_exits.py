"""When an exit condition on the profile's state (a segment matched or left, an attribute, a tag) first
holds for each path in this tick (docs/semantics.md, "Exits on a segment or an attribute").

Within one tick the attributes are the ones the tick sees, so a rule can only change where an event, a tag
write or a detail row it may read happens, or leaves a `within_last` window: its change points. The rule
is asked at the start of what this tick decides (the entry for a path that entered in it, else the
previous tick) and at each change point up to the horizon. True at the start: a new path exits at its
entry, a carried one at the horizon (the change was not an event: the tick that sees it decides); else the
first change point where it holds.
"""

from __future__ import annotations

from datetime import timedelta

from sqlglot import exp

from journey_compiler.config.rules import Rule
from journey_compiler.sqlgen.ast import aliased, col, eq, plus, union_all
from journey_compiler.sqlgen.relations import ref
from journey_compiler.sqlgen.tick.builder import TickSql, known_events, tick_col


def first_true(tick: TickSql, name: str, source: str, rule: Rule) -> str:
    """CTE `name`: (entry_id, event_time) of the first instant the rule holds, per row of `source`."""
    parts = list(tick.project.rule_parts(rule))
    carried, entered = col("carried", "s"), col("entry_at", "s")
    start = exp.Case(ifs=[exp.If(this=carried, true=tick_col("previous_tick_at"))], default=entered)
    asked = tick.segments.on_path(entered.copy())
    exit_at = exp.Case(ifs=[exp.If(this=carried.copy(), true=tick_col("horizon"))], default=entered.copy())
    at_start = (
        exp.select(col("entry_id", "s"), exp.alias_(exit_at, "event_time"))
        .from_(aliased(source, "s"))
        .join("tick", join_type="cross")
        .where(
            exp.and_(
                exp.LTE(this=start.copy(), expression=tick_col("horizon")),
                asked.predicate(rule, col("profile_id", "s"), start.copy()),
            )
        )
    )
    found: list[exp.Query] = [at_start]
    changes = at_change_points(
        tick,
        parts,
        exp.select(col("entry_id", "s"), exp.alias_(change_at(), "event_time"))
        .from_(aliased(source, "s"))
        .where(asked.predicate(rule, col("profile_id", "s"), change_at())),
        "s",
        start,
    )
    if changes is not None:
        found.append(changes)
    return tick.cte(
        name,
        exp.select("entry_id", exp.alias_(exp.func("MIN", col("event_time")), "event_time"))
        .from_(union_all(found).subquery("instants"))
        .group_by("entry_id"),
    )


def change_at() -> exp.Column:
    """The instant of a change point, in a query `at_change_points` joined them to."""
    return col("at", "c")


def at_change_points(
    tick: TickSql, parts: list[Rule], query: exp.Select, alias: str, start: exp.Expression
) -> exp.Select | None:
    """`query` (over profiles aliased `alias`) at every instant in (`start`, horizon] where what the rule
    parts read may change (`change_at()`), or None when nothing they read has a time."""
    points = change_points(tick, parts)
    if not points:
        return None
    return query.join("tick", join_type="cross").join(
        aliased(union_all(points).subquery(), "c"),
        on=exp.and_(
            eq(col("profile_id", "c"), col("profile_id", alias)),
            exp.GT(this=change_at(), expression=start.copy()),
            exp.LTE(this=change_at(), expression=tick_col("horizon")),
        ),
    )


def change_points(tick: TickSql, parts: list[Rule]) -> list[exp.Select]:
    """(profile_id, at) of every instant where what the rule reads may change."""
    points: list[exp.Select] = []
    conditions = [c for p in parts for c in (p.did, p.did_not) if c is not None]
    if conditions:
        windows = {c.within_last for c in conditions if c.within_last is not None}
        points += [_times(known_events(), "event_time", delta) for delta in (timedelta(0), *sorted(windows))]
    if any(p.tag is not None for p in parts):
        points.append(_times(ref("int_profile_tags"), "tagged_at", timedelta(0)))
    for table in sorted({p.detail.table for p in parts if p.detail is not None}):
        windows = {p.detail.within_last for p in parts if p.detail is not None and p.detail.within_last}
        rows = ref(f"stg_details__{table}")
        points += [_times(rows, "detail_at", delta) for delta in (timedelta(0), *sorted(windows))]
    return points


def _times(rows: exp.Expression, column: str, delta: timedelta) -> exp.Select:
    """A row's time, or when it leaves a `within_last` window of `delta`."""
    at = plus(col(column), delta) if delta else col(column)
    return exp.select("profile_id", exp.alias_(at, "at")).from_(rows)
