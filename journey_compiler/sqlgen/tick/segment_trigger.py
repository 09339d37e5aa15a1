"""The `segment` trigger: profiles that newly satisfy the segment enter, at the instant it turned true
(docs/semantics.md, "The segment trigger").

Each tick asks the segment of every profile at the start of what it decides (the previous tick, or the
journey's start) and at every change point after it up to the horizon (state_exits.py: within one tick
only events, tag writes and detail rows change a rule). A candidate is an instant where the segment holds
and did not at the instant before; before the start stands what the previous tick recorded (a `member`
record whenever a profile's membership changed; none: not a member). A candidate at the start itself is a
change nothing dates (an attribute): it enters at the horizon, the tick that sees it, unless the start is
the journey's own (a profile in the segment when the journey starts enters at the start).
"""

from __future__ import annotations

from sqlglot import exp

from journey_compiler.sqlgen.ast import aliased, col, eq, lit, ts, union_all
from journey_compiler.sqlgen.relations import history, ref
from journey_compiler.sqlgen.tick.builder import TickSql, tick_col
from journey_compiler.sqlgen.tick.state_exits import at_change_points, change_at

MEMBER = "member"
"""The record kind of a membership change, as of the tick's horizon (status `in` / `out`)."""


def entries(tick: TickSql) -> exp.Select:
    """Trigger candidates (trigger_events' columns); also the `member` records of this tick."""
    entry = tick.plan.entry
    assert entry.segment is not None
    starts = ts(entry.starts_at)
    start = exp.func("GREATEST", exp.func("COALESCE", tick_col("previous_tick_at"), starts), starts.copy())
    profiles = aliased(ref("stg_raw__profiles"), "pr")
    first = (
        exp.select(col("profile_id", "pr"), exp.alias_(start, "at"), exp.alias_(exp.true(), "first"))
        .from_(profiles)
        .join("tick", join_type="cross")
        .where(exp.LTE(this=start.copy(), expression=tick_col("horizon")))
    )
    instants: list[exp.Query] = [first]
    changes = at_change_points(
        tick,
        list(tick.project.rule_parts(entry.segment)),
        exp.select(col("profile_id", "pr"), change_at(), exp.alias_(exp.false(), "first"))
        .distinct()
        .from_(profiles.copy()),
        "pr",
        start,
    )
    if changes is not None:
        instants.append(changes)
    member = tick.segments.predicate(entry.segment, col("profile_id", "i"), col("at", "i"))
    recorded = (
        exp.select(
            "profile_id",
            "status",
            exp.alias_(
                exp.Window(
                    this=exp.RowNumber(),
                    partition_by=[col("profile_id")],
                    order=exp.Order(expressions=[exp.Ordered(this=col("tick_at"), desc=True)]),
                ),
                "n",
            ),
        )
        .from_(history())
        .where(eq(col("record"), MEMBER))
    )
    tick.cte(
        "members_before",
        exp.select("profile_id", "status").from_(recorded.subquery("r")).where(eq(col("n"), 1)),
    )
    before = exp.func("COALESCE", eq(col("status", "m"), "in"), exp.false())
    tick.cte(
        "segment_verdicts",
        exp.select(
            col("profile_id", "i"),
            col("at", "i"),
            col("first", "i"),
            exp.alias_(member, "member"),
            exp.alias_(before, "member_before"),
            exp.alias_(
                exp.Window(
                    this=exp.RowNumber(),
                    partition_by=[col("profile_id", "i")],
                    order=exp.Order(expressions=[exp.Ordered(this=col("at", "i"), desc=True)]),
                ),
                "last",
            ),
        )
        .from_(aliased(union_all(instants).subquery(), "i"))
        .join(
            aliased("members_before", "m"),
            join_type="left",
            on=eq(col("profile_id", "m"), col("profile_id", "i")),
        ),
    )
    _record_changes(tick)
    previous = exp.Window(
        this=exp.func("LAG", col("member")),
        partition_by=[col("profile_id")],
        order=exp.Order(expressions=[exp.Ordered(this=col("at"))]),
    )
    turned = (
        exp.select(
            "profile_id",
            "at",
            "first",
            exp.alias_(exp.func("COALESCE", previous, col("member_before")), "was"),
            "member",
        )
        .from_("segment_verdicts")
        .subquery("turned")
    )
    entry_at = exp.Case(
        ifs=[
            exp.If(
                this=exp.and_(col("first"), exp.NEQ(this=col("at"), expression=starts.copy())),
                true=tick_col("horizon"),
            )
        ],
        default=col("at"),
    )
    window = [exp.GTE(this=entry_at.copy(), expression=starts.copy())]
    if entry.ends_at is not None:
        window.append(exp.LT(this=entry_at.copy(), expression=ts(entry.ends_at)))
    return (
        exp.select(
            "profile_id",
            exp.alias_(exp.cast(exp.null(), "TEXT"), "trigger_event_id"),
            exp.alias_(exp.cast(entry_at.copy(), "TEXT"), "trigger_key"),
            exp.alias_(entry_at.copy(), "entry_at"),
            exp.alias_(lit(1), "occurrence"),
            exp.alias_(exp.true(), "unjudged"),
        )
        .from_(turned)
        .join("tick", join_type="cross")
        .where(exp.and_(col("member"), exp.not_(col("was")), *window))
    )


def _record_changes(tick: TickSql) -> None:
    """A `member` record for each profile whose membership at the horizon differs from the recorded one."""
    member = col("member")
    tick.record(
        "segment_verdicts",
        exp.and_(eq(col("last"), 1), exp.NEQ(this=member, expression=col("member_before"))),
        {
            "record": lit(MEMBER),
            "logical_at": tick_col("horizon"),
            "profile_id": col("profile_id", "segment_verdicts"),
            "status": exp.Case(ifs=[exp.If(this=member.copy(), true=lit("in"))], default=lit("out")),
        },
    )
