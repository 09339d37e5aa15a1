"""Leave, stay or exit, for every path at a node, from its handler's answer (`step_<n>`); then, for all
nodes at once, the records that say so: positions (where a path rests after the tick) and transitions
(every move, with its reason)."""

from __future__ import annotations

from sqlglot import exp

from journey_compiler.ir import Step
from journey_compiler.sqlgen.ast import aliased, col, eq, is_null, lit, not_null, union_all
from journey_compiler.sqlgen.tick import lifecycle
from journey_compiler.sqlgen.tick.builder import TickSql
from journey_compiler.sqlgen.tick.paths import EXIT_BRANCH, PATH_COLUMNS, Answer

FORKED = "forked"
"""The reason of a fork's first transition (into the `all_matches` split it starts at)."""
PATH_KEYS = ("entry_id", "path_id", "profile_id", "entry_at", "trigger_event_id", "ab_group")


def build(tick: TickSql, step: Step, answer: Answer) -> None:
    """CTE `out_<n>`: the path columns plus outcome, left_at (logical), branch, next_node, exit_reason.
    An answer due during a pause takes effect at the resume (lifecycle.py). The forks of an `all_matches`
    split are kept only where they leave, and each starts with a `forked` transition into the split."""
    # when the answer takes effect, computed once per row: every expression below reads it
    held, on = lifecycle.pause_join(col("due_at", "s"), "hold")
    released = (
        exp.select("s.*", exp.alias_(lifecycle.released(col("due_at", "s"), "hold"), "released_at"))
        .from_(aliased(f"step_{step.id}", "s"))
        .join(held, on=on, join_type="left")
    )
    due = col("released_at", "s")
    exit_first = exp.and_(
        not_null(col("exit_at")),
        exp.or_(is_null(due), exp.GTE(this=due.copy(), expression=col("exit_at"))),
    )
    answered = not_null(due.copy())
    ends_path = exp.and_(answered.copy(), exp.Like(this=col("branch"), expression=lit(f"{EXIT_BRANCH}%")))
    outcome = exp.Case(
        ifs=[
            exp.If(this=exit_first, true=lit("exit")),
            exp.If(this=ends_path, true=lit("exit")),
            exp.If(this=answered, true=lit("leave")),
        ],
        default=lit("stay"),
    )
    exit_reason = exp.Case(
        ifs=[
            exp.If(this=exit_first.copy(), true=col("exit_cause", "s")),
            exp.If(
                this=ends_path.copy(), true=exp.Substring(this=col("branch"), start=lit(len(EXIT_BRANCH) + 1))
            ),
        ]
    )
    left_at = exp.Case(
        ifs=[exp.If(this=exit_first.copy(), true=exp.func("GREATEST", col("exit_at"), col("arrived_at")))],
        default=due.copy(),
    )
    next_node = (
        exp.Case(
            ifs=[
                exp.If(this=eq(col("branch"), branch), true=lit(target))
                for branch, target in step.successors.items()
            ]
        )
        if step.successors
        else exp.null()
    )
    # a path that exits as it arrives gets no work from the node: no A/B group from an ab node either
    ab_group = exp.Case(
        ifs=[exp.If(this=exit_first.copy(), true=col("ab_group", "s"))], default=answer.ab_group
    )
    columns = [exp.alias_(ab_group, "ab_group") if c == "ab_group" else col(c, "s") for c in PATH_COLUMNS]
    query = exp.select(
        *columns,
        exp.alias_(outcome, "outcome"),
        exp.alias_(left_at, "left_at"),
        col("branch", "s"),
        exp.alias_(exp.cast(next_node, "TEXT"), "next_node"),
        exp.alias_(exit_reason, "exit_reason"),
    ).from_(released.subquery("s"))
    if answer.forks:
        query = query.where(exp.or_(exp.not_(col("forked", "s")), eq(outcome.copy(), "leave")))
    out = tick.cte(f"out_{step.id}", query)
    if answer.forks:
        _record_forks(tick, step, out)


def _record_forks(tick: TickSql, step: Step, out: str) -> None:
    """A fork's first record: it starts at the split as it leaves it (its path id did not arrive there),
    so every path has one start (`entered` or `forked`) and journey_node_daily's flows balance."""
    arrived = (
        exp.select("1")
        .from_(aliased(f"at_{step.id}", "a"))
        .where(eq(col("path_id", "a"), col("path_id", "o")))
    )
    tick.record(
        aliased(out, "o"),
        exp.and_(eq(col("outcome", "o"), "leave"), exp.not_(exp.Exists(this=arrived))),
        {
            "record": lit("transition"),
            "logical_at": col("left_at", "o"),
            "node_id": lit(step.id),
            "reason": lit(FORKED),
            **{c: col(c, "o") for c in PATH_KEYS},
        },
    )


def record_moves(tick: TickSql) -> str:
    """CTE `moves`: every node's outcomes in one relation (with its `node_id`), and the records that say
    where each path rests after this tick (positions) and how it got there (transitions), built once."""
    moves = tick.cte(
        "moves",
        union_all(
            [
                exp.select(f"out_{step.id}.*", exp.alias_(lit(step.id), "node_id")).from_(f"out_{step.id}")
                for step in tick.plan.steps
            ]
        ),
    )
    o = {c: col(c, "o") for c in PATH_KEYS}
    position = {"record": lit("position"), "node_id": col("node_id", "o"), **o}
    source = aliased(moves, "o")
    is_ = lambda value: eq(col("outcome", "o"), value)  # noqa: E731
    no_next = is_null(col("next_node", "o"))
    # where the path rests after this tick: waiting at a node (new arrivals only), exited, or completed
    tick.record(
        source,
        exp.or_(
            exp.and_(is_("stay"), exp.not_(col("carried", "o"))), is_("exit"), exp.and_(is_("leave"), no_next)
        ),
        position
        | {
            "logical_at": exp.Case(
                ifs=[exp.If(this=is_("stay"), true=col("arrived_at", "o"))], default=col("left_at", "o")
            ),
            "status": exp.Case(
                ifs=[
                    exp.If(this=is_("stay"), true=lit("active")),
                    exp.If(this=is_("exit"), true=lit("exited")),
                ],
                default=lit("completed"),
            ),
            "reason": exp.Case(ifs=[exp.If(this=is_("exit"), true=col("exit_reason", "o"))]),
        },
    )
    tick.record(
        source,
        exp.or_(is_("leave"), is_("exit")),
        {
            "record": lit("transition"),
            "logical_at": col("left_at", "o"),
            "from_node": col("node_id", "o"),
            "node_id": exp.Case(
                ifs=[exp.If(this=is_("exit"), true=exp.null())], default=col("next_node", "o")
            ),
            # exit_when, a goal exit and the stop take none of the node's branches (docs/semantics.md, "An
            # exit names no branch")
            "branch": exp.Case(
                ifs=[
                    exp.If(
                        this=exp.In(
                            this=col("exit_reason", "o"),
                            expressions=[lit("exit_when"), lit("goal"), lit(lifecycle.STOPPED)],
                        ),
                        true=exp.null(),
                    )
                ],
                default=col("branch", "o"),
            ),
            **o,
            "reason": exp.Case(
                ifs=[
                    exp.If(this=is_("exit"), true=col("exit_reason", "o")),
                    exp.If(this=no_next, true=lit("completed")),
                ],
                default=lit("advanced"),
            ),
        },
    )
    return moves
