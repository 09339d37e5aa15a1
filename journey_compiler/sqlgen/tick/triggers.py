"""Every way a profile may enter in this tick: trigger events (the N-th / every N-th occurrence, or an event
not followed by another) and planned times (cron occurrences, `schedule_once`). Admission (entries.py)
then applies the audience and quiet hours, admission.py the frequency and re-entry."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlglot import exp

from journey_compiler.ir import EntryPlan
from journey_compiler.sqlgen.ast import aliased, col, eq, lit, not_null, plus, ts, union_all
from journey_compiler.sqlgen.events import event_filter
from journey_compiler.sqlgen.localtime import clock_on, to_local, to_utc
from journey_compiler.sqlgen.relations import ref
from journey_compiler.sqlgen.tick import segment_trigger
from journey_compiler.sqlgen.tick.builder import TickSql, fresh_events, known_events, tick_col, tick_value


def trigger_events(tick: TickSql) -> exp.Select:
    """profile_id, trigger_event_id, trigger_key (what makes the entry id unique), entry_at (logical),
    occurrence (the N-th matching event of the profile) and `unjudged`: the candidate is judged in this tick
    (docs/semantics.md, "When a trigger is judged")."""
    entry = tick.plan.entry
    if entry.mode in ("schedule", "once"):
        return planned_entries(tick)
    if entry.mode == "segment":
        return segment_trigger.entries(tick)
    judged = _judged_profiles(tick, entry.entry_delay)
    if entry.mode == "each_of":
        return _each_of(tick, judged)
    assert entry.match is not None
    entry_at: exp.Expression = col("event_time", "e")
    conditions = [event_filter(entry.match), *_window(tick)]
    if entry.mode == "without":
        assert entry.absent is not None
        # enters when the window after the event closes without the other event
        entry_at = window_close(entry, col("event_time", "e"), col("timezone", "pt"))
        if entry.absent_by is not None:
            conditions.append(exp.GTE(this=entry_at.copy(), expression=col("event_time", "e")))
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
    candidates = _candidates(aliased(known_events(), "e"), "e", judged, entry_at, _ordinal("e"))
    if entry.absent_by is not None:
        candidates = candidates.join(
            aliased(ref("stg_raw__profiles"), "pt"),
            join_type="left",
            on=eq(col("profile_id", "pt"), col("profile_id", "e")),
        )
    return candidates.where(exp.and_(*conditions))


def window_close(entry: EntryPlan, event_time: exp.Expression, timezone: exp.Expression) -> exp.Expression:
    """When an `event_without` window opened by A at `event_time` closes: `within` after A, or at the
    `by` local time on A's local day (the profile's timezone, else the journey's; docs/semantics.md,
    "event_without by a local time"), before A when A came after that time."""
    if entry.absent_within is not None:
        return plus(event_time, entry.absent_within)
    assert entry.absent_by is not None
    zone = exp.func("COALESCE", timezone, lit(entry.timezone))
    local_day = exp.cast(to_local(event_time, zone), "DATE")
    return to_utc(clock_on(local_day, entry.absent_by), zone)


def _candidates(
    source: exp.Expression, alias: str, judged: str, entry_at: exp.Expression, occurrence: exp.Expression
) -> exp.Select:
    """The trigger events of `source` (aliased `alias`) of the profiles judged now, as candidates."""
    return (
        exp.select(
            col("profile_id", alias),
            exp.alias_(col("event_id", alias), "trigger_event_id"),
            exp.alias_(col("event_id", alias), "trigger_key"),
            exp.alias_(entry_at, "entry_at"),
            exp.alias_(occurrence, "occurrence"),
            exp.alias_(_unjudged(entry_at), "unjudged"),
        )
        .from_(source)
        .join(aliased(judged, "j"), on=eq(col("profile_id", "j"), col("profile_id", alias)))
        .join("tick", join_type="cross")
    )


def _window(tick: TickSql) -> list[exp.Expression]:
    """Trigger events (aliased `e`) happen between the trigger's start and end."""
    entry = tick.plan.entry
    window = [exp.GTE(this=col("event_time", "e"), expression=ts(entry.starts_at))]
    if entry.ends_at is not None:
        window.append(exp.LT(this=col("event_time", "e"), expression=ts(entry.ends_at)))
    return window


def _ordinal(alias: str, descending: bool = False) -> exp.Window:
    """The event's place among the profile's rows of `alias`, by time then id (the N-th occurrence)."""
    return exp.Window(
        this=exp.RowNumber(),
        partition_by=[col("profile_id", alias)],
        order=exp.Order(
            expressions=[
                exp.Ordered(this=col(name, alias), desc=descending) for name in ("event_time", "event_id")
            ]
        ),
    )


def _unjudged(entry_at: exp.Expression) -> exp.Expression:
    """New to this tick: an event at or before the candidate's time is (the candidate itself, a late event
    that moves the N-th occurrence or changes the audience's verdict), or its window closed since."""
    previous = exp.func("COALESCE", tick_col("previous_tick_at"), ts(datetime(1, 1, 1)))
    unjudged = exp.or_(
        exp.LTE(this=col("earliest_fresh", "j"), expression=entry_at.copy()),
        exp.GT(this=entry_at.copy(), expression=previous),
    )
    return exp.func("COALESCE", unjudged, exp.false())


def _each_of(tick: TickSql, judged: str) -> exp.Select:
    """`each_of`: each condition's `times`-th event; the profile's one candidate is the event that meets
    the last of them (`all`, once every one is met) or the first (`any`)."""
    entry = tick.plan.entry
    parts = []
    for match in entry.each:
        ranked = (
            exp.select(col("profile_id", "e"), col("event_id", "e"), col("event_time", "e"))
            .select(exp.alias_(_ordinal("e"), "n"))
            .from_(aliased(known_events(), "e"))
            .join(aliased(judged, "j"), on=eq(col("profile_id", "j"), col("profile_id", "e")))
            .where(exp.and_(event_filter(match), *_window(tick)))
        )
        parts.append(
            exp.select("profile_id", "event_id", "event_time")
            .from_(ranked.subquery("ranked"))
            .where(eq(col("n"), match.times))
        )
    met = exp.select(
        "profile_id",
        "event_id",
        "event_time",
        exp.alias_(_ordinal("m", descending=entry.each_match == "all"), "pick"),
        exp.alias_(exp.Window(this=exp.Count(this=exp.Star()), partition_by=[col("profile_id")]), "met"),
    ).from_(aliased(union_all(parts).subquery(), "m"))
    decided = [eq(col("pick", "c"), 1)]
    if entry.each_match == "all":
        decided.append(eq(col("met", "c"), len(entry.each)))
    return _candidates(aliased(met.subquery(), "c"), "c", judged, col("event_time", "c"), lit(1)).where(
        exp.and_(*decided)
    )


def _judged_profiles(tick: TickSql, delay: timedelta | None) -> str:
    """CTE `judged_profiles` (profile_id, earliest_fresh): only profiles that may have a candidate to judge
    are read: those with events the previous tick could not see (the earliest of their times) and, for
    triggers that enter `delay` after their event, those whose delay ended since. Their candidates are all
    of their matching events, so occurrences are counted as ever."""
    fresh = exp.select("profile_id", exp.alias_(col("event_time"), "event_time")).from_(fresh_events())
    if delay is not None:
        since = exp.func("COALESCE", tick_value("previous_tick_at"), ts(datetime(1, 1, 1)))
        closing = exp.select("profile_id", exp.alias_(exp.cast(exp.null(), "TIMESTAMP"), "event_time")).from_(
            known_events(
                since=exp.Sub(
                    this=since,
                    expression=exp.Interval(this=lit(int(delay.total_seconds())), unit=exp.var("SECOND")),
                )
            )
        )
        fresh = union_all([fresh, closing])
    return tick.cte(
        "judged_profiles",
        exp.select("profile_id", exp.alias_(exp.func("MIN", col("event_time")), "earliest_fresh"))
        .from_(fresh.subquery("changed"))
        .group_by("profile_id"),
    )


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
            exp.alias_(exp.true(), "unjudged"),
        )
        .from_(planned_times(tick).subquery("o"))
        .join("tick", join_type="cross")
        .join(aliased(ref("stg_raw__profiles"), "pr"), join_type="cross")
        .where(exp.and_(*conditions))
    )
