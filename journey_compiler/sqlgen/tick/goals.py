"""Goal completions: per entry and goal, the first time the goal was met inside its window after entry,
recorded once. Statistics, not moves: a goal's window runs on after the journey's active window ends."""

from __future__ import annotations

from sqlglot import exp

from journey_compiler.sqlgen.ast import aliased, col, eq, lit, plus, union_all
from journey_compiler.sqlgen.relations import history
from journey_compiler.sqlgen.tick.builder import TickSql, tick_col
from journey_compiler.sqlgen.tick.matching import detail_reached, nth_event

ENTRY = ("entry_id", "profile_id", "entry_at", "trigger_event_id")


def build(tick: TickSql) -> None:
    if not tick.plan.goals:
        return
    tick.cte(
        "all_entries",
        union_all(
            [
                exp.select(*ENTRY, exp.alias_(exp.true(), "carried")).from_("earlier_entries"),
                exp.select(*ENTRY, exp.alias_(exp.false(), "carried")).from_("new_entries"),
            ]
        ),
    )
    for goal in tick.plan.goals:
        upper = exp.func("LEAST", plus(col("entry_at", "s"), goal.within), tick_col("tick_at"))
        if goal.match is not None:
            done = nth_event(tick, f"goal_{goal.id}", "all_entries", goal.match, col("entry_at", "s"), upper)
        else:
            assert goal.detail is not None
            done = detail_reached(
                tick, f"goal_{goal.id}", "all_entries", goal.detail, col("entry_at", "s"), upper
            )
        recorded = (
            exp.select("1")
            .from_(aliased(history(), "h"))
            .where(
                exp.and_(
                    eq(col("record", "h"), "goal"),
                    eq(col("goal_id", "h"), goal.id),
                    eq(col("entry_id", "h"), col("entry_id", "g")),
                )
            )
        )
        tick.record(
            aliased(done, "g"),
            exp.not_(exp.Exists(this=recorded)),
            {
                "record": lit("goal"),
                "logical_at": col("event_time", "g"),
                "entry_id": col("entry_id", "g"),
                "goal_id": lit(goal.id),
                "profile_id": col("profile_id", "a"),
                "entry_at": col("entry_at", "a"),
            },
            joins=((aliased("all_entries", "a"), eq(col("entry_id", "a"), col("entry_id", "g"))),),
        )
