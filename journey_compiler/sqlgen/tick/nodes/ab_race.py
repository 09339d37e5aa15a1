"""`ab_race`: `test_share` % of the traffic is split evenly among the variants at once (its A/B group is the
variant); the rest waits until an operator picks the winner (`journeys pick-winner`, the first pick
counts), then flows to it, at the pick's logical time or on arrival after it. With `notify`, the operator
is told once when the test phase is over."""

from __future__ import annotations

from sqlglot import exp

from journey_compiler.config import journey as cfg
from journey_compiler.ir import Step
from journey_compiler.sqlgen.ast import (
    aliased,
    col,
    earliest,
    eq,
    json_object,
    lit,
    not_null,
    plus,
    union_all,
)
from journey_compiler.sqlgen.ids import BUCKETS, bucket, stable_id
from journey_compiler.sqlgen.relations import history, ref
from journey_compiler.sqlgen.tick import admission
from journey_compiler.sqlgen.tick.builder import TickSql, tick_col
from journey_compiler.sqlgen.tick.paths import Answer


def answer(tick: TickSql, step: Step) -> Answer:
    spec = step.node_as(cfg.AbRaceNode).ab_race
    at = f"at_{step.id}"
    winner = (
        exp.select(col("value"), col("effective_at"))
        .from_(ref("stg_control__journey_controls"))
        .where(exp.and_(eq(col("journey_id"), tick.plan.id), eq(col("action"), "pick_winner")))
        .order_by("effective_at", "recorded_at")
        .limit(1)
    )
    picked = exp.LTE(this=col("effective_at", "w"), expression=tick_col("horizon"))
    due = exp.Case(
        ifs=[
            exp.If(this=not_null(col("variant")), true=col("arrived_at")),
            exp.If(this=picked, true=exp.func("GREATEST", col("arrived_at"), col("effective_at", "w"))),
        ]
    )
    assigned = tick.cte(
        f"race_{step.id}",
        exp.select(f"{at}.*", exp.alias_(_variant(tick, step, spec, col("entry_id", at)), "variant")).from_(
            at
        ),
    )
    query = (
        exp.select(
            f"{assigned}.*",
            exp.alias_(due, "due_at"),
            exp.alias_(exp.func("COALESCE", col("variant"), col("value", "w")), "branch"),
        )
        .from_(assigned)
        .join("tick", join_type="cross")
        .join(winner.subquery("w"), join_type="left", on=exp.true())
    )
    if spec.notify is not None:
        notify = spec.notify
        # counts arrivals of admitted entries only (admission.py decides after the last node)
        tick.after_admission.append(lambda: _notice(tick, step, spec, notify))
    # the test traffic carries its variant as A/B group; the rest keeps what it had
    return Answer(query, ab_group=exp.func("COALESCE", col("variant"), col("ab_group")))


def _variant(tick: TickSql, step: Step, spec: cfg.AbRaceSpec, entry_id: exp.Expression) -> exp.Expression:
    """The variant an arrival tests (by its bucket), or NULL for the traffic that waits for the winner."""
    slot = bucket(lit(tick.plan.id), entry_id, lit(step.id))
    share = spec.test_share * BUCKETS / 100
    ifs = [
        exp.If(
            this=exp.LT(this=slot.copy(), expression=lit(round(share * (i + 1) / len(spec.variants)))),
            true=lit(variant.id),
        )
        for i, variant in enumerate(spec.variants)
    ]
    return exp.Case(ifs=ifs)


def _admitted(tick: TickSql, entry_id: exp.Expression) -> list[exp.Expression]:
    """The condition that a path of this tick belongs to an admitted entry (none if all are admitted)."""
    if not admission.needed(tick.plan.entry):
        return []
    refused = exp.select("1").from_(aliased("refused_entries", "r")).where(eq(col("entry_id", "r"), entry_id))
    return [exp.not_(exp.Exists(this=refused))]


def _notice(tick: TickSql, step: Step, spec: cfg.AbRaceSpec, notify: cfg.Notify) -> None:
    """One message to the operator when the test phase is over: `test_ends_after` after the race's first
    arrival, or at the `sample_size`-th test arrival, whichever comes first."""
    arrivals = union_all(
        [
            exp.select(
                exp.alias_(col("logical_at"), "arrived_at"),
                exp.alias_(_variant(tick, step, spec, col("entry_id")), "variant"),
            )
            .from_(history())
            .where(exp.and_(eq(col("record"), "transition"), eq(col("node_id"), step.id))),
            exp.select("arrived_at", "variant")
            .from_(f"race_{step.id}")
            # qualified: inside the NOT EXISTS a bare `entry_id` would bind to refused_entries itself
            .where(exp.and_(exp.not_(col("carried")), *_admitted(tick, col("entry_id", f"race_{step.id}")))),
        ]
    )
    ends = []
    if spec.test_ends_after is not None:
        ends.append(plus(exp.func("MIN", col("arrived_at")), spec.test_ends_after))
    if spec.sample_size is not None:
        tested = exp.Window(
            this=exp.RowNumber(), order=exp.Order(expressions=[exp.Ordered(this=col("arrived_at"))])
        )
        nth = (
            exp.select("arrived_at")
            .from_(
                exp.select("arrived_at", exp.alias_(tested, "n"))
                .from_(arrivals.subquery("a"))
                .where(not_null(col("variant")))
                .subquery("t")
            )
            .where(eq(col("n"), spec.sample_size))
        )
        ends.append(exp.func("MIN", nth.subquery()))
    done = tick.cte(
        f"race_{step.id}_over",
        exp.select(exp.alias_(earliest(ends), "ended_at")).from_(arrivals.subquery("a")),
    )
    message_id = stable_id(lit(tick.plan.id), lit("race_over"), lit(step.id))
    notified = (
        exp.select("1")
        .from_(aliased(history(), "h"))
        .where(exp.and_(eq(col("record", "h"), "send"), eq(col("message_id", "h"), message_id.copy())))
    )

    payload = json_object(
        {
            "recipient": json_object({"email": lit(notify.to)}),
            "journey": json_object({"id": lit(tick.plan.id), "name": lit(tick.plan.name)}),
            "node": lit(step.id),
        }
    )
    tick.record(
        aliased(done, "o"),
        exp.and_(
            exp.LTE(this=col("ended_at", "o"), expression=tick_col("horizon")),
            exp.not_(exp.Exists(this=notified)),
        ),
        {
            "record": lit("send"),
            "logical_at": col("ended_at", "o"),
            "node_id": lit(step.id),
            "message_id": message_id,
            "recipient_id": lit(notify.to),
            "channel": lit(notify.channel),
            "template": lit(notify.template),
            "payload": payload,
            "priority": lit(1),
            "cap_exempt": exp.false(),
            "not_before": col("ended_at", "o"),
            "status": lit("queued"),
            "reason": lit("race_over"),
        },
    )
