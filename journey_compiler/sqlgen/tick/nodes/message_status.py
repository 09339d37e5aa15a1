"""`message_status`: did a message of an earlier send node of this entry reach one of the statuses (as the
senders and provider callbacks recorded them) inside the window after the path arrived? `then` at that
status's time, else `else` when the window closes."""

from __future__ import annotations

from sqlglot import exp

from journey_compiler.config import journey as cfg
from journey_compiler.ir import Step
from journey_compiler.sqlgen.ast import aliased, col, eq, lit, not_null, plus
from journey_compiler.sqlgen.relations import ref
from journey_compiler.sqlgen.tick.builder import TickSql, tick_col
from journey_compiler.sqlgen.tick.paths import Answer


def answer(tick: TickSql, step: Step) -> Answer:
    spec = step.node_as(cfg.MessageStatusNode).message_status
    at = f"at_{step.id}"
    closes = plus(col("arrived_at", at), spec.within)
    # the entry's messages from that node, whoever received them (subject conversion may fan out)
    seen = (
        exp.select(exp.func("MIN", col("status_at", "me")))
        .from_(aliased(ref("stg_control__message_events"), "me"))
        .join(
            aliased("history", "sent"),
            join_type="inner",
            on=exp.and_(
                eq(col("message_id", "sent"), col("message_id", "me")),
                eq(col("record", "sent"), "send"),
                eq(col("node_id", "sent"), spec.of),
            ),
        )
        .where(
            exp.and_(
                eq(col("entry_id", "sent"), col("entry_id", at)),
                exp.In(this=col("status", "me"), expressions=[lit(v) for v in spec.is_]),
                exp.GTE(this=col("status_at", "me"), expression=col("arrived_at", at)),
                exp.LTE(
                    this=col("status_at", "me"),
                    expression=exp.func("LEAST", closes.copy(), tick_col("tick_at")),
                ),
            )
        )
    )
    hit = seen.subquery()
    due = exp.func(
        "COALESCE",
        hit,
        exp.Case(ifs=[exp.If(this=exp.LTE(this=closes, expression=tick_col("horizon")), true=closes.copy())]),
    )
    branch = exp.Case(ifs=[exp.If(this=not_null(hit.copy()), true=lit("then"))], default=lit("else"))
    return Answer(
        exp.select(f"{at}.*", exp.alias_(due, "due_at"), exp.alias_(branch, "branch"))
        .from_(at)
        .join("tick", join_type="cross")
    )
