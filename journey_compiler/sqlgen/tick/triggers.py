"""Every way a profile may enter in this tick: trigger events (the N-th / every N-th occurrence, or an event
not followed by another) and planned times (cron occurrences, `schedule_once`). Admission (admission.py)
then applies the audience, quiet hours, frequency and re-entry."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlglot import exp

from journey_compiler.sqlgen.ast import aliased, col, eq, lit, not_null, plus, ts
from journey_compiler.sqlgen.events import event_filter
from journey_compiler.sqlgen.relations import history, ref
from journey_compiler.sqlgen.tick.builder import TickSql, fresh_events, known_events, tick_col, tick_value


def trigger_events(tick: TickSql) -> exp.Select:
    """profile_id, trigger_event_id, trigger_key (what makes the entry id unique), entry_at (logical),
    occurrence (the N-th matching event of the profile)."""
    entry = tick.plan.entry
    if entry.mode in ("schedule", "once"):
        return planned_entries(tick)
    assert entry.match is not None
    window = [exp.GTE(this=col("event_time", "e"), expression=ts(entry.starts_at))]
    if entry.ends_at is not None:
        window.append(exp.LT(this=col("event_time", "e"), expression=ts(entry.ends_at)))
    ordinal = exp.Window(
        this=exp.RowNumber(),
        partition_by=[col("profile_id", "e")],
        order=exp.Order(
            expressions=[exp.Ordered(this=col("event_time", "e")), exp.Ordered(this=col("event_id", "e"))]
        ),
    )
    entry_at: exp.Expression = col("event_time", "e")
    conditions = [event_filter(entry.match), *window, _judged(tick, entry.absent_within)]
    if entry.mode == "without":
        assert entry.absent is not None and entry.absent_within is not None
        # enters when the window after the event closes without the other event
        entry_at = plus(col("event_time", "e"), entry.absent_within)
        # prevented by the `times`-th other event inside the window (docs/semantics.md)
        absent = (
            exp.select(exp.func("COUNT", exp.Star()))
            .from_(aliased(known_events(), "b"))
            .where(
                exp.and_(
                    exp.EQ(this=col("profile_id", "b"), expression=col("profile_id", "e")),
                    event_filter(entry.absent, "b"),
                    exp.GTE(this=col("event_time", "b"), expression=col("event_time", "e")),
                    exp.LTE(this=col("event_time", "b"), expression=entry_at.copy()),
                    exp.NEQ(this=col("event_id", "b"), expression=col("event_id", "e")),
                )
            )
        )
        conditions += [
            exp.LTE(this=entry_at.copy(), expression=tick_col("horizon")),
            exp.LT(this=absent.subquery(), expression=exp.Literal.number(entry.absent.times)),
        ]
    return (
        exp.select(
            col("profile_id", "e"),
            exp.alias_(col("event_id", "e"), "trigger_event_id"),
            exp.alias_(col("event_id", "e"), "trigger_key"),
            exp.alias_(entry_at, "entry_at"),
            exp.alias_(ordinal, "occurrence"),
        )
        .from_(aliased(known_events(), "e"))
        .join("tick", join_type="cross")
        .where(exp.and_(*conditions))
    )


def _judged(tick: TickSql, delay: timedelta | None) -> exp.Expression:
    """Only the profiles whose candidates may have changed since the previous tick are judged again: those
    with events it could not see, those whose entry ended in it (a candidate refused while that entry was
    inside may enter now), and, for triggers that enter `delay` after their event, those whose delay ended
    since. The rest were judged with the same facts before. The candidates of a judged profile are all of
    its matching events, so occurrences are counted as ever; the events of the others are not read."""
    parts: list[exp.Query] = [
        exp.select("profile_id").from_(fresh_events()),
        exp.select("profile_id")
        .from_(history())
        .where(
            exp.and_(
                eq(col("record"), "position"),
                exp.In(this=col("status"), expressions=[lit("exited"), lit("completed")]),
                eq(col("tick_at"), tick_value("previous_tick_at")),
            )
        ),
    ]
    if delay is not None:
        since = exp.func("COALESCE", tick_value("previous_tick_at"), ts(datetime(1, 1, 1)))
        parts.append(
            exp.select("profile_id").from_(
                known_events(
                    since=exp.Sub(
                        this=since,
                        expression=exp.Interval(this=lit(int(delay.total_seconds())), unit=exp.var("SECOND")),
                    )
                )
            )
        )
    judged = tick.cte("judged_profiles", exp.union(*parts, distinct=True) if len(parts) > 1 else parts[0])
    return col("profile_id", "e").isin(query=exp.select("profile_id").from_(judged))


def planned_times(tick: TickSql) -> exp.Select:
    """When the audience of a scheduled journey enters: the recorded cron occurrences, or for
    `schedule_once` its time if approved by then, else (`run_when_approved`) the approval's time if it
    comes within 72 h; unapproved after 72 h it never runs."""
    plan, entry = tick.plan, tick.plan.entry
    if entry.mode == "schedule":
        return (
            exp.select("occurrence_at")
            .from_(ref("stg_control__schedule_occurrences"))
            .where(eq(col("journey_id"), plan.id))
        )
    assert entry.once_at is not None
    approved = (
        exp.select(exp.alias_(exp.func("MIN", col("effective_at")), "approved_at"))
        .from_(ref("stg_control__journey_controls"))
        .where(exp.and_(eq(col("journey_id"), plan.id), eq(col("action"), "approve")))
    )
    planned = ts(entry.once_at)
    ifs = [exp.If(this=exp.LTE(this=col("approved_at"), expression=planned), true=planned.copy())]
    if entry.run_when_approved:
        deadline = plus(planned.copy(), timedelta(hours=72))
        ifs.append(
            exp.If(this=exp.LTE(this=col("approved_at"), expression=deadline), true=col("approved_at"))
        )
    return exp.select(exp.alias_(exp.Case(ifs=ifs), "occurrence_at")).from_(approved.subquery("approval"))


def planned_entries(tick: TickSql) -> exp.Select:
    """Every profile at every planned time; the audience, frequency and re-entry rules filter them later.
    Each planned time is looked at once, by the first tick at or after it."""
    entry = tick.plan.entry
    occurrence = col("occurrence_at", "o")
    conditions = [
        not_null(occurrence),
        exp.GTE(this=occurrence.copy(), expression=ts(entry.starts_at)),
        exp.LTE(this=occurrence.copy(), expression=tick_col("horizon")),
        exp.or_(
            exp.Is(this=tick_col("previous_tick_at"), expression=exp.null()),
            exp.GT(this=occurrence.copy(), expression=tick_col("previous_tick_at")),
        ),
    ]
    if entry.ends_at is not None:
        conditions.append(exp.LT(this=occurrence.copy(), expression=ts(entry.ends_at)))
    return (
        exp.select(
            col("profile_id", "pr"),
            exp.alias_(exp.cast(exp.null(), "TEXT"), "trigger_event_id"),
            exp.alias_(exp.cast(occurrence.copy(), "TEXT"), "trigger_key"),
            exp.alias_(occurrence.copy(), "entry_at"),
            exp.alias_(lit(1), "occurrence"),
        )
        .from_(planned_times(tick).subquery("o"))
        .join("tick", join_type="cross")
        .join(aliased(ref("stg_raw__profiles"), "pr"), join_type="cross")
        .where(exp.and_(*conditions))
    )
