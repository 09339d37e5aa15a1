"""Bring a warehouse written by an earlier version of the tick up to the current models, once.

Ticks read each journey's open paths from a snapshot (`<history>__open`) that the previous tick left. A
warehouse from before that snapshot existed has only the histories: its snapshot is derived from them here
(the latest position of every entry that is still active), stamped with the last finished tick, before the
first tick of this version runs. Nothing else is rewritten, and a migrated warehouse is not migrated again.
"""

from __future__ import annotations

import duckdb
from sqlglot import exp

from journey_compiler.render import model_name, open_paths_model
from journey_compiler.sqlgen.ast import col, eq
from journey_compiler.sqlgen.records import OPEN_PATH_COLUMNS
from journey_compiler.warehouse.connection import statement
from journey_compiler.warehouse.tables import INTERNAL_SCHEMA, LAST_APPLIED_TICK

_TABLES = "select table_name from information_schema.tables where table_schema = ?"


def migrate_open_paths(con: duckdb.DuckDBPyConnection, journey_ids: tuple[str, ...]) -> list[str]:
    """Create the missing snapshots of journeys that already have a history; the journeys migrated."""
    present = {name for (name,) in con.execute(_TABLES, [INTERNAL_SCHEMA]).fetchall()}
    migrated = []
    for journey_id in journey_ids:
        if model_name(journey_id) in present and open_paths_model(journey_id) not in present:
            con.execute(_snapshot_from_history(journey_id).sql("duckdb"))
            migrated.append(journey_id)
    return migrated


def _snapshot_from_history(journey_id: str) -> exp.Create:
    history = exp.table_(model_name(journey_id), db=INTERNAL_SCHEMA)
    latest = exp.Window(
        this=exp.RowNumber(),
        partition_by=[col("entry_id")],
        order=exp.Order(expressions=[exp.Ordered(this=col("tick_at"), desc=True)]),
    )
    positions = (
        exp.select("*", exp.alias_(latest, "latest"))
        .from_(history.copy())
        .where(eq(col("record"), "position"))
    )
    last_tick = statement(LAST_APPLIED_TICK).subquery()
    columns = [
        exp.alias_(last_tick, name)
        if name == "tick_at"
        else exp.alias_(col("logical_at"), name)
        if name == "arrived_at"
        else exp.alias_(col("entry_id"), name)
        if name == "path_id"
        else col(name)
        for name in OPEN_PATH_COLUMNS
    ]
    query = (
        exp.select(*columns)
        .from_(positions.subquery("positions"))
        .where(exp.and_(eq(col("latest"), 1), eq(col("status"), "active")))
    )
    return exp.Create(
        this=exp.table_(open_paths_model(journey_id), db=INTERNAL_SCHEMA), kind="TABLE", expression=query
    )
