"""An edited journey is a new version (its content hash, on every record). Spec section 3: "profiles in
flight stay on node ids that still exist; a profile on a removed node leaves with reason `node_removed`".

The first tick of a new version ends the paths waiting on removed nodes (at the tick's time: the moment the
new version took over; an exit or a stop that tick sees, due earlier, ends them at its own time instead, as
it would have on the node) and restates where every other waiting path rests, stamped with the new version, so
`journey_state.version` says which version each profile is on. From then on those paths follow the new
version's edges and rules like any other; its entry rules apply to new entries only.
"""

from __future__ import annotations

from sqlglot import exp

from journey_compiler.sqlgen.ast import aliased, col, eq, lit, not_null
from journey_compiler.sqlgen.tick.builder import TickSql, tick_col
from journey_compiler.sqlgen.tick.outcomes import PATH_KEYS

REMOVED = "node_removed"


def build(tick: TickSql, moves: str) -> None:
    plan = tick.plan
    nodes = [lit(step.id) for step in plan.steps]
    # a waiting path (`live` carries its exit time) on a node the new version does not have
    removed = exp.and_(col("carried", "l"), exp.not_(exp.In(this=col("node_id", "l"), expressions=nodes)))
    exits = not_null(col("exit_at", "l"))
    reason = exp.Case(ifs=[exp.If(this=exits, true=col("exit_cause", "l"))], default=lit(REMOVED))
    left_at = exp.Case(
        ifs=[
            exp.If(this=exits.copy(), true=exp.func("GREATEST", col("exit_at", "l"), col("arrived_at", "l")))
        ],
        default=tick_col("tick_at"),
    )
    source = aliased("live", "l")
    ended = {
        "node_id": exp.null(),
        "reason": reason,
        "logical_at": left_at,
        **{c: col(c, "l") for c in PATH_KEYS},
    }
    tick.record(source, removed, {"record": lit("transition"), "from_node": col("node_id", "l"), **ended})
    tick.record(
        source,
        removed.copy(),
        {"record": lit("position"), **ended, "node_id": col("node_id", "l"), "status": lit("exited")},
    )
    keys = {c: col(c, "p") for c in PATH_KEYS}
    moved = (
        exp.select("1")
        .from_(aliased(moves, "m"))
        .where(
            exp.and_(
                eq(col("path_id", "m"), col("path_id", "p")),
                exp.NEQ(this=col("outcome", "m"), expression=lit("stay")),
            )
        )
    )
    kept = exp.and_(
        exp.NEQ(this=col("version", "p"), expression=lit(plan.version)),
        exp.In(this=col("node_id", "p"), expressions=[n.copy() for n in nodes]),
        exp.not_(exp.Exists(this=moved)),
    )
    tick.record(
        aliased("open_paths", "p"),
        kept,
        {
            "record": lit("position"),
            "node_id": col("node_id", "p"),
            "logical_at": col("arrived_at", "p"),
            "status": lit("active"),
            **keys,
        },
    )
