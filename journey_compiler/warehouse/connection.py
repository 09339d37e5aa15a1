"""The one small interface the runtime talks to a warehouse through, whatever the engine.

The runtime (tick log, watermarks, controls, schedules, quality, the outbox) states its statements as sqlglot
ASTs with `?` / `$name` placeholders; an implementation renders them in its dialect, binds the values and
hands back rows as tuples. DuckDB binds parameters itself (duckdb_warehouse.py); Spark SQL gets the values
as typed literals of the same AST (spark_warehouse.py). The writer lock (runtime/lock.py) is a file beside
the warehouse either way, so its semantics do not depend on the engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import sqlglot
from sqlglot import exp

Params = Sequence[Any] | Mapping[str, Any] | None
Row = tuple[Any, ...]


class Rows(Protocol):
    def fetchone(self) -> Row | None: ...

    def fetchall(self) -> list[Row]: ...


class Warehouse(Protocol):
    dialect: str

    def execute(self, statement: exp.Expression, params: Params = None) -> Rows:
        """Run one statement; its rows (none for DDL and DML)."""
        ...

    def tables(self, schema: str) -> set[str]:
        """Names of the tables and views in `schema` (lower case); empty when the schema does not exist."""
        ...

    def columns(self, schema: str) -> dict[str, list[str]]:
        """Each table's and view's column names in `schema`, in order (lower case); one catalog read."""
        ...

    def replace_rows(self, qualified: str, rows: list[Row]) -> None:
        """`schema.table` holds exactly `rows` afterwards (a small control table, e.g. the tick context)."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Warehouse: ...

    def __exit__(self, *exc: object) -> None: ...


def values_insert(qualified: str, rows: list[Row], *, overwrite: bool = False) -> exp.Insert:
    """`INSERT [OVERWRITE] INTO schema.table VALUES (?, ...), ...`: one placeholder per value."""
    placeholders = exp.values([tuple(exp.Placeholder() for _ in row) for row in rows])
    return exp.insert(placeholders, exp.to_table(qualified), overwrite=overwrite)


def statement(sql: str) -> exp.Expression:
    """A hand-written runtime statement (DuckDB SQL, as it has always been written) as an AST, parsed once
    at import so each engine renders it in its own dialect."""
    return sqlglot.parse_one(sql, read="duckdb")
