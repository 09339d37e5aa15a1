"""When a condition was first met for each row of a source CTE: the N-th matching event, or a detail count
or sum reaching its threshold, inside a time window per row. The one mechanism behind exits, goals and the
nodes that wait for events."""

from __future__ import annotations

from sqlglot import exp

from journey_compiler.config.rules import DetailCondition
from journey_compiler.expressions import compile_filter
from journey_compiler.ir import EventMatch
from journey_compiler.sqlgen.ast import aliased, col, eq, lit, union_all
from journey_compiler.sqlgen.events import event_filter
from journey_compiler.sqlgen.relations import ref
from journey_compiler.sqlgen.tick import lifecycle
from journey_compiler.sqlgen.tick.builder import TickSql, fresh_events, known_events


def _pairs(
    source: str,
    carried: bool | None,
    events: exp.Expression,
    match: EventMatch,
    lower: exp.Expression,
    upper: exp.Expression,
) -> exp.Select:
    """(entry_id, event_time, event_id) of every matching event in [lower, upper] per row of `source`
    (all rows, or only those `carried` over from before this tick, or only those not)."""
    query = (
        exp.select(col("entry_id", "s"), col("event_time", "e"), col("event_id", "e"))
        .from_(aliased(source, "s"))
        .join("tick", join_type="cross")
        .join(
            aliased(events, "e"),
            join_type="inner",
            on=exp.and_(
                eq(col("profile_id", "e"), col("profile_id", "s")),
                event_filter(match),
                exp.GTE(this=col("event_time", "e"), expression=lower.copy()),
                exp.LTE(this=col("event_time", "e"), expression=upper.copy()),
                exp.NEQ(
                    this=col("event_id", "e"),
                    expression=exp.func("COALESCE", col("trigger_event_id", "s"), lit("")),
                ),
            ),
        )
    )
    if carried is None:
        return query
    return query.where(col("carried", "s") if carried else exp.not_(col("carried", "s")))


def nth_event(
    tick: TickSql,
    name: str,
    source: str,
    match: EventMatch,
    lower: exp.Expression,
    upper: exp.Expression,
    held: bool = False,
    whole: bool = False,
) -> str:
    """CTE `name`: (entry_id, event_time) of the `times`-th matching event in [lower, upper] per row of
    `source` (aliased `s` in the bounds); the triggering event never counts.

    For the first occurrence, a row carried over from before this tick looks only at the events the
    previous tick could not see (had it seen a match, the row would not still be waiting), and the new
    rows only at events since the earliest of their lower bounds: a tick reads what is new, not history.
    With `held` (rows whose answer a pause may hold back), carried rows also look at the events since the
    pause the previous tick was in began: the answer it saw and held. With `whole`, every row reads its
    whole window: a row may still be waiting after a match (one of several conditions, or an absence)."""
    if match.times == 1 and not whole:
        earliest_new = (
            exp.select(exp.func("MIN", lower.copy()))
            .from_(aliased(source, "s"))
            .where(exp.not_(col("carried", "s")))
            .subquery()
        )
        sources = [(True, fresh_events()), (False, known_events(since=earliest_new))]
        if held:
            sources.append((True, known_events(since=lifecycle.held_since())))
        pairs = union_all(
            [_pairs(source, carried, events, match, lower, upper) for carried, events in sources]
        )
    else:
        pairs = _pairs(source, None, known_events(), match, lower, upper)
    ordinal = exp.Window(
        this=exp.RowNumber(),
        partition_by=[col("entry_id")],
        order=exp.Order(expressions=[exp.Ordered(this=col("event_time")), exp.Ordered(this=col("event_id"))]),
    )
    ranked = exp.select("entry_id", "event_time", exp.alias_(ordinal, "n")).from_(pairs.subquery("pairs"))
    query = (
        exp.select("entry_id", "event_time").from_(ranked.subquery("ranked")).where(eq(col("n"), match.times))
    )
    return tick.cte(name, query)


def detail_reached(
    tick: TickSql,
    name: str,
    source: str,
    detail: DetailCondition,
    lower: exp.Expression,
    upper: exp.Expression,
) -> str:
    """CTE `name`: (entry_id, event_time) when a detail count or sum (orders, GMV) in [lower, upper] first
    reaches its threshold (`at_least`; default one row for a count, more than zero for a sum)."""
    column = col(detail.column, "d")
    running = exp.Window(
        this=exp.func("COUNT", column) if detail.count is not None else exp.func("SUM", column),
        partition_by=[col("entry_id", "s")],
        order=exp.Order(expressions=[exp.Ordered(this=col("detail_at", "d"))]),
        spec=exp.WindowSpec(kind="ROWS", start="UNBOUNDED", start_side="PRECEDING"),
    )
    conditions = [
        exp.EQ(this=col("profile_id", "d"), expression=col("profile_id", "s")),
        exp.GTE(this=col("detail_at", "d"), expression=lower),
        exp.LTE(this=col("detail_at", "d"), expression=upper),
    ]
    if detail.where is not None:
        table = tick.project.warehouse.details[detail.table]
        conditions.append(compile_filter(detail.where, {c: col(c, "d") for c in table.columns}))
    totals = (
        exp.select(
            col("entry_id", "s"),
            exp.alias_(col("detail_at", "d"), "event_time"),
            exp.alias_(running, "total"),
        )
        .from_(aliased(source, "s"))
        .join("tick", join_type="cross")
        .join(aliased(ref(f"stg_details__{detail.table}"), "d"), join_type="inner", on=exp.and_(*conditions))
    )
    threshold = detail.at_least if detail.at_least is not None else (1 if detail.count is not None else 0)
    reached = (exp.GTE if detail.at_least is not None or detail.count is not None else exp.GT)(
        this=col("total"), expression=lit(threshold)
    )
    query = (
        exp.select("entry_id", exp.alias_(exp.func("MIN", col("event_time")), "event_time"))
        .from_(totals.subquery("totals"))
        .where(reached)
        .group_by("entry_id")
    )
    return tick.cte(name, query)
