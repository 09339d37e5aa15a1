"""`message_status`: did a message of an earlier send node of this entry reach one of the statuses (as the
senders and provider callbacks recorded them) inside the window after the path arrived? `then` at that
status's time, else `else` when the window closes."""

from __future__ import annotations

from sqlglot import exp

from journey_compiler.config import journey as cfg
from journey_compiler.ir import Step
from journey_compiler.sqlgen.ast import col, eq, lit, not_null, plus, union_all
from journey_compiler.sqlgen.relations import history, ref
from journey_compiler.sqlgen.tick.builder import TickSql, tick_col
from journey_compiler.sqlgen.tick.paths import Answer


def answer(tick: TickSql, step: Step) -> Answer:
    spec = step.node_as(cfg.MessageStatusNode).message_status
    at = f"at_{step.id}"
    closes = plus(col("arrived_at", at), spec.within)
    # the entry's messages from that node, whoever received them (subject conversion may fan out): created
    # by earlier ticks or by this one; a message the tick suppressed has that status from its creation
    messages = union_all(
        [
            exp.select(
                "entry_id",
                "message_id",
                exp.alias_(
                    exp.Case(ifs=[exp.If(this=eq(col("status"), "suppressed"), true=col("logical_at"))]),
                    "suppressed_at",
                ),
            )
            .from_(history())
            .where(exp.and_(eq(col("record"), "send"), eq(col("node_id"), spec.of))),
            exp.select(
                "entry_id",
                "message_id",
                exp.alias_(
                    exp.Case(ifs=[exp.If(this=not_null(col("suppressed_by")), true=col("arrived_at"))]),
                    "suppressed_at",
                ),
            ).from_(f"message_{spec.of}"),
        ]
    )
    statuses = union_all(
        [
            exp.select("message_id", "status", "status_at").from_(ref("stg_control__message_events")),
            exp.select(
                "message_id",
                exp.alias_(lit("suppressed"), "status"),
                exp.alias_(col("suppressed_at"), "status_at"),
            )
            .from_(messages.subquery("created"))
            .where(not_null(col("suppressed_at"))),
        ]
    )
    wanted = [lit(v) for v in spec.is_] + ([lit("expired")] if "failed" in spec.is_ else [])
    # a status reached before the path arrived counts at the arrival (docs/semantics.md)
    seen = (
        exp.select(exp.func("MIN", exp.func("GREATEST", col("status_at", "me"), col("arrived_at", at))))
        .from_(statuses.subquery("me"))
        .join(
            messages.subquery("sent"),
            join_type="inner",
            on=eq(col("message_id", "sent"), col("message_id", "me")),
        )
        .where(
            exp.and_(
                eq(col("entry_id", "sent"), col("entry_id", at)),
                exp.In(this=col("status", "me"), expressions=wanted),
                exp.LTE(
                    this=col("status_at", "me"),
                    expression=exp.func("LEAST", closes.copy(), tick_col("horizon")),
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
