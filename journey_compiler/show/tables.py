"""The marts and a journey's node counts as terminal tables (rich), for `journeys metrics` and `show`."""

from __future__ import annotations

from datetime import datetime

from rich.table import Table

from journey_compiler.config import journey as cfg
from journey_compiler.show.figures import DELIVERY, JourneyFigures, NodeFigures
from journey_compiler.show.marts import EXPERIMENT_COLUMNS, MetricTable, number
from journey_compiler.show.svg import describe


def metrics_table(journey_id: str, metrics: MetricTable, last_tick: datetime | None = None) -> Table:
    as_of = f"as of the tick at {metrics.computed_at}" if metrics.computed_at else "not computed yet"
    if last_tick is not None and metrics.computed_at != last_tick:
        as_of += f"; the last tick is {last_tick}: `journeys metrics --recompute` brings them up to it"
    table = Table(title=f"{journey_id}: metrics ({as_of})", title_justify="left")
    for name in ("metric", "kind", "window"):
        table.add_column(name)
    for group in metrics.groups:
        table.add_column(group, justify="right")
    table.add_row(
        "reached", "", "", *(f"{metrics.reached.get(g, 0):,}" for g in metrics.groups), style="bold"
    )
    for metric, kind, window, values in metrics.rows:
        table.add_row(metric, kind, window or "", *(number(values.get(g)) for g in metrics.groups))
    return table


def experiments_table(journey_id: str, experiments: list[dict[str, str]]) -> Table:
    table = Table(
        title=f"{journey_id}: A/B comparison (the first variant is the control)", title_justify="left"
    )
    for key, title in EXPERIMENT_COLUMNS:
        table.add_column(title, justify="left" if key in ("node_id", "outcome_id", "variant") else "right")
    for row in experiments:
        table.add_row(*(row[key] for key, _ in EXPERIMENT_COLUMNS))
    return table


NODE_COLUMNS = ("node", "does", "arrived", "waiting now", "left by branch", "drop-off", "messages")


def node_rows(journey: cfg.Journey, figures: JourneyFigures) -> list[tuple[str, ...]]:
    """One row per node in NODE_COLUMNS order: the same figures the picture shows."""
    shown: list[tuple[str, ...]] = []
    for node_id, node in journey.nodes.items():
        f = figures.nodes.get(node_id) or NodeFigures()
        order = [*node.successors(), *sorted(set(f.left) - set(node.successors()))]  # type: ignore[attr-defined]
        branches = ", ".join(f"{b} {f.left[b]:,}" for b in order if b in f.left)
        dropped = ", ".join(f"{r} {n:,}" for r, n in f.exited.items())
        messages = ""
        if f.messages is not None:
            messages = " · ".join(
                f"{s} {f.messages.get(s, 0):,}" for s in ("queued", *DELIVERY) if f.messages.get(s)
            )
        shown.append(
            (node_id, describe(node), f"{f.arrived:,}", f"{f.waiting:,}", branches, dropped, messages)
        )
    return shown


def nodes_table(journey: cfg.Journey, figures: JourneyFigures) -> Table:
    as_of = f"as of the tick at {figures.as_of}" if figures.as_of else "no tick yet"
    table = Table(title=f"{journey.id}: {figures.entered:,} entered ({as_of})", title_justify="left")
    for name in NODE_COLUMNS:
        table.add_column(name, justify="right" if name in ("arrived", "waiting now") else "left")
    for row in node_rows(journey, figures):
        table.add_row(*row)
    return table
