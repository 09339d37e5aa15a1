"""The full metrics recompute (the 05/11/17/23 schedule and `journeys metrics --recompute`).

The metric marts are tables rebuilt from the journeys' append-only histories, so a recompute of the same
state gives the same rows (their `computed_at` is the last tick they include, not the wall clock). It holds
the writer lock only while dbt rebuilds the tables and the outputs are published: a tick waits for that
and no longer.
"""

from __future__ import annotations

from journey_compiler.runtime.dbt import run_dbt
from journey_compiler.runtime.lock import connect, exclusive
from journey_compiler.runtime.publish import publish_outputs
from journey_compiler.runtime.tick import TICK_TAG
from journey_compiler.runtime.workspace import BuiltProject, Workspace

METRIC_MARTS = "path:models/marts,config.materialized:table"
"""Marts stored as tables are the metric snapshots; the other marts are views, current at every tick."""
_LAST_TICK = "select max(tick_at) from journeys.tick_log where finished_at is not null"


def recompute_args() -> list[str]:
    """The metric tables and the views they read, but never a tick model: only ticks advance journeys."""
    return ["run", "--select", f"+{METRIC_MARTS}", "--exclude", f"tag:{TICK_TAG}"]


def recompute_metrics(workspace: Workspace, built: BuiltProject) -> None:
    with exclusive(workspace.warehouse, "journeys metrics --recompute"):
        run_dbt(built.dbt_dir, workspace.warehouse, recompute_args())
        with connect(workspace.warehouse) as con:
            (as_of,) = con.execute(_LAST_TICK).fetchone() or (None,)
            publish_outputs(con, workspace.warehouse, as_of=as_of)
