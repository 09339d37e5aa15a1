"""Pause, resume and stop (spec section 3, "Pause and resume"; docs/semantics.md, "Pausing a journey"),
read from the operator controls as logical times, so any tick cadence gives the same transitions.

While a journey is paused nobody enters; a move that falls due during the pause (a wait's end, an event's
answer, the departure from any other node) happens at the resume instead, and a send that a path reaches
during the pause creates its messages at the resume. Exits still apply. From the stop on nobody enters and
every open path ends with reason `stopped`.
"""

from __future__ import annotations

from datetime import datetime

from sqlglot import exp

from journey_compiler.sqlgen.ast import aliased, col, eq, is_null, ts
from journey_compiler.sqlgen.relations import ref
from journey_compiler.sqlgen.tick.builder import TickSql, tick_value

SPANS = "paused_spans"
STOPPED = "stopped"
"""The reason of the exits the stop makes."""
_OPEN = datetime(9999, 12, 31)
"""The end of a pause that has no resume (yet)."""


def _controls(tick: TickSql, action: str, alias: str) -> exp.Select:
    return (
        exp.select(col("effective_at", alias))
        .from_(aliased(ref("stg_control__journey_controls"), alias))
        .where(exp.and_(eq(col("journey_id", alias), tick.plan.id), eq(col("action", alias), action)))
    )


def build(tick: TickSql) -> None:
    """CTE `paused_spans` (paused_at, resumed_at): every pause of the journey and the first resume after it
    (a far-future time while there is none). Recording controls keeps them alternating (controls.py)."""
    resumed = _controls(tick, "resume", "r").select(exp.func("MIN", col("effective_at", "r")), append=False)
    resumed = resumed.where(exp.GT(this=col("effective_at", "r"), expression=col("effective_at", "p")))
    tick.cte(
        SPANS,
        _controls(tick, "pause", "p").select(
            exp.alias_(col("effective_at", "p"), "paused_at"),
            exp.alias_(exp.func("COALESCE", resumed.subquery(), ts(_OPEN)), "resumed_at"),
            append=False,
        ),
    )


def stop_time(tick: TickSql) -> exp.Expression:
    """The journey's stop (NULL if none): a column of the `tick` CTE."""
    first = _controls(tick, "stop", "s").select(exp.func("MIN", col("effective_at", "s")), append=False)
    return first.subquery()


def stop_seen_column() -> exp.Expression:
    """`tick`'s column `stop_seen`: the stop, once this tick's horizon has reached it (else NULL)."""
    stop = col("stopped_at")
    reached = exp.Case(ifs=[exp.If(this=exp.LTE(this=stop, expression=col("horizon")), true=stop.copy())])
    return exp.alias_(reached, "stop_seen")


def stop_seen() -> exp.Expression:
    """The stop, once this tick's horizon has reached it (else NULL)."""
    return tick_value("stop_seen")


def pause_join(time: exp.Expression, alias: str) -> tuple[exp.Expression, exp.Expression]:
    """(table, on) for a left join of the pause (if any) that `time` falls in."""
    inside = exp.and_(
        exp.GTE(this=time, expression=col("paused_at", alias)),
        exp.LT(this=time.copy(), expression=col("resumed_at", alias)),
    )
    return aliased(SPANS, alias), inside


def released(time: exp.Expression, alias: str) -> exp.Expression:
    """`time`, or the resume of the pause it falls in (joined as `alias`), NULL while that resume is beyond
    this tick's horizon: when something due at `time` happens."""
    return exp.Case(
        ifs=[
            exp.If(this=is_null(col("paused_at", alias)), true=time),
            exp.If(
                this=exp.LTE(this=col("resumed_at", alias), expression=tick_value("horizon")),
                true=col("resumed_at", alias),
            ),
        ]
    )


def held_since() -> exp.Expression:
    """When the pause that the previous tick fell in began (NULL if none): answers seen since then may
    have been held back, so paths still waiting look at them again."""
    previous = tick_value("previous_tick_at")
    inside = exp.and_(
        exp.LTE(this=col("paused_at"), expression=previous),
        exp.GT(this=col("resumed_at"), expression=previous.copy()),
    )
    return exp.select(exp.func("MIN", col("paused_at"))).from_(SPANS).where(inside).subquery()


def admits(time: exp.Expression) -> exp.Expression:
    """May an entry happen at `time`: not during a pause, not from the stop on."""
    paused = (
        exp.select("1")
        .from_(SPANS)
        .where(
            exp.and_(
                exp.GTE(this=time, expression=col("paused_at")),
                exp.LT(this=time.copy(), expression=col("resumed_at")),
            )
        )
    )
    before_stop = exp.func(
        "COALESCE", exp.LT(this=time.copy(), expression=tick_value("stopped_at")), exp.true()
    )
    return exp.and_(exp.not_(exp.Exists(this=paused)), before_stop)
