"""The full metrics recompute (the 05/11/17/23 schedule and `journeys metrics --recompute`).

The metric marts are tables rebuilt from the journeys' append-only histories, so a recompute of the same
state gives the same rows (their `computed_at` is the last tick they include, not the wall clock). It holds
the writer lock only while dbt rebuilds the tables and the outputs are published: a tick waits for that
and no longer.
"""

from __future__ import annotations

import duckdb

from journey_compiler.runtime.dbt import run_dbt
from journey_compiler.runtime.lock import connect, exclusive
from journey_compiler.runtime.publish import publish_outputs
from journey_compiler.runtime.tick import TICK_TAG
from journey_compiler.runtime.workspace import BuiltProject, Workspace
from journey_compiler.warehouse.tables import DEPLOYED

METRIC_MARTS = "path:models/marts,config.materialized:table"
"""Marts stored as tables are the metric snapshots; the other marts are views, current at every tick."""
_TABLE = "select 1 from information_schema.tables where table_schema = ? and table_name = ?"


def recompute_args(views_current: bool) -> list[str]:
    """The metric tables; when the views were deployed from another version of the models, the views they
    read too. Never a tick model: only ticks advance journeys."""
    if views_current:
        return ["run", "--select", METRIC_MARTS]
    return ["run", "--select", f"+{METRIC_MARTS}", "--exclude", f"tag:{TICK_TAG}"]


def recompute_metrics(workspace: Workspace, built: BuiltProject) -> None:
    with exclusive(workspace.warehouse, "journeys metrics --recompute"):
        with connect(workspace.warehouse) as con:
            deployed = con.execute(DEPLOYED).fetchone() if _has_deployment(con) else None
        run_dbt(built.dbt_dir, workspace.warehouse, recompute_args(deployed == (built.digest,)))
        with connect(workspace.warehouse) as con:
            publish_outputs(con, workspace.warehouse)


def _has_deployment(con: duckdb.DuckDBPyConnection) -> bool:
    found = con.execute(_TABLE, ["journeys", "deployment"]).fetchone()
    return found is not None
