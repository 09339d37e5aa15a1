"""Configured metrics (`metrics/*.yaml`) and the journey catalog -> the generated half of the metric marts.

Everything config-specific the static marts need is generated here as sqlglot ASTs:

- `int_journey_catalog`: one row per compiled journey (name, timezone, YAML file);
- `int_journey_variants`: the variants of every `ab_split` / `ab_race` and holdout, in order (the first is
  the control);
- `int_journey_holdouts`: each entry of a journey with a holdout, and whether it was held out;
- `int_journey_outcomes`: what an experiment compares per journey (its goals and its event/detail metrics);
- `int_journey_metric_facts`: per reached entry, the value of each event/detail metric in its window;
- `int_journey_configured_metrics`: the listed metrics per journey and A/B group, composites included.

"Reached" rows come from the static `int_journey_reach` (the entry, and each A/B assignment); the window of
a metric counts from that time (docs/metrics.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta

import sqlglot
from sqlglot import exp

from journey_compiler.config import journey as cfg
from journey_compiler.config.base import format_duration
from journey_compiler.config.project import Project
from journey_compiler.config.segments import Metric
from journey_compiler.expressions import compile_filter
from journey_compiler.ir import EventMatch, JourneyPlan
from journey_compiler.sqlgen.ast import aliased, col, lit, plus, union_all
from journey_compiler.sqlgen.events import event_filter
from journey_compiler.sqlgen.holdout import HELD_OUT, HOLDOUT_NODE, MESSAGED, held_out
from journey_compiler.sqlgen.relations import ref
from journey_compiler.validate import BUILTIN_METRICS, CHANNELS
from journey_compiler.warehouse.tables import column_type

OVERALL = "(all)"
"""The A/B group label of the rows that count every entry (int_journey_reach, the marts)."""
BUILTINS = (*BUILTIN_METRICS, *(f"sent_{c}" for c in CHANNELS))
"""Built-in metrics (spec section 2) computed by the static int_journey_builtin_metrics; plus goal_<id>."""


def values_relation(columns: Mapping[str, str], rows: Sequence[Sequence[object]]) -> exp.Select:
    """A typed constant relation; without rows, a typed empty one (a project may have no journeys)."""
    names = list(columns)
    if not rows:
        nulls = [exp.alias_(exp.cast(exp.null(), column_type(columns[n])), n) for n in names]
        return exp.select(*nulls).where(exp.false())
    table = exp.values([tuple(lit(v) for v in row) for row in rows], alias="t", columns=names)  # type: ignore[arg-type]
    typed = [exp.alias_(exp.cast(col(n, "t"), column_type(columns[n])), n) for n in names]
    return exp.select(*typed).from_(table)


def catalog(project: Project, journeys: Iterable[str]) -> exp.Select:
    rows = []
    for journey_id in journeys:
        journey = project.journeys[journey_id]
        source = project.origin("journeys", journey_id).doc.file
        rows.append((journey_id, journey.name or journey_id, journey.timezone, source, journey.group))
    columns = {
        "journey_id": "text",
        "name": "text",
        "timezone": "text",
        "yaml_file": "text",
        "journey_group": "text",
    }
    return values_relation(columns, rows)


def variants(project: Project, journeys: Iterable[str]) -> exp.Select:
    rows: list[tuple[object, ...]] = []
    for journey_id in journeys:
        for node_id, node in project.journeys[journey_id].nodes.items():
            if isinstance(node, cfg.AbSplitNode):
                for i, branch in enumerate(node.ab_split):
                    rows.append(
                        (journey_id, node_id, "ab_split", branch.group, i, branch.percent, None, None)
                    )
            elif isinstance(node, cfg.AbRaceNode):
                race = node.ab_race
                ends = race.test_ends_after.total_seconds() if race.test_ends_after else None
                share = race.test_share / len(race.variants)
                for i, variant in enumerate(race.variants):
                    rows.append(
                        (journey_id, node_id, "ab_race", variant.id, i, share, race.sample_size, ends)
                    )
        if (holdout := project.journeys[journey_id].holdout) is not None:
            for i, (group, percent) in enumerate(
                ((HELD_OUT, holdout.percent), (MESSAGED, 100 - holdout.percent))
            ):
                rows.append((journey_id, HOLDOUT_NODE, "holdout", group, i, percent, None, None))
    columns = {
        "journey_id": "text",
        "node_id": "text",
        "node_kind": "text",
        "variant": "text",
        "position": "integer",
        "percent": "double",
        "sample_size": "integer",
        "test_ends_after_seconds": "double",
    }
    return values_relation(columns, rows)


def holdout_groups(project: Project, journeys: Iterable[str]) -> exp.Query:
    """journey_id, reach_node (the holdout's), entry_id, ab_group (`holdout` / `messaged`): every entry of a
    journey with a holdout, by the same bucket as the tick's sends."""
    queries: list[exp.Query] = []
    for journey_id in journeys:
        holdout = project.journeys[journey_id].holdout
        if holdout is None:
            continue
        group = exp.Case(
            ifs=[exp.If(this=held_out(journey_id, holdout.percent, col("entry_id")), true=lit(HELD_OUT))],
            default=lit(MESSAGED),
        )
        entered = exp.and_(
            exp.EQ(this=col("journey_id"), expression=lit(journey_id)),
            exp.EQ(this=col("record"), expression=lit("transition")),
            exp.EQ(this=col("reason"), expression=lit("entered")),
        )
        queries.append(
            exp.select(
                col("journey_id"),
                exp.alias_(lit(HOLDOUT_NODE), "reach_node"),
                col("entry_id"),
                exp.alias_(group, "ab_group"),
            )
            .from_(ref("int_journey_records"))
            .where(entered)
        )
    if queries:
        return union_all(queries)
    columns = {"journey_id": "text", "reach_node": "text", "entry_id": "text", "ab_group": "text"}
    return values_relation(columns, [])


def outcomes(project: Project, journeys: Iterable[str]) -> exp.Select:
    """Per journey, what an A/B comparison converts on: each goal and each listed event/detail metric, and
    whether its means are compared too (a per-entry count or sum; a goal or a count of profiles is 0/1)."""
    rows: list[tuple[object, ...]] = []
    for journey_id in journeys:
        journey = project.journeys[journey_id]
        rows += [(journey_id, f"goal_{goal.id}", "goal", False) for goal in journey.goals]
        for metric_id in journey.metrics:
            metric = project.metrics[metric_id]
            if metric.composite is None:
                means = metric.detail is not None or metric.measure == "count"
                rows.append((journey_id, metric_id, _kind(metric), means))
    columns = {"journey_id": "text", "outcome_id": "text", "outcome_kind": "text"}
    return values_relation({**columns, "compares_means": "boolean"}, rows)


def _kind(metric: Metric) -> str:
    return "event" if metric.event is not None else "detail" if metric.detail is not None else "composite"


# ---------------------------------------------------------------- which metric each journey needs


def _composite_tree(metric: Metric) -> exp.Expression:
    assert metric.composite is not None
    return sqlglot.parse_one(metric.composite)


def _references(metric: Metric) -> set[str]:
    return {c.name for c in _composite_tree(metric).find_all(exp.Column)} if metric.composite else set()


def needed_metrics(project: Project, journey_id: str) -> list[str]:
    """The journey's listed configured metrics and every configured metric their composites name."""
    seen: list[str] = []
    pending = list(project.journeys[journey_id].metrics)
    while pending:
        name = pending.pop(0)
        if name in seen or name not in project.metrics:
            continue
        seen.append(name)
        pending += sorted(_references(project.metrics[name]))
    return seen


def _journeys_needing(project: Project, journeys: Sequence[str]) -> dict[str, list[str]]:
    """Configured metric id -> the journeys that need it, in project order."""
    by_metric: dict[str, list[str]] = {}
    for journey_id in journeys:
        for name in needed_metrics(project, journey_id):
            by_metric.setdefault(name, []).append(journey_id)
    return {m: by_metric[m] for m in sorted(by_metric)}


# ---------------------------------------------------------------- per-entry facts


def event_match(project: Project, condition: cfg.EventCondition) -> EventMatch:
    """An event condition resolved against the catalog: the properties its events share may be filtered."""
    declared = project.warehouse.events
    shared = set.intersection(*(set(declared[n]) for n in condition.names))
    properties = {k: v for k, v in declared[condition.names[0]].items() if k in shared}
    return EventMatch(condition.names, condition.times, condition.where, properties)


def _in_window(at: exp.Expression, window: timedelta) -> exp.Expression:
    """`at` inside [reached_at, reached_at + window] and seen by the last tick."""
    reached = col("reached_at", "r")
    return exp.and_(
        at.copy().between(reached.copy(), plus(reached.copy(), window)),
        exp.LTE(this=at.copy(), expression=col("tick_at", "tick")),
    )


def _journey_filter(journeys: Sequence[str]) -> exp.Expression:
    return exp.In(this=col("journey_id", "r"), expressions=[lit(j) for j in journeys])


class MetricSql:
    """The generated metric models of one project."""

    def __init__(self, project: Project, plans: Mapping[str, JourneyPlan]) -> None:
        self.project = project
        self.plans = plans
        self.journeys = list(plans)
        self.needing = _journeys_needing(project, self.journeys)

    def facts(self) -> exp.Query:
        """(journey, reach, entry, metric) -> the entry's count or sum in its window; only non-zero rows."""
        parts: list[exp.Query] = []
        for metric_id, journeys in self.needing.items():
            metric = self.project.metrics[metric_id]
            if metric.event is not None:
                parts.append(self._event_facts(metric_id, metric, journeys))
            elif metric.detail is not None:
                parts.append(self._detail_facts(metric_id, metric, journeys))
        if not parts:
            columns = {
                "journey_id": "text",
                "reach_node": "text",
                "ab_group": "text",
                "entry_id": "text",
                "profile_id": "text",
                "metric_id": "text",
                "value": "double",
                "converted": "boolean",
            }
            return values_relation(columns, [])
        query = parts[0]
        for part in parts[1:]:
            query = exp.union(query, part, distinct=False)
        return query

    def _facts_select(
        self,
        metric_id: str,
        journeys: Sequence[str],
        value: exp.Expression,
        threshold: float,
        inclusive: bool,
        table: exp.Expression,
        on: exp.Expression,
    ) -> exp.Select:
        keys = [col(c, "r") for c in ("journey_id", "reach_node", "ab_group", "entry_id", "profile_id")]
        reached = (exp.GTE if inclusive else exp.GT)(this=value.copy(), expression=lit(threshold))
        return (
            exp.select(
                *keys,
                exp.alias_(lit(metric_id), "metric_id"),
                exp.alias_(exp.cast(value, "DOUBLE"), "value"),
                exp.alias_(reached, "converted"),
            )
            .from_(aliased(ref("int_journey_reach"), "r"))
            .join(aliased(ref("stg_control__tick"), "tick"), join_type="cross")
            .join(table, on=on, join_type="inner")
            .where(_journey_filter(journeys))
            .group_by(*[k.copy() for k in keys])
        )

    def _event_facts(self, metric_id: str, metric: Metric, journeys: Sequence[str]) -> exp.Select:
        assert metric.event is not None and metric.window is not None
        match = event_match(self.project, metric.event)
        matching = event_filter(match, "e")
        on = exp.and_(
            exp.EQ(this=col("profile_id", "e"), expression=col("profile_id", "r")),
            matching,
            _in_window(col("event_time", "e"), metric.window),
            exp.NEQ(
                this=col("event_id", "e"),
                expression=exp.func("COALESCE", col("trigger_event_id", "r"), lit("")),
            ),
        )
        count = exp.func("COUNT", col("event_id", "e"))
        events = aliased(ref("stg_raw__events"), "e")
        return self._facts_select(metric_id, journeys, count, match.times, True, events, on)

    def _detail_facts(self, metric_id: str, metric: Metric, journeys: Sequence[str]) -> exp.Select:
        detail = metric.detail
        assert detail is not None and metric.window is not None
        conditions = [
            exp.EQ(this=col("profile_id", "d"), expression=col("profile_id", "r")),
            _in_window(col("detail_at", "d"), metric.window),
        ]
        if detail.where is not None:
            table = self.project.warehouse.details[detail.table]
            conditions.append(compile_filter(detail.where, {c: col(c, "d") for c in table.columns}))
        column = col(detail.column, "d")
        value = exp.func("COUNT", column) if detail.count is not None else exp.func("SUM", column)
        threshold = detail.at_least if detail.at_least is not None else (1 if detail.count is not None else 0)
        inclusive = detail.at_least is not None or detail.count is not None
        rows = aliased(ref(f"stg_details__{detail.table}"), "d")
        return self._facts_select(
            metric_id, journeys, value, threshold, inclusive, rows, exp.and_(*conditions)
        )

    # ---------------------------------------------------------------- values per journey and group

    def configured(self) -> exp.Query:
        """Per journey, reach (entry or A/B assignment) and listed configured metric: its value."""
        columns = {
            "journey_id": "text",
            "reach_node": "text",
            "ab_group": "text",
            "metric_id": "text",
            "metric_kind": "text",
            "metric_window": "text",
            "value": "double",
        }
        listed = {j: list(self.project.journeys[j].metrics) for j in self.journeys}
        if not any(listed.values()):
            return values_relation(columns, [])
        base = self._base_values()
        configured = [m for m in self.needing if self.project.metrics[m].composite is None]
        goals = sorted({f"goal_{g.id}" for j in self.journeys for g in self.project.journeys[j].goals})
        names = [*BUILTINS, *configured, *goals]
        pivot = (
            exp.select(
                col("journey_id"),
                col("reach_node"),
                col("ab_group"),
                *[
                    exp.alias_(
                        exp.func(
                            "COALESCE",
                            exp.Filter(
                                this=exp.func("MAX", col("value")),
                                expression=exp.Where(this=exp.EQ(this=col("metric_id"), expression=lit(n))),
                            ),
                            lit(0),
                        ),
                        exp.to_identifier(n, quoted=True),
                    )
                    for n in names
                ],
            )
            .from_("base")
            .group_by(col("journey_id"), col("reach_node"), col("ab_group"))
        )
        parts: list[exp.Query] = []
        for metric_id in sorted({m for ms in listed.values() for m in ms}):
            metric = self.project.metrics[metric_id]
            journeys = [j for j in self.journeys if metric_id in listed[j]]
            parts.append(
                exp.select(
                    col("journey_id", "r"),
                    col("reach_node", "r"),
                    col("ab_group", "r"),
                    exp.alias_(lit(metric_id), "metric_id"),
                    exp.alias_(lit(_kind(metric)), "metric_kind"),
                    exp.alias_(
                        lit(format_duration(metric.window) if metric.window else None), "metric_window"
                    ),
                    exp.alias_(exp.cast(self._value(metric_id), "DOUBLE"), "value"),
                )
                .from_(aliased("wide", "r"))
                .where(_journey_filter(journeys))
            )
        query: exp.Query = parts[0]
        for part in parts[1:]:
            query = exp.union(query, part, distinct=False)
        return (
            exp.select("*").from_(query.subquery("metrics")).with_("base", as_=base).with_("wide", as_=pivot)
        )

    def _base_values(self) -> exp.Query:
        """Built-in values and the event/detail metrics aggregated per journey, reach and A/B group."""
        query: exp.Query = exp.select(
            "journey_id",
            "reach_node",
            "ab_group",
            "metric_id",
            exp.alias_(exp.cast(col("value"), "DOUBLE"), "value"),
        ).from_(ref("int_journey_builtin_metrics"))
        for metric_id in self.needing:
            metric = self.project.metrics[metric_id]
            if metric.composite is not None:
                continue
            if metric.event is not None and metric.measure == "profiles":
                value = exp.Filter(
                    this=exp.Count(this=exp.Distinct(expressions=[col("profile_id")])),
                    expression=exp.Where(this=col("converted")),
                )
            else:
                value = exp.func("SUM", col("value"))
            query = exp.union(
                query,
                exp.select(
                    "journey_id",
                    "reach_node",
                    "ab_group",
                    "metric_id",
                    exp.alias_(exp.cast(value, "DOUBLE"), "value"),
                )
                .from_(ref("int_journey_metric_facts"))
                .where(exp.EQ(this=col("metric_id"), expression=lit(metric_id)))
                .group_by("journey_id", "reach_node", "ab_group", "metric_id"),
                distinct=False,
            )
        return query

    def _value(self, name: str) -> exp.Expression:
        """A metric's value over the pivot `r`: a column, or a composite's arithmetic with every name
        resolved (composites inline; a division by zero is NULL)."""
        metric = self.project.metrics.get(name)
        if metric is None or metric.composite is None:
            return exp.column(exp.to_identifier(name, quoted=True), "r")

        return exp.paren(self._arithmetic(_composite_tree(metric)), copy=False)

    def _arithmetic(self, node: exp.Expression) -> exp.Expression:
        """Rebuild a validated composite (names, numbers, + - * /, parentheses) over the pivot."""
        if isinstance(node, exp.Column):
            return exp.paren(self._value(node.name), copy=False)
        if isinstance(node, exp.Div):
            denominator = exp.func("NULLIF", self._arithmetic(node.expression), lit(0))
            return exp.Div(this=self._arithmetic(node.this), expression=denominator)
        if isinstance(node, exp.Binary):
            return type(node)(this=self._arithmetic(node.this), expression=self._arithmetic(node.expression))
        if isinstance(node, exp.Paren | exp.Neg):
            return type(node)(this=self._arithmetic(node.this))
        return node.copy()
