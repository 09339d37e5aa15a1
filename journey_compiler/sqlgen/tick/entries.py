"""Entry admission: which trigger candidates (triggers.py) become entries in this tick, and the `entered`
transitions. Entry ids are stable (journey, profile, what triggered), so an entry is never made twice."""

from __future__ import annotations

from sqlglot import exp

from journey_compiler.ir import EntryPlan
from journey_compiler.sqlgen.ast import aliased, col, eq, lit
from journey_compiler.sqlgen.ids import stable_id
from journey_compiler.sqlgen.localtime import in_window, to_local
from journey_compiler.sqlgen.relations import ref
from journey_compiler.sqlgen.tick.builder import TickSql
from journey_compiler.sqlgen.tick.triggers import trigger_events

ENTRY_COLUMNS = ("entry_id", "profile_id", "trigger_event_id", "entry_at")


def build(tick: TickSql) -> None:
    """CTE `new_entries` (entry_id, profile_id, trigger_event_id, entry_at) and their `entered` records."""
    plan, entry = tick.plan, tick.plan.entry
    tick.cte("trigger_events", trigger_events(tick))
    nth = (
        eq(col("occurrence"), entry.count)
        if entry.mode == "cumulative"
        else eq(exp.Mod(this=col("occurrence"), expression=lit(entry.count)), 0)
    )
    entry_id = stable_id(lit(plan.id), col("profile_id", "t"), col("trigger_key", "t"))
    candidates = (
        exp.select(
            exp.alias_(entry_id, "entry_id"),
            col("profile_id", "t"),
            col("trigger_event_id", "t"),
            col("entry_at", "t"),
        )
        .from_(aliased("trigger_events", "t"))
        .where(nth)
    )
    # cumulative mode enters once per profile; the other modes once per triggering occurrence
    known = (
        eq(col("profile_id", "k"), col("profile_id", "t"))
        if entry.mode == "cumulative"
        else eq(col("entry_id", "k"), entry_id.copy())
    )
    made = exp.select("1").from_(aliased("earlier_entries", "k")).where(known)
    candidates = candidates.where(exp.not_(exp.Exists(this=made)))
    for rule in entry.audience:
        candidates = candidates.where(
            tick.segments.predicate(rule, col("profile_id", "t"), col("entry_at", "t"))
        )
    if plan.quiet_hours is not None:
        # nobody enters during the journey's local quiet hours
        local = to_local(
            col("entry_at", "t"), exp.func("COALESCE", col("timezone", "qp"), lit(plan.timezone))
        )
        candidates = candidates.join(
            aliased(ref("stg_raw__profiles"), "qp"),
            join_type="left",
            on=eq(col("profile_id", "qp"), col("profile_id", "t")),
        ).where(exp.not_(in_window(local, plan.quiet_hours.from_, plan.quiet_hours.to)))
    tick.cte("entry_candidates", candidates)
    tick.cte("new_entries", admitted(entry))
    tick.record(
        "new_entries",
        None,
        {
            "record": lit("transition"),
            "logical_at": col("entry_at"),
            **{c: col(c) for c in ENTRY_COLUMNS},
            "node_id": lit(plan.start),
            "reason": lit("entered"),
        },
    )


def admitted(entry: EntryPlan) -> exp.Select:
    """Frequency and re-entry, judged by logical time against earlier entries: a candidate is
    refused if `max` entries already fall in its window, or (without re-entry) if an earlier entry was
    still inside at its time (active, or ended after it). Of one profile's remaining candidates in this
    tick, only as many enter as the frequency leaves room for and, without re-entry, only the first;
    a later one is judged again by the next tick, when the first one's end is known."""
    earlier = exp.and_(
        eq(col("profile_id", "s"), col("profile_id", "c")),
        exp.LTE(this=col("entry_at", "s"), expression=col("entry_at", "c")),
    )
    checks: list[exp.Expression] = []
    prior = None
    if entry.frequency_max is not None:
        in_window = earlier.copy()
        if entry.frequency_per is not None:
            since = exp.Sub(
                this=col("entry_at", "c"),
                expression=exp.Interval(
                    this=lit(int(entry.frequency_per.total_seconds())), unit=exp.var("SECOND")
                ),
            )
            in_window = exp.and_(in_window, exp.GT(this=col("entry_at", "s"), expression=since))
        prior = (
            exp.select(exp.func("COUNT", exp.Star()))
            .from_(aliased("earlier_entries", "s"))
            .where(in_window)
            .subquery()
        )
        checks.append(exp.LT(this=prior, expression=lit(entry.frequency_max)))
    if not entry.reentry:
        # inside at the candidate's time: entered before it and not ended by then
        ended_by_then = (
            exp.select("1")
            .from_(aliased("ended_entries", "x"))
            .where(
                exp.and_(
                    eq(col("entry_id", "x"), col("entry_id", "s")),
                    exp.LTE(this=col("ended_at", "x"), expression=col("entry_at", "c")),
                )
            )
        )
        still_inside = exp.not_(exp.Exists(this=ended_by_then))
        inside = (
            exp.select("1")
            .from_(aliased("earlier_entries", "s"))
            .where(exp.and_(earlier.copy(), still_inside))
        )
        checks.append(exp.not_(exp.Exists(this=inside)))
    columns = [col(c, "c") for c in ENTRY_COLUMNS]
    if not checks:
        return exp.select(*columns).from_(aliased("entry_candidates", "c"))
    rank = exp.Window(
        this=exp.RowNumber(),
        partition_by=[col("profile_id", "c")],
        order=exp.Order(
            expressions=[exp.Ordered(this=col("entry_at", "c")), exp.Ordered(this=col("entry_id", "c"))]
        ),
    )
    select = [*columns, exp.alias_(rank, "rank_in_tick")]
    if prior is not None:
        select.append(exp.alias_(prior.copy(), "prior_entries"))
    admissible = exp.select(*select).from_(aliased("entry_candidates", "c")).where(exp.and_(*checks))
    limits = []
    if prior is not None:
        limits.append(
            exp.LTE(
                this=exp.Add(this=col("prior_entries"), expression=col("rank_in_tick")),
                expression=lit(entry.frequency_max),
            )
        )
    if not entry.reentry:
        limits.append(eq(col("rank_in_tick"), 1))
    return (
        exp.select(*ENTRY_COLUMNS).from_(admissible.subquery("admissible_entries")).where(exp.and_(*limits))
    )
