"""Journey plan -> the SQL of one tick, as a sqlglot AST.

Per node (in topological order) two CTEs: `step_<n>` says *when* the node's answer became known (`due_at`,
a logical time, NULL while unknown) and *which* branch; `out_<n>` turns that into leave / stay / exit for
every profile at the node, so a profile runs through as many nodes as it can within one tick.
Every time is logical (event times, wait ends), which makes the result independent of the tick cadence.

Relations are dbt refs (see relations.py); the journey's own history is `{{ history }}`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta

from sqlglot import exp

from journey_compiler.config import journey as cfg
from journey_compiler.config.project import Project
from journey_compiler.config.rules import DetailCondition, Rule
from journey_compiler.expressions import compile_filter, json_columns
from journey_compiler.ir import EntryPlan, EventMatch, JourneyPlan, Step, naive_utc
from journey_compiler.sqlgen.ids import BUCKETS, bucket, stable_id
from journey_compiler.sqlgen.localtime import (
    clock_on,
    in_window,
    next_clock,
    next_month_day,
    next_weekday,
    plus_days,
    to_local,
    to_utc,
)
from journey_compiler.sqlgen.records import record_select
from journey_compiler.sqlgen.relations import HISTORY, ref
from journey_compiler.sqlgen.segments import SegmentSql

EXIT_BRANCH = "exit:"
"""A step whose branch starts with this ends the path there (an `exit` node, a missed `until`)."""
PATH_COLUMNS = (
    "entry_id",
    "profile_id",
    "entry_at",
    "trigger_event_id",
    "ab_group",
    "exit_at",
    "arrived_at",
    "carried",
)
LIVE_COLUMNS = (*PATH_COLUMNS[:5], "node_id", "arrived_at", "carried")
"""Every entry that may move in this tick: waiting ones from state and the new ones, at their node."""
PROFILE_COLUMNS = ("profile_id", "email", "phone", "timezone", "attributes")


def lit(value: str | int | float | bool | None) -> exp.Expression:
    if value is None:
        return exp.null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, str):
        return exp.Literal.string(value)
    return exp.Literal.number(value)


def ts(value: datetime) -> exp.Expression:
    return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), "TIMESTAMP")


def plus(time: exp.Expression, delta: timedelta) -> exp.Expression:
    seconds = int(delta.total_seconds())
    amount, unit = next(
        (seconds // s, u)
        for s, u in ((86400, "DAY"), (3600, "HOUR"), (60, "MINUTE"), (1, "SECOND"))
        if seconds % s == 0
    )
    return exp.Add(this=time, expression=exp.Interval(this=exp.Literal.number(amount), unit=exp.var(unit)))


def col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table)


def tick_col(name: str) -> exp.Column:
    return col(name, "tick")


def aliased(table: str | exp.Table, alias: str) -> exp.Expression:
    return exp.alias_(exp.to_table(table) if isinstance(table, str) else table, alias, table=True)


def left_node() -> exp.Expression:
    """Rows of an `out_` CTE (aliased `o`) that left the node normally: where its action happens."""
    return exp.EQ(this=col("outcome", "o"), expression=lit("leave"))


class JourneySql:
    """Builds the tick query of one journey; `visit_<kind>` methods give each node kind its step CTE."""

    def __init__(self, plan: JourneyPlan, project: Project) -> None:
        self.plan = plan
        self.ctes: list[tuple[str, exp.Expression]] = []
        self.records: list[exp.Select] = []
        self.cap_whitelist = project.channels.cap_whitelist
        self.segments = SegmentSql(
            project, exp.to_table("known_events"), ref("stg_raw__profiles"), ref("int_profile_tags")
        )

    # ------------------------------------------------------------------ helpers

    def cte(self, name: str, query: exp.Expression) -> str:
        self.ctes.append((name, query))
        return name

    def record(
        self,
        source: str,
        where: exp.Expression | None,
        values: dict[str, exp.Expression],
        joins: tuple[tuple[exp.Expression, exp.Expression], ...] = (),
    ) -> None:
        """Add one kind of output row; `source` is a CTE, aliased `o` unless it is `new_entries`."""
        base = {
            "tick_at": tick_col("tick_at"),
            "journey_id": lit(self.plan.id),
            "version": lit(self.plan.version),
        }
        query = exp.select(*record_select(base | values)).from_(source).join("tick", join_type="cross")
        for table, on in joins:
            query = query.join(table, on=on, join_type="left")
        self.records.append(query.where(where) if where is not None else query)

    def event_filter(self, match: EventMatch, alias: str = "e") -> exp.Expression:
        names = exp.In(this=col("event_name", alias), expressions=[lit(n) for n in match.names])
        if match.where is None:
            return names
        columns = json_columns(col("properties", alias), match.properties)
        return exp.and_(names, compile_filter(match.where, columns))

    def nth_event(
        self, name: str, source: str, match: EventMatch, lower: exp.Expression, upper: exp.Expression
    ) -> str:
        """(entry_id, event_time) of the `times`-th matching event in [lower, upper], per row of `source`.

        The one mechanism behind exits, goals and event checks; the triggering event never counts."""
        ranked = (
            exp.select(
                col("entry_id", "s"),
                col("event_time", "e"),
                exp.alias_(
                    exp.Window(
                        this=exp.RowNumber(),
                        partition_by=[col("entry_id", "s")],
                        order=exp.Order(
                            expressions=[
                                exp.Ordered(this=col("event_time", "e")),
                                exp.Ordered(this=col("event_id", "e")),
                            ]
                        ),
                    ),
                    "n",
                ),
            )
            .from_(exp.alias_(exp.to_table(source), "s", table=True))
            .join("tick", join_type="cross")
            .join(
                exp.alias_(exp.to_table("known_events"), "e", table=True),
                join_type="inner",
                on=exp.and_(
                    exp.EQ(this=col("profile_id", "e"), expression=col("profile_id", "s")),
                    self.event_filter(match),
                    exp.GTE(this=col("event_time", "e"), expression=lower),
                    exp.LTE(this=col("event_time", "e"), expression=upper),
                    exp.NEQ(
                        this=col("event_id", "e"),
                        expression=exp.func("COALESCE", col("trigger_event_id", "s"), lit("")),
                    ),
                ),
            )
        )
        query = (
            exp.select("entry_id", "event_time")
            .from_(ranked.subquery("ranked"))
            .where(exp.EQ(this=col("n"), expression=lit(match.times)))
        )
        return self.cte(name, query)

    def detail_reached(
        self, name: str, source: str, detail: DetailCondition, lower: exp.Expression, upper: exp.Expression
    ) -> str:
        """(entry_id, event_time) when a detail count or sum (orders, GMV) in [lower, upper] first reaches its
        threshold (`at_least`; default one row for a count, more than zero for a sum), per row of `source`."""
        column = col(detail.column, "d")
        running = exp.Window(
            this=exp.func("COUNT", column) if detail.count is not None else exp.func("SUM", column),
            partition_by=[col("entry_id", "s")],
            order=exp.Order(expressions=[exp.Ordered(this=col("detail_at", "d"))]),
            spec=exp.WindowSpec(kind="ROWS", start="UNBOUNDED", start_side="PRECEDING"),
        )
        conditions = [
            exp.EQ(this=col("profile_id", "d"), expression=col("profile_id", "s")),
            exp.GTE(this=col("detail_at", "d"), expression=lower),
            exp.LTE(this=col("detail_at", "d"), expression=upper),
        ]
        if detail.where is not None:
            table = self.segments.project.warehouse.details[detail.table]
            conditions.append(compile_filter(detail.where, {c: col(c, "d") for c in table.columns}))
        totals = (
            exp.select(
                col("entry_id", "s"),
                exp.alias_(col("detail_at", "d"), "event_time"),
                exp.alias_(running, "total"),
            )
            .from_(aliased(source, "s"))
            .join("tick", join_type="cross")
            .join(
                aliased(ref(f"stg_details__{detail.table}"), "d"), join_type="inner", on=exp.and_(*conditions)
            )
        )
        threshold = detail.at_least if detail.at_least is not None else (1 if detail.count is not None else 0)
        reached = (exp.GTE if detail.at_least is not None or detail.count is not None else exp.GT)(
            this=col("total"), expression=lit(threshold)
        )
        query = (
            exp.select("entry_id", exp.alias_(exp.func("MIN", col("event_time")), "event_time"))
            .from_(totals.subquery("totals"))
            .where(reached)
            .group_by("entry_id")
        )
        return self.cte(name, query)

    # ------------------------------------------------------------------ the query

    def build(self) -> exp.Select:
        plan = self.plan
        horizon: exp.Expression = col("tick_at")
        if plan.active_until is not None:
            horizon = exp.func("LEAST", horizon, ts(plan.active_until))
        self.cte(
            "tick",
            exp.select("tick_at", "watermark", "previous_tick_at", exp.alias_(horizon, "horizon")).from_(
                ref("stg_control__tick")
            ),
        )
        self.cte(
            "known_events",
            exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier("e")))
            .from_(exp.alias_(ref("stg_raw__events"), "e", table=True))
            .join("tick", join_type="cross")
            .where(
                exp.and_(
                    exp.LTE(this=col("event_time", "e"), expression=tick_col("tick_at")),
                    exp.LTE(this=col("loaded_at", "e"), expression=tick_col("watermark")),
                )
            ),
        )
        self.cte(
            "history",
            exp.select("*")
            .from_(HISTORY)
            .where(exp.LT(this=col("tick_at"), expression=exp.select("tick_at").from_("tick").subquery())),
        )
        latest = exp.Window(
            this=exp.RowNumber(),
            partition_by=[col("entry_id")],
            order=exp.Order(expressions=[exp.Ordered(this=col("tick_at"), desc=True)]),
        )
        self.cte(
            "state",
            exp.select("*")
            .from_(
                exp.select("*", exp.alias_(latest, "latest"))
                .from_("history")
                .where(exp.EQ(this=col("record"), expression=lit("position")))
                .subquery("positions")
            )
            .where(exp.EQ(this=col("latest"), expression=lit(1))),
        )
        self.entries()
        self.exits()
        for step in plan.steps:
            self.step(step)
        self.goals()
        return self.final()

    def trigger_events(self) -> exp.Select:
        """Every way a profile may enter: profile_id, trigger_event_id, trigger_key (what makes the entry id
        unique), entry_at (logical), occurrence (the N-th matching event of the profile)."""
        entry = self.plan.entry
        if entry.mode in ("schedule", "once"):
            return self.planned_entries()
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
        conditions = [self.event_filter(entry.match), *window]
        if entry.mode == "without":
            assert entry.absent is not None and entry.absent_within is not None
            # enters when the window after the event closes without the other event
            entry_at = plus(col("event_time", "e"), entry.absent_within)
            absent = (
                exp.select("1")
                .from_(aliased("known_events", "b"))
                .where(
                    exp.and_(
                        exp.EQ(this=col("profile_id", "b"), expression=col("profile_id", "e")),
                        self.event_filter(entry.absent, "b"),
                        exp.GTE(this=col("event_time", "b"), expression=col("event_time", "e")),
                        exp.LTE(this=col("event_time", "b"), expression=entry_at.copy()),
                        exp.NEQ(this=col("event_id", "b"), expression=col("event_id", "e")),
                    )
                )
            )
            conditions += [
                exp.LTE(this=entry_at.copy(), expression=tick_col("horizon")),
                exp.not_(exp.Exists(this=absent)),
            ]
        return (
            exp.select(
                col("profile_id", "e"),
                exp.alias_(col("event_id", "e"), "trigger_event_id"),
                exp.alias_(col("event_id", "e"), "trigger_key"),
                exp.alias_(entry_at, "entry_at"),
                exp.alias_(ordinal, "occurrence"),
            )
            .from_(aliased("known_events", "e"))
            .join("tick", join_type="cross")
            .where(exp.and_(*conditions))
        )

    def planned_times(self) -> exp.Select:
        """When the audience of a scheduled journey enters: the recorded cron occurrences, or for
        `schedule_once` its time if approved by then, else (`run_when_approved`) the approval's time if it
        comes within 72 h; unapproved after 72 h it never runs."""
        entry = self.plan.entry
        if entry.mode == "schedule":
            return (
                exp.select("occurrence_at")
                .from_(ref("stg_control__schedule_occurrences"))
                .where(exp.EQ(this=col("journey_id"), expression=lit(self.plan.id)))
            )
        assert entry.once_at is not None
        approved = (
            exp.select(exp.alias_(exp.func("MIN", col("effective_at")), "approved_at"))
            .from_(ref("stg_control__journey_controls"))
            .where(
                exp.and_(
                    exp.EQ(this=col("journey_id"), expression=lit(self.plan.id)),
                    exp.EQ(this=col("action"), expression=lit("approve")),
                )
            )
        )
        planned = ts(entry.once_at)
        ifs = [exp.If(this=exp.LTE(this=col("approved_at"), expression=planned), true=planned.copy())]
        if entry.run_when_approved:
            deadline = plus(planned.copy(), timedelta(hours=72))
            ifs.append(
                exp.If(this=exp.LTE(this=col("approved_at"), expression=deadline), true=col("approved_at"))
            )
        return exp.select(exp.alias_(exp.Case(ifs=ifs), "occurrence_at")).from_(approved.subquery("approval"))

    def planned_entries(self) -> exp.Select:
        """Every profile at every planned time; the audience, frequency and re-entry rules filter them later.
        Each planned time is looked at once, by the first tick at or after it."""
        entry = self.plan.entry
        occurrence = col("occurrence_at", "o")
        conditions = [
            exp.Is(this=occurrence, expression=exp.null()).not_(),
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
            .from_(self.planned_times().subquery("o"))
            .join("tick", join_type="cross")
            .join(aliased(ref("stg_raw__profiles"), "pr"), join_type="cross")
            .where(exp.and_(*conditions))
        )

    def entries(self) -> None:
        plan, entry = self.plan, self.plan.entry
        self.cte("trigger_events", self.trigger_events())
        nth = (
            exp.EQ(this=col("occurrence"), expression=lit(entry.count))
            if entry.mode == "cumulative"
            else exp.EQ(this=exp.Mod(this=col("occurrence"), expression=lit(entry.count)), expression=lit(0))
        )
        entry_id = stable_id(lit(plan.id), col("profile_id", "t"), col("trigger_key", "t"))
        candidates = (
            exp.select(
                exp.alias_(entry_id, "entry_id"),
                col("profile_id", "t"),
                col("trigger_event_id", "t"),
                col("entry_at", "t"),
            )
            .from_(aliased("trigger_events", "t"))
            .where(nth)
        )
        # cumulative mode enters once per profile; the other modes once per triggering occurrence
        known = (
            exp.EQ(this=col("profile_id", "state"), expression=col("profile_id", "t"))
            if entry.mode == "cumulative"
            else exp.EQ(this=col("entry_id", "state"), expression=entry_id.copy())
        )
        candidates = candidates.where(exp.not_(exp.Exists(this=exp.select("1").from_("state").where(known))))
        for rule in entry.audience:
            candidates = candidates.where(
                self.segments.predicate(rule, col("profile_id", "t"), col("entry_at", "t"))
            )
        if plan.quiet_hours is not None:
            # nobody enters during the journey's local quiet hours
            local = to_local(
                col("entry_at", "t"), exp.func("COALESCE", col("timezone", "qp"), lit(plan.timezone))
            )
            candidates = candidates.join(
                aliased(ref("stg_raw__profiles"), "qp"),
                join_type="left",
                on=exp.EQ(this=col("profile_id", "qp"), expression=col("profile_id", "t")),
            ).where(exp.not_(in_window(local, plan.quiet_hours.from_, plan.quiet_hours.to)))
        self.cte("entry_candidates", candidates)
        self.admit(entry)
        admitted = exp.select("*").from_("admitted_entries")
        self.cte("new_entries", admitted)
        self.record(
            "new_entries",
            None,
            {
                "record": lit("transition"),
                "logical_at": col("entry_at"),
                "entry_id": col("entry_id"),
                "profile_id": col("profile_id"),
                "entry_at": col("entry_at"),
                "trigger_event_id": col("trigger_event_id"),
                "node_id": lit(plan.start),
                "reason": lit("entered"),
            },
        )

    def admit(self, entry: EntryPlan) -> None:
        """Frequency and re-entry, judged by logical time against earlier entries (`state`): a candidate is
        refused if `max` entries already fall in its window, or (without re-entry) if an earlier entry was
        still inside at its time (active, or ended after it). Of one profile's remaining candidates in this
        tick, only as many enter as the frequency leaves room for and, without re-entry, only the first;
        a later one is judged again by the next tick, when the first one's end is known."""
        earlier = exp.and_(
            exp.EQ(this=col("profile_id", "s"), expression=col("profile_id", "c")),
            exp.LTE(this=col("entry_at", "s"), expression=col("entry_at", "c")),
        )
        checks: list[exp.Expression] = []
        prior = None
        if entry.frequency_max is not None:
            in_window = earlier.copy()
            if entry.frequency_per is not None:
                since = exp.Sub(
                    this=col("entry_at", "c"),
                    expression=exp.Interval(
                        this=lit(int(entry.frequency_per.total_seconds())), unit=exp.var("SECOND")
                    ),
                )
                in_window = exp.and_(in_window, exp.GT(this=col("entry_at", "s"), expression=since))
            prior = (
                exp.select(exp.func("COUNT", exp.Star()))
                .from_(aliased("state", "s"))
                .where(in_window)
                .subquery()
            )
            checks.append(exp.LT(this=prior, expression=lit(entry.frequency_max)))
        if not entry.reentry:
            inside = (
                exp.select("1")
                .from_(aliased("state", "s"))
                .where(
                    exp.and_(
                        earlier.copy(),
                        exp.or_(
                            exp.EQ(this=col("status", "s"), expression=lit("active")),
                            exp.GT(this=col("logical_at", "s"), expression=col("entry_at", "c")),
                        ),
                    )
                )
            )
            checks.append(exp.not_(exp.Exists(this=inside)))
        columns = [col(c, "c") for c in ("entry_id", "profile_id", "trigger_event_id", "entry_at")]
        if not checks:
            self.cte("admitted_entries", exp.select(*columns).from_(aliased("entry_candidates", "c")))
            return
        rank = exp.Window(
            this=exp.RowNumber(),
            partition_by=[col("profile_id", "c")],
            order=exp.Order(
                expressions=[exp.Ordered(this=col("entry_at", "c")), exp.Ordered(this=col("entry_id", "c"))]
            ),
        )
        select = [*columns, exp.alias_(rank, "rank_in_tick")]
        if prior is not None:
            select.append(exp.alias_(prior.copy(), "prior_entries"))
        self.cte(
            "admissible_entries",
            exp.select(*select).from_(aliased("entry_candidates", "c")).where(exp.and_(*checks)),
        )
        limits = []
        if prior is not None:
            limits.append(
                exp.LTE(
                    this=exp.Add(this=col("prior_entries"), expression=col("rank_in_tick")),
                    expression=lit(entry.frequency_max),
                )
            )
        if not entry.reentry:
            limits.append(exp.EQ(this=col("rank_in_tick"), expression=lit(1)))
        self.cte(
            "admitted_entries",
            exp.select("entry_id", "profile_id", "trigger_event_id", "entry_at")
            .from_("admissible_entries")
            .where(exp.and_(*limits)),
        )

    def exits(self) -> None:
        live = exp.union(
            exp.select(
                "entry_id",
                "profile_id",
                "entry_at",
                "trigger_event_id",
                "ab_group",
                "node_id",
                exp.alias_(col("logical_at"), "arrived_at"),
                exp.alias_(exp.true(), "carried"),
            )
            .from_("state")
            .where(exp.EQ(this=col("status"), expression=lit("active"))),
            exp.select(
                "entry_id",
                "profile_id",
                "entry_at",
                "trigger_event_id",
                exp.alias_(exp.cast(exp.null(), "TEXT"), "ab_group"),
                exp.alias_(lit(self.plan.start), "node_id"),
                exp.alias_(col("entry_at"), "arrived_at"),
                exp.alias_(exp.false(), "carried"),
            ).from_("new_entries"),
            distinct=False,
        )
        self.cte("live_entries", live)
        firsts = [
            self.nth_event(f"exit_{i + 1}", "live_entries", match, col("entry_at", "s"), tick_col("horizon"))
            for i, match in enumerate(self.plan.exits)
        ]
        if firsts:
            union = firsts[0]
            query: exp.Query = exp.select("*").from_(union)
            for other in firsts[1:]:
                query = exp.union(query, exp.select("*").from_(other), distinct=False)
            self.cte(
                "exits",
                exp.select("entry_id", exp.alias_(exp.func("MIN", col("event_time")), "exit_at"))
                .from_(query.subquery("exit_events"))
                .group_by("entry_id"),
            )
            exit_at: exp.Expression = col("exit_at", "x")
        else:
            exit_at = exp.cast(exp.null(), "TIMESTAMP")
        live_cols = [col(c, "l") for c in LIVE_COLUMNS]
        query = exp.select(*live_cols, exp.alias_(exit_at, "exit_at")).from_(
            exp.alias_(exp.to_table("live_entries"), "l", table=True)
        )
        if firsts:
            query = query.join(
                exp.alias_(exp.to_table("exits"), "x", table=True),
                join_type="left",
                on=exp.EQ(this=col("entry_id", "x"), expression=col("entry_id", "l")),
            )
        self.cte("live", query)

    # ------------------------------------------------------------------ nodes

    def step(self, step: Step) -> None:
        arrivals: exp.Query = (
            exp.select(*PATH_COLUMNS)
            .from_("live")
            .where(exp.EQ(this=col("node_id"), expression=lit(step.id)))
        )
        for source, branch in self.plan.predecessors(step.id):
            moved = [
                exp.alias_(col("left_at"), "arrived_at")
                if c == "arrived_at"
                else exp.alias_(exp.false(), "carried")
                if c == "carried"
                else col(c)
                for c in PATH_COLUMNS
            ]
            arrivals = exp.union(
                arrivals,
                exp.select(*moved)
                .from_(f"out_{source}")
                .where(
                    exp.and_(
                        exp.EQ(this=col("outcome"), expression=lit("leave")),
                        exp.EQ(this=col("branch"), expression=lit(branch)),
                    )
                ),
                distinct=False,
            )
        self.cte(f"at_{step.id}", arrivals)
        visit: Callable[[Step], tuple[exp.Select, exp.Expression]] = getattr(self, f"visit_{step.kind}")
        step_query, ab_group = visit(step)
        self.cte(f"step_{step.id}", step_query)
        self.outcome(step, ab_group)
        finish = getattr(self, f"finish_{step.kind}", None)
        if finish is not None:
            finish(step)

    def instant(self, step: Step, branch: exp.Expression) -> exp.Select:
        return self.instant_from(f"at_{step.id}", branch)

    @staticmethod
    def instant_from(source: str, branch: exp.Expression) -> exp.Select:
        """A node that answers the moment a profile arrives."""
        return exp.select("*", exp.alias_(col("arrived_at"), "due_at"), exp.alias_(branch, "branch")).from_(
            source
        )

    def recipients(self, step: Step, spec: cfg.SendSpec) -> str:
        """Who receives the message: the profile itself, or the profiles related to it (subject conversion:
        `one` = the first related id, `all` = each). No related profile leaves recipient_id NULL."""
        at = f"at_{step.id}"
        if spec.subject is None:
            return self.cte(
                f"recipients_{step.id}",
                exp.select(f"{at}.*", exp.alias_(col("profile_id", at), "recipient_id")).from_(at),
            )
        related = (
            exp.select(col("from_id"), exp.alias_(col("to_id"), "recipient_id"))
            .from_(ref("stg_raw__relations"))
            .where(exp.EQ(this=col("relation"), expression=lit(spec.subject.relation)))
        )
        if spec.subject.pick == "one":
            related = (
                exp.select("from_id", exp.alias_(exp.func("MIN", col("recipient_id")), "recipient_id"))
                .from_(related.subquery("related"))
                .group_by("from_id")
            )
        return self.cte(
            f"recipients_{step.id}",
            exp.select(f"{at}.*", col("recipient_id", "rel"))
            .from_(at)
            .join(
                related.subquery("rel"),
                join_type="left",
                on=exp.EQ(this=col("from_id", "rel"), expression=col("profile_id", at)),
            ),
        )

    def visit_send(self, step: Step) -> tuple[exp.Select, exp.Expression]:
        """Create the message(s) on arrival (unless the profile exits first); wait for the outcome if the node
        branches on it. The tick itself suppresses what must not go out (blacklisted recipient, quiet hours
        with `drop`, non-trading day with `skip`, no recipient); `defer`/`postpone` move `not_before`."""
        spec: cfg.SendSpec = step.node.send  # type: ignore[attr-defined]
        r = "r"
        recipients = self.recipients(step, spec)
        local_tz = exp.func("COALESCE", col("timezone", "rp"), lit(self.plan.timezone))
        arrived = col("arrived_at", r)
        local = to_local(arrived, local_tz)
        suppressed = [
            exp.If(this=exp.Is(this=col("recipient_id", r), expression=exp.null()), true=lit("no_recipient"))
        ]
        not_before: exp.Expression = arrived.copy()
        if spec.blacklist is not None:
            listed = self.segments.predicate(Rule(segment=spec.blacklist), col("recipient_id", r), arrived)
            suppressed.append(exp.If(this=listed, true=lit("blacklist")))
        if spec.non_trading_day in ("skip", "postpone"):
            closed = exp.Exists(
                this=exp.select("1")
                .from_(aliased(ref("stg_raw__trading_calendar"), "cal"))
                .where(
                    exp.and_(
                        exp.EQ(this=col("day", "cal"), expression=exp.cast(local.copy(), "DATE")),
                        exp.not_(col("is_trading_day", "cal")),
                    )
                )
            )
            if spec.non_trading_day == "skip":
                suppressed.append(exp.If(this=closed, true=lit("non_trading_day")))
            else:
                next_open = (
                    exp.select(exp.func("MIN", col("day", "cal")))
                    .from_(aliased(ref("stg_raw__trading_calendar"), "cal"))
                    .where(
                        exp.and_(
                            col("is_trading_day", "cal"),
                            exp.GT(this=col("day", "cal"), expression=exp.cast(local.copy(), "DATE")),
                        )
                    )
                )
                time_of_day = exp.paren(
                    exp.Sub(
                        this=local.copy(),
                        expression=exp.TimestampTrunc(this=local.copy(), unit=exp.var("DAY")),
                    )
                )
                same_time = exp.Add(this=exp.cast(next_open.subquery(), "TIMESTAMP"), expression=time_of_day)
                not_before = exp.Case(
                    ifs=[exp.If(this=closed, true=to_utc(same_time, local_tz))], default=not_before
                )
        if spec.quiet_hours is not None:
            quiet = spec.quiet_hours
            inside = in_window(to_local(not_before, local_tz), quiet.from_, quiet.to)
            if quiet.policy == "drop":
                suppressed.append(exp.If(this=inside, true=lit("quiet_hours")))
            else:
                resume = to_utc(next_clock(to_local(not_before, local_tz), quiet.to), local_tz)
                not_before = exp.Case(ifs=[exp.If(this=inside, true=resume)], default=not_before)
        message_id = stable_id(
            lit(self.plan.id),
            col("entry_id", r),
            lit(step.id),
            exp.func("COALESCE", col("recipient_id", r), lit("")),
        )
        whitelist = spec.cap_whitelist or self.cap_whitelist
        exempt = (
            self.segments.predicate(Rule(segment=whitelist), col("recipient_id", r), arrived)
            if whitelist
            else exp.false()
        )
        messages = self.cte(
            f"message_{step.id}",
            exp.select(
                f"{r}.*",
                exp.alias_(message_id, "message_id"),
                exp.alias_(exempt, "cap_exempt"),
                exp.alias_(exp.Case(ifs=suppressed), "suppressed_by"),
                exp.alias_(not_before, "not_before"),
            )
            .from_(aliased(recipients, r))
            .join(
                aliased(ref("stg_raw__profiles"), "rp"),
                join_type="left",
                on=exp.EQ(this=col("profile_id", "rp"), expression=col("recipient_id", r)),
            ),
        )
        created = exp.and_(
            exp.not_(col("carried", "o")),
            exp.or_(
                exp.Is(this=col("exit_at", "o"), expression=exp.null()),
                exp.GT(this=col("exit_at", "o"), expression=col("arrived_at", "o")),
            ),
        )
        self.record(
            aliased(messages, "o").sql(),
            created,
            {
                "record": lit("send"),
                "logical_at": col("arrived_at", "o"),
                "entry_id": col("entry_id", "o"),
                "profile_id": col("profile_id", "o"),
                "node_id": lit(step.id),
                "message_id": col("message_id", "o"),
                "recipient_id": col("recipient_id", "o"),
                "channel": lit(spec.channel),
                "template": lit(spec.template),
                "payload": self.payload(),
                "priority": lit(self.plan.priority),
                "not_before": col("not_before", "o"),
                "ab_group": col("ab_group", "o"),
                "reason": col("suppressed_by", "o"),
                "cap_exempt": col("cap_exempt", "o"),
                "status": exp.Case(
                    ifs=[
                        exp.If(
                            this=exp.Is(this=col("suppressed_by", "o"), expression=exp.null()),
                            true=lit("queued"),
                        )
                    ],
                    default=lit("suppressed"),
                ),
            },
            joins=(
                (
                    aliased(ref("stg_raw__profiles"), "p"),
                    exp.EQ(this=col("profile_id", "p"), expression=col("profile_id", "o")),
                ),
                (
                    aliased(ref("stg_raw__profiles"), "rp"),
                    exp.EQ(this=col("profile_id", "rp"), expression=col("recipient_id", "o")),
                ),
                (
                    aliased("known_events", "ev"),
                    exp.EQ(this=col("event_id", "ev"), expression=col("trigger_event_id", "o")),
                ),
            ),
        )
        outcomes = {b: t for b, t in step.successors.items() if b.startswith("on_")}
        if not outcomes:
            return self.instant(step, lit("next")), col("ab_group")
        # wait for the first final outcome the senders recorded (or the suppression decided here)
        outcome = (
            exp.select(
                "message_id",
                exp.alias_(exp.func("MIN", col("status_at")), "status_at"),
                exp.alias_(exp.func("ARG_MIN", col("status"), col("status_at")), "status"),
            )
            .from_(ref("stg_control__message_events"))
            .join("tick", join_type="cross")
            .where(
                exp.and_(
                    exp.In(
                        this=col("status"), expressions=[lit(v) for v in ("sent", "failed", "suppressed")]
                    ),
                    exp.LTE(this=col("status_at"), expression=tick_col("tick_at")),
                )
            )
            .group_by("message_id")
        )
        self.cte(f"outcome_{step.id}", outcome)
        sent_branch = (
            "on_sent" if "on_sent" in outcomes else ("next" if "next" in step.successors else "on_sent")
        )
        branch = exp.Case(
            ifs=[
                exp.If(
                    this=exp.Is(this=col("suppressed_by", "m"), expression=exp.null()).not_(),
                    true=lit("on_suppressed"),
                ),
                exp.If(this=exp.EQ(this=col("status", "x"), expression=lit("sent")), true=lit(sent_branch)),
            ],
            default=exp.DPipe(this=lit("on_"), expression=col("status", "x")),
        )
        # (GREATEST ignores NULLs on some engines: no outcome yet must stay NULL, i.e. keep waiting)
        due = exp.Case(
            ifs=[
                exp.If(
                    this=exp.Is(this=col("suppressed_by", "m"), expression=exp.null()).not_(),
                    true=col("arrived_at", "m"),
                ),
                exp.If(this=exp.Is(this=col("status_at", "x"), expression=exp.null()), true=exp.null()),
            ],
            default=exp.func("GREATEST", col("status_at", "x"), col("arrived_at", "m")),
        )
        columns = [col(c, "m") for c in PATH_COLUMNS]
        query = (
            exp.select(*columns, exp.alias_(due, "due_at"), exp.alias_(branch, "branch"))
            .from_(aliased(messages, "m"))
            .join(
                aliased(f"outcome_{step.id}", "x"),
                join_type="left",
                on=exp.EQ(this=col("message_id", "x"), expression=col("message_id", "m")),
            )
        )
        return query, col("ab_group")

    def visit_add_tag(self, step: Step) -> tuple[exp.Select, exp.Expression]:
        return self.tagging(step, step.node.add_tag, removed=False)  # type: ignore[attr-defined]

    def visit_remove_tag(self, step: Step) -> tuple[exp.Select, exp.Expression]:
        return self.tagging(step, step.node.remove_tag, removed=True)  # type: ignore[attr-defined]

    def tagging(self, step: Step, tag: str, removed: bool) -> tuple[exp.Select, exp.Expression]:
        self.record(
            aliased(f"out_{step.id}", "o").sql(),
            left_node(),
            {
                "record": lit("tag"),
                "logical_at": col("left_at", "o"),
                "entry_id": col("entry_id", "o"),
                "profile_id": col("profile_id", "o"),
                "node_id": lit(step.id),
                "tag": lit(tag),
                "removed": lit(removed),
            },
        )
        return self.instant(step, lit("next")), col("ab_group")

    def visit_exit(self, step: Step) -> tuple[exp.Select, exp.Expression]:
        spec = step.node.exit  # type: ignore[attr-defined]
        reason = spec.reason if isinstance(spec, cfg.ExitSpec) else "exit_node"
        return self.instant(step, lit(f"{EXIT_BRANCH}{reason}")), col("ab_group")

    def visit_wait(self, step: Step) -> tuple[exp.Select, exp.Expression]:
        """Leave when the wait's end (a logical time) has come; a wait `until` a time already past when the
        profile arrives ends its path with reason `missed`."""
        wait: cfg.WaitSpec = step.node.wait  # type: ignore[attr-defined]
        at = f"at_{step.id}"
        arrived = col("arrived_at", at)
        query = exp.select(f"{at}.*").from_(at).join("tick", join_type="cross")
        branch: exp.Expression = lit("next")
        if wait.form == "for":
            assert wait.for_ is not None
            ends: exp.Expression = plus(arrived, wait.for_)
        elif wait.form == "until":
            assert wait.until is not None
            until = ts(naive_utc(wait.until))
            missed = exp.GT(this=arrived.copy(), expression=until)
            ends = exp.Case(ifs=[exp.If(this=missed, true=arrived.copy())], default=until.copy())
            branch = exp.Case(ifs=[exp.If(this=missed.copy(), true=lit("exit:missed"))], default=lit("next"))
        else:
            tz = exp.func("COALESCE", col("timezone", "p"), lit(self.plan.timezone))
            query = query.join(
                aliased(ref("stg_raw__profiles"), "p"),
                join_type="left",
                on=exp.EQ(this=col("profile_id", "p"), expression=col("profile_id", at)),
            )
            ends = to_utc(self.local_wait_end(wait, to_local(arrived, tz)), tz)
        due = exp.Case(
            ifs=[exp.If(this=exp.LTE(this=ends, expression=tick_col("horizon")), true=ends.copy())]
        )
        return query.select(exp.alias_(due, "due_at"), exp.alias_(branch, "branch")), col("ab_group")

    @staticmethod
    def local_wait_end(wait: cfg.WaitSpec, local: exp.Expression) -> exp.Expression:
        clock = wait.at or time(0, 0)
        if wait.form == "weekday":
            return next_weekday(local, cfg.WEEKDAYS.index(str(wait.weekday)) + 1, clock)
        if wait.form == "month_day":
            assert wait.month_day is not None
            return next_month_day(local, wait.month_day, clock)
        if wait.form == "trading_day":
            trading = (
                exp.select(exp.func("MIN", col("day", "cal")))
                .from_(aliased(ref("stg_raw__trading_calendar"), "cal"))
                .where(
                    exp.and_(
                        col("is_trading_day", "cal"),
                        exp.GTE(this=clock_on(col("day", "cal"), clock), expression=local.copy()),
                    )
                )
            )
            return clock_on(trading.subquery(), clock)
        return plus_days(next_clock(local, clock), (wait.day or 1) - 1)

    def visit_event_check(self, step: Step) -> tuple[exp.Select, exp.Expression]:
        return self.event_race(step, step.node.event_check.within, "else")  # type: ignore[attr-defined]

    def visit_wait_for_event(self, step: Step) -> tuple[exp.Select, exp.Expression]:
        return self.event_race(step, step.node.wait_for_event.within, "timeout")  # type: ignore[attr-defined]

    def visit_event_split(self, step: Step) -> tuple[exp.Select, exp.Expression]:
        return self.event_race(step, step.node.event_split.within, "else")  # type: ignore[attr-defined]

    def event_race(self, step: Step, within: timedelta, otherwise: str) -> tuple[exp.Select, exp.Expression]:
        """Wait at the node: the first branch whose event condition is met inside the window wins, at that
        event's time; if none is met, `otherwise` when the window closes. (event_check, wait_for_event,
        event_split are all this.)"""
        at = f"at_{step.id}"
        closes = plus(col("arrived_at", at), within)
        upper = exp.func("LEAST", plus(col("arrived_at", "s"), within), tick_col("horizon"))
        hits = []
        query = exp.select(f"{at}.*").from_(at).join("tick", join_type="cross")
        for i, (branch, match) in enumerate(step.events.items()):
            alias = f"h{i + 1}"
            name = self.nth_event(f"hits_{step.id}_{i + 1}", at, match, col("arrived_at", "s"), upper)
            query = query.join(
                aliased(name, alias),
                join_type="left",
                on=exp.EQ(this=col("entry_id", alias), expression=col("entry_id", at)),
            )
            hits.append((branch, col("event_time", alias)))
        first = exp.func("LEAST", *(h for _, h in hits)) if len(hits) > 1 else hits[0][1]
        window_closed = exp.Case(
            ifs=[exp.If(this=exp.LTE(this=closes, expression=tick_col("horizon")), true=closes)]
        )
        branch = exp.Case(
            ifs=[exp.If(this=exp.EQ(this=h.copy(), expression=first.copy()), true=lit(b)) for b, h in hits],
            default=lit(otherwise),
        )
        query = query.select(
            exp.alias_(exp.func("COALESCE", first, window_closed), "due_at"), exp.alias_(branch, "branch")
        )
        return query, col("ab_group")

    def visit_message_status(self, step: Step) -> tuple[exp.Select, exp.Expression]:
        spec: cfg.MessageStatusSpec = step.node.message_status  # type: ignore[attr-defined]
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
                    exp.EQ(this=col("message_id", "sent"), expression=col("message_id", "me")),
                    exp.EQ(this=col("record", "sent"), expression=lit("send")),
                    exp.EQ(this=col("node_id", "sent"), expression=lit(spec.of)),
                ),
            )
            .where(
                exp.and_(
                    exp.EQ(this=col("entry_id", "sent"), expression=col("entry_id", at)),
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
            exp.Case(
                ifs=[exp.If(this=exp.LTE(this=closes, expression=tick_col("horizon")), true=closes.copy())]
            ),
        )
        branch = exp.Case(
            ifs=[exp.If(this=exp.Is(this=hit.copy(), expression=exp.null()).not_(), true=lit("then"))],
            default=lit("else"),
        )
        return (
            exp.select(f"{at}.*", exp.alias_(due, "due_at"), exp.alias_(branch, "branch"))
            .from_(at)
            .join("tick", join_type="cross")
        ), col("ab_group")

    def visit_ab_race(self, step: Step) -> tuple[exp.Select, exp.Expression]:
        """`test_share` % of the traffic is split evenly among the variants at once (its A/B group is the
        variant); the rest waits until an operator picks the winner (`journeys pick-winner`, the first pick
        counts), then flows to it, at the pick's logical time or on arrival after it."""
        at = f"at_{step.id}"
        variant = self.race_variant(step, col("entry_id", at))
        winner = (
            exp.select(col("value"), col("effective_at"))
            .from_(ref("stg_control__journey_controls"))
            .where(
                exp.and_(
                    exp.EQ(this=col("journey_id"), expression=lit(self.plan.id)),
                    exp.EQ(this=col("action"), expression=lit("pick_winner")),
                )
            )
            .order_by("effective_at", "recorded_at")
            .limit(1)
        )
        picked = exp.LTE(this=col("effective_at", "w"), expression=tick_col("horizon"))
        due = exp.Case(
            ifs=[
                exp.If(
                    this=exp.Is(this=col("variant"), expression=exp.null()).not_(), true=col("arrived_at")
                ),
                exp.If(this=picked, true=exp.func("GREATEST", col("arrived_at"), col("effective_at", "w"))),
            ]
        )
        branch = exp.func("COALESCE", col("variant"), col("value", "w"))
        assigned = self.cte(
            f"race_{step.id}", exp.select(f"{at}.*", exp.alias_(variant, "variant")).from_(at)
        )
        query = (
            exp.select(f"{assigned}.*", exp.alias_(due, "due_at"), exp.alias_(branch, "branch"))
            .from_(assigned)
            .join("tick", join_type="cross")
            .join(winner.subquery("w"), join_type="left", on=exp.true())
        )
        # the test traffic carries its variant as A/B group; the rest keeps what it had
        return query, exp.func("COALESCE", col("variant"), col("ab_group"))

    def race_variant(self, step: Step, entry_id: exp.Expression) -> exp.Expression:
        """The variant an arrival tests (by its bucket), or NULL for the traffic that waits for the winner."""
        spec: cfg.AbRaceSpec = step.node.ab_race  # type: ignore[attr-defined]
        slot = bucket(lit(self.plan.id), entry_id, lit(step.id))
        share = spec.test_share * BUCKETS / 100
        ifs = [
            exp.If(
                this=exp.LT(this=slot.copy(), expression=lit(round(share * (i + 1) / len(spec.variants)))),
                true=lit(variant.id),
            )
            for i, variant in enumerate(spec.variants)
        ]
        return exp.Case(ifs=ifs)

    def finish_ab_race(self, step: Step) -> None:
        """Tell the operator once when the test phase is over: `test_ends_after` after the race's first
        arrival, or at the `sample_size`-th test arrival, whichever comes first."""
        spec: cfg.AbRaceSpec = step.node.ab_race  # type: ignore[attr-defined]
        if spec.notify is None:
            return
        arrivals = exp.union(
            exp.select(
                exp.alias_(col("logical_at"), "arrived_at"),
                exp.alias_(self.race_variant(step, col("entry_id")), "variant"),
            )
            .from_("history")
            .where(
                exp.and_(
                    exp.EQ(this=col("record"), expression=lit("transition")),
                    exp.EQ(this=col("node_id"), expression=lit(step.id)),
                )
            ),
            exp.select("arrived_at", "variant").from_(f"race_{step.id}").where(exp.not_(col("carried"))),
            distinct=False,
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
                    .where(exp.Is(this=col("variant"), expression=exp.null()).not_())
                    .subquery("t")
                )
                .where(exp.EQ(this=col("n"), expression=lit(spec.sample_size)))
            )
            ends.append(exp.func("MIN", nth.subquery()))
        ended = exp.func("LEAST", *ends) if len(ends) > 1 else ends[0]
        done = self.cte(
            f"race_{step.id}_over", exp.select(exp.alias_(ended, "ended_at")).from_(arrivals.subquery("a"))
        )
        message_id = stable_id(lit(self.plan.id), lit("race_over"), lit(step.id))
        notified = (
            exp.select("1")
            .from_(aliased("history", "h"))
            .where(
                exp.and_(
                    exp.EQ(this=col("record", "h"), expression=lit("send")),
                    exp.EQ(this=col("message_id", "h"), expression=message_id.copy()),
                )
            )
        )
        payload = exp.JSONObject(
            expressions=[
                exp.JSONKeyValue(
                    this=lit("recipient"),
                    expression=exp.JSONObject(
                        expressions=[exp.JSONKeyValue(this=lit("email"), expression=lit(spec.notify.to))]
                    ),
                ),
                exp.JSONKeyValue(
                    this=lit("journey"),
                    expression=exp.JSONObject(
                        expressions=[
                            exp.JSONKeyValue(this=lit("id"), expression=lit(self.plan.id)),
                            exp.JSONKeyValue(this=lit("name"), expression=lit(self.plan.name)),
                        ]
                    ),
                ),
                exp.JSONKeyValue(this=lit("node"), expression=lit(step.id)),
            ]
        )
        self.record(
            aliased(done, "o").sql(),
            exp.and_(
                exp.LTE(this=col("ended_at", "o"), expression=tick_col("horizon")),
                exp.not_(exp.Exists(this=notified)),
            ),
            {
                "record": lit("send"),
                "logical_at": col("ended_at", "o"),
                "node_id": lit(step.id),
                "message_id": message_id,
                "recipient_id": lit(spec.notify.to),
                "channel": lit(spec.notify.channel),
                "template": lit(spec.notify.template),
                "payload": payload,
                "priority": lit(1),
                "not_before": col("ended_at", "o"),
                "status": lit("queued"),
                "reason": lit("race_over"),
            },
        )

    def member(self, step: Step, rule: Rule) -> exp.Expression:
        """Is the profile at this node in the segment when it arrives? (Columns qualified: the predicate is
        a correlated subquery, where a bare `profile_id` would bind to the inner table.)"""
        at = f"at_{step.id}"
        return self.segments.predicate(rule, col("profile_id", at), col("arrived_at", at))

    def visit_segment_check(self, step: Step) -> tuple[exp.Select, exp.Expression]:
        member = self.member(step, step.node.segment_check)  # type: ignore[attr-defined]
        return self.instant(
            step, exp.Case(ifs=[exp.If(this=member, true=lit("then"))], default=lit("else"))
        ), col("ab_group")

    def visit_segment_split(self, step: Step) -> tuple[exp.Select, exp.Expression]:
        spec: cfg.SegmentSplitSpec = step.node.segment_split  # type: ignore[attr-defined]
        ifs = [
            exp.If(this=self.member(step, branch), true=lit(f"branch_{i + 1}"))
            for i, branch in enumerate(spec.branches)
        ]
        return self.instant(step, exp.Case(ifs=ifs, default=lit("else"))), col("ab_group")

    def visit_ab_split(self, step: Step) -> tuple[exp.Select, exp.Expression]:
        branches: list[cfg.AbBranch] = step.node.ab_split  # type: ignore[attr-defined]
        slot = bucket(lit(self.plan.id), col("entry_id"), lit(step.id))
        ifs, upper = [], 0.0
        for branch in branches[:-1]:
            upper += branch.percent
            ifs.append(
                exp.If(
                    this=exp.LT(this=slot, expression=lit(round(upper * BUCKETS / 100))),
                    true=lit(branch.group),
                )
            )
        choice = exp.Case(ifs=ifs, default=lit(branches[-1].group))
        return self.instant(step, choice), col("branch")

    # ------------------------------------------------------------------ outcomes

    def outcome(self, step: Step, ab_group: exp.Expression) -> None:
        """Leave, stay or exit, for every profile at the node; and the records that say so."""
        exit_first = exp.and_(
            exp.Is(this=col("exit_at"), expression=exp.null()).not_(),
            exp.or_(
                exp.Is(this=col("due_at"), expression=exp.null()),
                exp.GTE(this=col("due_at"), expression=col("exit_at")),
            ),
        )
        answered = exp.Is(this=col("due_at"), expression=exp.null()).not_()
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
                exp.If(this=exit_first.copy(), true=lit("exit_when")),
                exp.If(
                    this=ends_path.copy(),
                    true=exp.Substring(this=col("branch"), start=lit(len(EXIT_BRANCH) + 1)),
                ),
            ]
        )
        left_at = exp.Case(
            ifs=[
                exp.If(this=exit_first.copy(), true=exp.func("GREATEST", col("exit_at"), col("arrived_at")))
            ],
            default=col("due_at"),
        )
        next_node = (
            exp.Case(
                ifs=[
                    exp.If(this=exp.EQ(this=col("branch"), expression=lit(branch)), true=lit(target))
                    for branch, target in step.successors.items()
                ]
            )
            if step.successors
            else exp.null()
        )
        columns = [exp.alias_(ab_group, "ab_group") if c == "ab_group" else col(c) for c in PATH_COLUMNS]
        name = self.cte(
            f"out_{step.id}",
            exp.select(
                *columns,
                exp.alias_(outcome, "outcome"),
                exp.alias_(left_at, "left_at"),
                "branch",
                exp.alias_(exp.cast(next_node, "TEXT"), "next_node"),
                exp.alias_(exit_reason, "exit_reason"),
            ).from_(f"step_{step.id}"),
        )
        o = {c: col(c, "o") for c in ("entry_id", "profile_id", "entry_at", "trigger_event_id", "ab_group")}
        position = {"record": lit("position"), "node_id": lit(step.id), **o}
        source = aliased(name, "o").sql()
        is_ = lambda value: exp.EQ(this=col("outcome", "o"), expression=lit(value))  # noqa: E731
        no_next = exp.Is(this=col("next_node", "o"), expression=exp.null())
        # where the profile rests after this tick: waiting here (new arrivals only), exited, or completed
        self.record(
            source,
            exp.and_(is_("stay"), exp.not_(col("carried", "o"))),
            position | {"logical_at": col("arrived_at", "o"), "status": lit("active")},
        )
        self.record(
            source,
            is_("exit"),
            position
            | {"logical_at": col("left_at", "o"), "status": lit("exited"), "reason": col("exit_reason", "o")},
        )
        self.record(
            source,
            exp.and_(is_("leave"), no_next),
            position | {"logical_at": col("left_at", "o"), "status": lit("completed")},
        )
        self.record(
            source,
            exp.or_(is_("leave"), is_("exit")),
            {
                "record": lit("transition"),
                "logical_at": col("left_at", "o"),
                "from_node": lit(step.id),
                "node_id": exp.Case(
                    ifs=[exp.If(this=is_("exit"), true=exp.null())], default=col("next_node", "o")
                ),
                "branch": col("branch", "o"),
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

    def payload(self) -> exp.Expression:
        def obj(pairs: dict[str, exp.Expression]) -> exp.Expression:
            return exp.JSONObject(
                expressions=[exp.JSONKeyValue(this=lit(k), expression=v) for k, v in pairs.items()]
            )

        subject = obj({c: col(c, "p") for c in PROFILE_COLUMNS})
        recipient = obj({c: col(c, "rp") for c in PROFILE_COLUMNS})
        event = exp.Case(
            ifs=[exp.If(this=exp.Is(this=col("event_id", "ev"), expression=exp.null()), true=exp.null())],
            default=obj({c: col(c, "ev") for c in ("event_id", "event_name", "event_time", "properties")}),
        )
        return obj(
            {
                "profile": subject,
                "recipient": recipient,
                "event": event,
                "journey": obj({"id": lit(self.plan.id), "name": lit(self.plan.name)}),
            }
        )

    # ------------------------------------------------------------------ goals and the result

    def goals(self) -> None:
        if not self.plan.goals:
            return
        self.cte(
            "all_entries",
            exp.union(
                exp.select("entry_id", "profile_id", "entry_at", "trigger_event_id").from_("state"),
                exp.select("entry_id", "profile_id", "entry_at", "trigger_event_id").from_("new_entries"),
                distinct=False,
            ),
        )
        for goal in self.plan.goals:
            # statistics, not moves: a goal's window runs on after the journey's active window ends
            upper = exp.func("LEAST", plus(col("entry_at", "s"), goal.within), tick_col("tick_at"))
            if goal.match is not None:
                done = self.nth_event(
                    f"goal_{goal.id}", "all_entries", goal.match, col("entry_at", "s"), upper
                )
            else:
                assert goal.detail is not None
                done = self.detail_reached(
                    f"goal_{goal.id}", "all_entries", goal.detail, col("entry_at", "s"), upper
                )
            recorded = (
                exp.select("1")
                .from_(exp.alias_(exp.to_table("history"), "h", table=True))
                .where(
                    exp.and_(
                        exp.EQ(this=col("record", "h"), expression=lit("goal")),
                        exp.EQ(this=col("goal_id", "h"), expression=lit(goal.id)),
                        exp.EQ(this=col("entry_id", "h"), expression=col("entry_id", "g")),
                    )
                )
            )
            source = exp.alias_(exp.to_table(done), "g", table=True).sql()
            self.record(
                source,
                exp.not_(exp.Exists(this=recorded)),
                {
                    "record": lit("goal"),
                    "logical_at": col("event_time", "g"),
                    "entry_id": col("entry_id", "g"),
                    "goal_id": lit(goal.id),
                    "profile_id": col("profile_id", "a"),
                    "entry_at": col("entry_at", "a"),
                },
                joins=(
                    (
                        aliased("all_entries", "a"),
                        exp.EQ(this=col("entry_id", "a"), expression=col("entry_id", "g")),
                    ),
                ),
            )

    def final(self) -> exp.Select:
        records: exp.Query = self.records[0]
        for other in self.records[1:]:
            records = exp.union(records, other, distinct=False)
        self.cte("tick_records", records)
        applied = (
            exp.select("1")
            .from_(HISTORY)
            .where(exp.GTE(this=col("tick_at"), expression=exp.select("tick_at").from_("tick").subquery()))
        )
        query = exp.select("*").from_("tick_records").where(exp.not_(exp.Exists(this=applied)))
        for name, body in self.ctes:
            query = query.with_(name, as_=body)
        return query
