"""The metric marts shaped for reading: one row per metric with a column per A/B group, and the A/B table.
Shared by `journeys metrics` (terminal tables), the HTML picture and the Dagster asset description."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb

from journey_compiler.show.outputs import rows
from journey_compiler.sqlgen.metrics import OVERALL

_METRICS = """
select metric_id, metric_kind, metric_window, ab_group, reached, value, computed_at
from journeys.journey_metrics where journey_id = ?
order by ab_node nulls first, ab_group
"""
_EXPERIMENTS = """
select * from journeys.journey_experiments where journey_id = ?
order by node_id, outcome_id, is_control desc, variant
"""
_KIND_ORDER = {"builtin": 0, "goal": 1, "event": 2, "detail": 3, "composite": 4}
EXPERIMENT_COLUMNS = (
    ("node_id", "node"),
    ("outcome_id", "outcome"),
    ("variant", "variant"),
    ("reached", "reached"),
    ("converted", "converted"),
    ("rate", "rate"),
    ("uplift", "uplift"),
    ("p_value", "p-value"),
    ("ci", "95% CI of the difference"),
    ("has_sample", "race has its sample"),
)


@dataclass(frozen=True)
class MetricTable:
    groups: list[str]
    """'(all)' first, then each A/B group."""
    reached: dict[str, int]
    rows: list[tuple[str, str, str | None, dict[str, float | None]]]
    """(metric id, kind, window, group -> value)."""
    computed_at: Any


def metric_table(con: duckdb.DuckDBPyConnection, journey_id: str) -> MetricTable:
    found = rows(con, _METRICS, [journey_id])
    groups = list(dict.fromkeys([OVERALL, *(r["ab_group"] for r in found)]))
    by_metric: dict[str, tuple[str, str | None, dict[str, float | None]]] = {}
    reached: dict[str, int] = {}
    for r in found:
        kind, window, values = by_metric.setdefault(
            r["metric_id"], (r["metric_kind"], r["metric_window"], {})
        )
        values[r["ab_group"]] = r["value"]
        reached[r["ab_group"]] = r["reached"]
    ordered = sorted(by_metric.items(), key=lambda item: (_KIND_ORDER.get(item[1][0], 9), item[0]))
    table_rows = [(metric, kind, window, values) for metric, (kind, window, values) in ordered]
    return MetricTable(groups, reached, table_rows, found[0]["computed_at"] if found else None)


def experiment_rows(con: duckdb.DuckDBPyConnection, journey_id: str) -> list[dict[str, str]]:
    """The A/B table as display strings, in EXPERIMENT_COLUMNS order."""
    shown = []
    for r in rows(con, _EXPERIMENTS, [journey_id]):
        ci = f"[{r['ci_low']:+.1%}, {r['ci_high']:+.1%}]" if r["ci_low"] is not None else ""
        shown.append(
            {
                "node_id": r["node_id"],
                "outcome_id": r["outcome_id"],
                "variant": r["variant"]
                + (" (control)" if r["is_control"] and r["variant"] != "control" else ""),
                "reached": f"{r['reached']:,}",
                "converted": f"{r['converted']:,}",
                "rate": _pct(r["rate"]),
                "uplift": "" if r["uplift"] is None else f"{r['uplift']:+.1%}",
                "p_value": "" if r["p_value"] is None else f"{r['p_value']:.4f}",
                "ci": ci,
                "has_sample": "" if r["has_sample"] is None else ("yes" if r["has_sample"] else "not yet"),
            }
        )
    return shown


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def number(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.4g}"
