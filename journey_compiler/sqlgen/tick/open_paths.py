"""A journey's open paths after each tick (`<journey model>__open`): the compact current state the next tick
starts from, instead of the latest position of every entry ever derived from the whole history.

Built after the journey's history model from its own previous snapshot and the tick's position records:
paths that moved (by path id) are replaced (by their new resting node, or dropped when they ended), the
rest carry over. Append-only and stamped with the tick, so a re-run appends nothing; older snapshots are
pruned (the macro `prune_open_paths`), which bounds the table by the paths in flight.
"""

from __future__ import annotations

from sqlglot import exp

from journey_compiler.sqlgen.ast import aliased, col, eq
from journey_compiler.sqlgen.records import OPEN_PATH_COLUMNS, path_of
from journey_compiler.sqlgen.relations import previous_open, ref
from journey_compiler.sqlgen.tick.builder import tick_value


def latest_snapshot(relation: exp.Table) -> exp.Select:
    """The snapshot the previous tick left in `relation` (none before the first tick). Read by the previous
    tick's time, not as the latest one present: a tick that leaves no open path writes no row. A row from
    before paths had ids is its entry's path."""
    columns = [exp.alias_(path_of(), c) if c == "path_id" else col(c) for c in OPEN_PATH_COLUMNS]
    return exp.select(*columns).from_(relation).where(eq(col("tick_at"), tick_value("previous_tick_at")))


def open_paths_query(history_model: str) -> exp.Select:
    carried = [c for c in OPEN_PATH_COLUMNS if c != "tick_at"]
    moved = (
        exp.select("*")
        .from_(ref(history_model))
        .where(exp.and_(eq(col("tick_at"), tick_value("tick_at")), eq(col("record"), "position")))
    )
    kept = (
        exp.select(exp.alias_(tick_value("tick_at"), "tick_at"), *(col(c, "p") for c in carried))
        .from_(aliased("previous", "p"))
        .where(
            exp.not_(
                exp.Exists(
                    this=exp.select("1")
                    .from_(aliased("moved", "m"))
                    .where(eq(col("path_id", "m"), col("path_id", "p")))
                )
            )
        )
    )
    arrived = (
        exp.select(
            "tick_at",
            *(exp.alias_(col("logical_at"), c) if c == "arrived_at" else col(c) for c in carried),
        )
        .from_("moved")
        .where(eq(col("status"), "active"))
    )
    applied = exp.select("1").from_(previous_open()).where(eq(col("tick_at"), tick_value("tick_at")))
    return (
        exp.select("*")
        .from_(exp.union(kept, arrived, distinct=False).subquery("snapshot"))
        .where(exp.not_(exp.Exists(this=applied)))
        .with_("tick", exp.select("tick_at", "previous_tick_at").from_(ref("stg_control__tick")))
        .with_("previous", latest_snapshot(previous_open()))
        .with_("moved", moved)
    )
