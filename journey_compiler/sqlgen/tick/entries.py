"""Entry candidates: which trigger occurrences (triggers.py) may become entries in this tick, by the rules
that do not depend on other entries (the N-th occurrence, made before, not paused or stopped, audience,
quiet hours). Each walks the journey in this tick like an entry; admission.py then keeps those the
frequency and re-entry rules admit, in logical-time order against the paths as they end within the tick.
Entry ids are stable (journey, profile, what triggered), so an entry is never made twice."""

from __future__ import annotations

from sqlglot import exp

from journey_compiler.sqlgen.ast import aliased, col, eq, lit
from journey_compiler.sqlgen.ids import stable_id
from journey_compiler.sqlgen.localtime import in_window, to_local
from journey_compiler.sqlgen.relations import ref
from journey_compiler.sqlgen.tick import lifecycle
from journey_compiler.sqlgen.tick.builder import TickSql
from journey_compiler.sqlgen.tick.triggers import trigger_events

ENTRY_COLUMNS = ("entry_id", "profile_id", "trigger_event_id", "entry_at")


def build(tick: TickSql) -> None:
    """CTE `new_entries` (entry_id, profile_id, trigger_event_id, entry_at, trigger_key): this tick's
    candidates, and their `entered` records (admission.py drops what it refuses)."""
    plan, entry = tick.plan, tick.plan.entry
    tick.cte("trigger_events", trigger_events(tick))
    nth = (
        eq(col("occurrence"), entry.count)
        if entry.once
        else eq(exp.Mod(this=col("occurrence"), expression=lit(entry.count)), 0)
    )
    entry_id = stable_id(lit(plan.id), col("profile_id", "t"), col("trigger_key", "t"))
    candidates = (
        exp.select(
            exp.alias_(entry_id, "entry_id"),
            col("profile_id", "t"),
            col("trigger_event_id", "t"),
            col("entry_at", "t"),
            col("trigger_key", "t"),
        )
        .from_(aliased("trigger_events", "t"))
        .where(exp.and_(nth, col("unjudged", "t"), lifecycle.admits(col("entry_at", "t"))))
    )
    # cumulative and each_of enter once per profile; the other modes once per triggering occurrence
    known = (
        eq(col("profile_id", "k"), col("profile_id", "t"))
        if entry.once
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
    tick.cte("new_entries", candidates)
    tick.record(
        "new_entries",
        None,
        {
            "record": lit("transition"),
            "logical_at": col("entry_at"),
            **{c: col(c) for c in ENTRY_COLUMNS},
            "path_id": col("entry_id"),
            "node_id": lit(plan.start),
            "reason": lit("entered"),
        },
    )
