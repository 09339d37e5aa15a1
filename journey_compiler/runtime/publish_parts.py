"""Append-only outputs published as Parquet parts, so that a publish costs what the tick added.

An append-only output (transitions, tags, goals, counters, rejected rows, message events) is a folder of
parts, `<table>/part-000001.parquet`, ... A publish adds the rows past the last part's mark to the newest
part (read back, extended, written under a temporary name, renamed over it) until that part holds
`ROWS_PER_PART` rows; then it starts the next one. Every row lives in exactly one part and each part is
replaced in one rename, so a reader globbing `<table>/*.parquet` sees every row once, never half a part,
and the folder grows by one file per `ROWS_PER_PART` rows instead of one per tick. The mark (the largest
`tick_at`, or `rowid` for tables the senders append to) is stored in the part's own Parquet key-value
metadata, so it moves in the same rename as the rows it covers: a crash between two steps neither loses
nor repeats a row.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
from sqlglot import exp

ROWS_PER_PART = 100_000
"""Rows after which a part is closed and the next publish starts a new one (bounds a publish's rewrite)."""
MARK = "journeys_through"
"""Parquet key-value metadata key: the largest position (tick or rowid) the part's rows reach."""
_FIRST = "part-000001.parquet"

Replace = Callable[[Path, Callable[[Path], object]], None]


@dataclass(frozen=True)
class Appended:
    """An append-only output: `position` orders its rows and only ever grows (`tick_at`, or `rowid` for a
    table written between ticks, whose rows carry no tick)."""

    table: str
    position: str = "tick_at"
    position_type: str = "timestamp"


def parts_glob(folder: Path, table: str) -> str:
    return str(folder / table / "*.parquet")


def publish_appended(
    con: duckdb.DuckDBPyConnection,
    source: exp.Table,
    output: Appended,
    folder: Path,
    upper: object,
    replace: Replace,
) -> None:
    """Add the rows of `source` with `mark < position <= upper` to `folder/<table>/` (nothing when none)."""
    directory = folder / output.table
    directory.mkdir(parents=True, exist_ok=True)
    parts = sorted(directory.glob("part-*.parquet"))
    newest = parts[-1] if parts else None
    mark = _mark(con, newest) if newest else None
    if mark is not None and upper is not None and _before(con, output, upper, mark):
        # the warehouse went back (restored from a copy): publish it again from scratch
        shutil.rmtree(directory)
        directory.mkdir()
        newest = mark = None
    new_rows = _rows_after(source, output, mark, upper)
    if newest is not None and not con.execute(new_rows.limit(1).sql("duckdb")).fetchall():
        return
    if newest is None:
        target, rows = directory / _FIRST, new_rows
    elif _full(con, newest) or _columns(con, newest) != _columns(con, new_rows):
        target, rows = directory / f"part-{int(newest.stem.split('-')[1]) + 1:06d}.parquet", new_rows
    else:
        old = exp.select("*").from_(exp.Table(this=_read(newest)))
        target, rows = newest, exp.union(old, new_rows, distinct=False, by_name=True)
    through = upper if upper is not None else mark
    replace(target, lambda path: con.execute(_copy(rows, path, through).sql("duckdb")))


def _rows_after(source: exp.Table, output: Appended, mark: str | None, upper: object) -> exp.Select:
    position = exp.column(output.position)
    bounds: list[exp.Expression] = []
    if mark is not None:
        bounds.append(position > exp.cast(exp.Literal.string(mark), output.position_type))
    if upper is not None:
        bounds.append(position <= exp.cast(exp.Literal.string(str(upper)), output.position_type))
    else:
        bounds.append(exp.false())
    return exp.select("*").from_(source.copy()).where(exp.and_(*bounds))


def _before(con: duckdb.DuckDBPyConnection, output: Appended, upper: object, mark: str) -> bool:
    compare = exp.cast(exp.Literal.string(str(upper)), output.position_type) < exp.cast(
        exp.Literal.string(mark), output.position_type
    )
    (earlier,) = con.execute(exp.select(compare).sql("duckdb")).fetchone() or (False,)
    return bool(earlier)


def _copy(rows: exp.Query, path: Path, through: object) -> exp.Copy:
    metadata = exp.Struct(
        expressions=[
            exp.PropertyEQ(
                this=exp.to_identifier(MARK),
                expression=exp.Literal.string("" if through is None else str(through)),
            )
        ]
    )
    return exp.Copy(
        this=exp.Subquery(this=rows),
        kind=False,
        files=[exp.Literal.string(str(path))],
        params=[
            exp.CopyParameter(this=exp.var("format"), expression=exp.var("parquet")),
            exp.CopyParameter(this=exp.var("kv_metadata"), expression=metadata),
        ],
    )


def _read(part: Path) -> exp.Func:
    return exp.func("read_parquet", exp.Literal.string(str(part)))


def _mark(con: duckdb.DuckDBPyConnection, part: Path) -> str | None:
    """The part's mark; '' (written before anything was there to publish) reads as none."""
    query = (
        exp.select(exp.cast(exp.column("value"), "varchar"))
        .from_(exp.Table(this=exp.func("parquet_kv_metadata", exp.Literal.string(str(part)))))
        .where(exp.cast(exp.column("key"), "varchar").eq(exp.Literal.string(MARK)))
    )
    found = con.execute(query.sql("duckdb")).fetchone()
    return (found[0] or None) if found else None


def _full(con: duckdb.DuckDBPyConnection, part: Path) -> bool:
    query = exp.select("num_rows").from_(
        exp.Table(this=exp.func("parquet_file_metadata", exp.Literal.string(str(part))))
    )
    (rows,) = con.execute(query.sql("duckdb")).fetchone() or (0,)
    return rows >= ROWS_PER_PART


def _columns(con: duckdb.DuckDBPyConnection, rows: Path | exp.Select) -> list[tuple[str, str]]:
    """Column names and types; a schema change starts a new part (readers union the parts by name)."""
    query = exp.select("*").from_(exp.Table(this=_read(rows))) if isinstance(rows, Path) else rows
    relation = con.sql(query.sql("duckdb"))
    return list(zip(relation.columns, map(str, relation.types), strict=True))
