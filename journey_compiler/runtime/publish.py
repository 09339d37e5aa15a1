"""Publish the outputs where BI tools read them without ever touching the warehouse file.

DuckDB lets no other process open a file while one writes it (not even read-only), and a reader that keeps
the file open makes the next writer wait. So after every tick and every metrics recompute, the writer copies
the outputs (spec section 4, the rejected-rows log and the metric marts) beside the warehouse, into
`<warehouse>.published/`, at the cost of what changed:
- the current tables (state, send queue, metric marts) are replaced whole: `<table>.parquet`, written under a
  temporary name in the same folder, then renamed over the old one;
- the append-only ones get their new rows as Parquet parts, `<table>/part-NNNNNN.parquet` (publish_parts.py).
A rename is atomic, so a reader sees a whole file, old or new, and one that has the old one open keeps
reading it. `bi.duckdb` in the same folder holds one view per table over those files, for tools that want a
database; `_published.json` names the tick they are as of and where each table is.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb
from sqlglot import exp

from journey_compiler.runtime.publish_parts import Appended, parts_glob, publish_appended
from journey_compiler.warehouse.tables import LAST_APPLIED_TICK

CURRENT = (
    "journey_state",
    "send_queue",
    "journey_node_daily",
    "journey_channel_daily",
    "journey_metrics",
    "journey_experiments",
)
"""Outputs published whole: each row can change (a position, a message status, a recomputed figure)."""
APPENDED = {
    output.table: output
    for output in (
        Appended("journey_transitions"),
        Appended("journey_tags"),
        Appended("goal_completions"),
        Appended("journey_node_counters"),
        Appended("rejected_rows"),
        # the senders and the status receiver append between ticks; a row's place in the table orders them
        Appended("message_events", position="rowid", position_type="bigint"),
    )
}
"""Outputs whose rows never change once written: published as parts, only the new rows each time."""
OUTPUTS = (*CURRENT, *APPENDED)
"""Tables and views of schema `journeys` that are published (those that exist yet)."""
SCHEMA = "journeys"
MANIFEST = "_published.json"
VIEWS_FILE = "bi.duckdb"


def published_dir(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".published")


def published_file(warehouse: Path, table: str) -> Path:
    """A current table's file (append-only tables are folders of parts: `published_path`)."""
    return published_dir(warehouse) / f"{table}.parquet"


def published_path(folder: Path, table: str) -> str:
    """What a reader opens for `table`: its file, or the glob of its parts."""
    return parts_glob(folder, table) if table in APPENDED else str(folder / f"{table}.parquet")


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
        (as_of,) = con.execute(LAST_APPLIED_TICK).fetchone() or (None,)
    folder = published_dir(Path(warehouse))
    folder.mkdir(parents=True, exist_ok=True)
    tables = _existing(con)
    for table in tables:
        if table in APPENDED:
            _publish_appended(con, folder, APPENDED[table], as_of)
        else:
            relation = con.table(f"{SCHEMA}.{table}")
            replace_atomically(
                folder / f"{table}.parquet", lambda path, r=relation: r.write_parquet(str(path))
            )
    manifest = {
        "tables": {table: str(Path(published_path(folder, table)).relative_to(folder)) for table in tables},
        "as_of_tick": as_of.isoformat() if as_of else None,
        "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    replace_atomically(folder / MANIFEST, lambda path: path.write_text(json.dumps(manifest, indent=2) + "\n"))
    _write_views(folder, tables)
    return folder


def _publish_appended(
    con: duckdb.DuckDBPyConnection, folder: Path, output: Appended, as_of: datetime | None
) -> None:
    """The new rows as parts; a single file left by an older layout of the folder goes."""
    source = exp.to_table(f"{SCHEMA}.{output.table}")
    if output.position == "tick_at":
        upper: object = as_of
    else:
        (upper,) = con.execute(
            exp.select(exp.func("max", exp.column(output.position))).from_(source).sql("duckdb")
        ).fetchone() or (None,)
    publish_appended(con, source, output, folder, upper, replace_atomically)
    (folder / f"{output.table}.parquet").unlink(missing_ok=True)


def view_sql(folder: Path, table: str) -> str:
    """`create view journeys.<table> as select * from read_parquet('<file or parts>')`, built as an AST."""
    read = exp.func("read_parquet", exp.Literal.string(published_path(folder, table)))
    if table in APPENDED:
        read.append("expressions", exp.column("union_by_name").eq(exp.true()))
    query = exp.select("*").from_(exp.Table(this=read))
    view = exp.Create(this=exp.to_table(f"{SCHEMA}.{table}"), kind="VIEW", expression=query, replace=True)
    return view.sql(dialect="duckdb")


def _write_views(folder: Path, tables: list[str]) -> None:
    """`bi.duckdb`: views over the Parquet files, rewritten only when the views change (the set of tables, or
    where they are)."""
    target = folder / VIEWS_FILE
    stamp = folder / f".{VIEWS_FILE}.tables"
    views = "\n".join(view_sql(folder, table) for table in tables)
    if target.exists() and stamp.exists() and stamp.read_text() == views:
        return

    def write(path: Path) -> None:
        with duckdb.connect(str(path)) as database:
            database.execute(exp.Create(this=exp.to_table(SCHEMA), kind="SCHEMA", exists=True).sql("duckdb"))
            for table in tables:
                database.execute(view_sql(folder, table))

    replace_atomically(target, write)
    stamp.write_text(views)
