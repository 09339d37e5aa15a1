"""Open the published outputs for reading, never the warehouse while a writer may hold it.

After a tick or recompute the outputs are Parquet files beside the warehouse (runtime/publish.py); reading
them takes no lock. A warehouse that was never published is read directly, read-only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from glob import glob
from pathlib import Path
from typing import Any

import duckdb

from journey_compiler.runtime.lock import connect
from journey_compiler.runtime.publish import MANIFEST, published_dir, published_path, view_sql


@contextmanager
def open_outputs(warehouse: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection in which `journeys.<output>` names each published output (none before the first tick)."""
    folder = published_dir(warehouse)
    if not (folder / MANIFEST).exists() and warehouse.exists():
        with connect(warehouse, read_only=True) as con:
            yield con
        return
    with duckdb.connect() as con:
        con.execute("create schema journeys")
        for table in published_tables(warehouse):
            # a folder published before append-only tables had parts has none until the next tick
            if glob(published_path(folder, table)):
                con.execute(view_sql(folder, table))
        yield con


def published_tables(warehouse: Path) -> list[str]:
    """The tables the last publish wrote (none before the first)."""
    return list(_manifest(warehouse).get("tables", ()))


def published_as_of(warehouse: Path) -> datetime | None:
    """The tick the published outputs are as of (None before the first publish)."""
    as_of = _manifest(warehouse).get("as_of_tick")
    return datetime.fromisoformat(as_of) if as_of else None


def _manifest(warehouse: Path) -> dict[str, Any]:
    manifest = published_dir(warehouse) / MANIFEST
    return json.loads(manifest.read_text()) if manifest.exists() else {}


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    """Rows as dicts; a table not published yet reads as no rows."""
    try:
        cursor = con.execute(sql, params or [])
    except duckdb.CatalogException:
        return []
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
