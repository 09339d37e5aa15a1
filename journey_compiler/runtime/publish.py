"""Publish the outputs where BI tools read them without ever touching the warehouse file.

DuckDB lets no other process open a file while one writes it (not even read-only), and a reader that keeps
the file open makes the next writer wait. So after every tick and every metrics recompute, the writer copies
each output (spec section 4 and the metric marts) to `<warehouse>.published/<table>.parquet`: written under a
temporary name in the same folder, then renamed over the old one. A rename is atomic, so a reader sees the
old file or the new one, never half of one, and a reader that has the old one open keeps reading it.
`bi.duckdb` in the same folder holds one view per table over those files, for tools that want a database.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb
from sqlglot import exp

OUTPUTS = (
    "journey_state",
    "journey_transitions",
    "send_queue",
    "message_events",
    "journey_tags",
    "goal_completions",
    "journey_node_counters",
    "journey_node_daily",
    "journey_channel_daily",
    "journey_metrics",
    "journey_experiments",
)
"""Tables and views of schema `journeys` that are published (those that exist yet)."""
SCHEMA = "journeys"
MANIFEST = "_published.json"
_LAST_TICK = "select max(tick_at) from journeys.tick_log where finished_at is not null"
VIEWS_FILE = "bi.duckdb"


def published_dir(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".published")


def published_file(warehouse: Path, table: str) -> Path:
    return published_dir(warehouse) / f"{table}.parquet"


def _existing(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "select table_name from information_schema.tables where table_schema = ?", [SCHEMA]
    ).fetchall()
    present = {name for (name,) in rows}
    return [name for name in OUTPUTS if name in present]


def replace_atomically(target: Path, write: Callable[[Path], object]) -> None:
    """Write through `write(temporary path)`, then rename over `target` in one step."""
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        write(temporary)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def publish_outputs(
    con: duckdb.DuckDBPyConnection, warehouse: Path, *, as_of: datetime | None = None
) -> Path:
    """Copy every published output of `con`'s warehouse to Parquet beside it; returns the folder.

    `as_of` (default: the last applied tick) is recorded in the manifest."""
    if as_of is None:
        (as_of,) = con.execute(_LAST_TICK).fetchone() or (None,)
    folder = published_dir(Path(warehouse))
    folder.mkdir(parents=True, exist_ok=True)
    tables = _existing(con)
    for table in tables:
        relation = con.table(f"{SCHEMA}.{table}")
        replace_atomically(
            published_file(Path(warehouse), table), lambda path, r=relation: r.write_parquet(str(path))
        )
    manifest = {
        "tables": tables,
        "as_of_tick": as_of.isoformat() if as_of else None,
        "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    replace_atomically(folder / MANIFEST, lambda path: path.write_text(json.dumps(manifest, indent=2) + "\n"))
    _write_views(folder, tables)
    return folder


def view_sql(folder: Path, table: str) -> str:
    """`create view journeys.<table> as select * from read_parquet('<file>')`, built as an AST."""
    read = exp.func("read_parquet", exp.Literal.string(str(folder / f"{table}.parquet")))
    query = exp.select("*").from_(exp.Table(this=read))
    view = exp.Create(this=exp.to_table(f"{SCHEMA}.{table}"), kind="VIEW", expression=query, replace=True)
    return view.sql(dialect="duckdb")


def _write_views(folder: Path, tables: list[str]) -> None:
    """`bi.duckdb`: views over the Parquet files, rewritten only when the set of tables changes."""
    target = folder / VIEWS_FILE
    stamp = folder / f".{VIEWS_FILE}.tables"
    if target.exists() and stamp.exists() and stamp.read_text() == ",".join(tables):
        return

    def write(path: Path) -> None:
        with duckdb.connect(str(path)) as views:
            views.execute(exp.Create(this=exp.to_table(SCHEMA), kind="SCHEMA", exists=True).sql("duckdb"))
            for table in tables:
                views.execute(view_sql(folder, table))

    replace_atomically(target, write)
    stamp.write_text(",".join(tables))
