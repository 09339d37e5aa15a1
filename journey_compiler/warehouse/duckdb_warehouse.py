"""The DuckDB warehouse: a file, one connection, parameters bound by DuckDB itself."""

from __future__ import annotations

import duckdb
from sqlglot import exp

from journey_compiler.warehouse.connection import Params, Row, Rows, Warehouse, values_insert
from journey_compiler.warehouse.dialect import DUCKDB, to_sql

_TABLES = "select table_name from information_schema.tables where table_schema = ?"
_COLUMNS = (
    "select table_name, column_name from information_schema.columns where table_schema = ? "
    "order by table_name, ordinal_position"
)


class DuckDBWarehouse:
    dialect = DUCKDB

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def execute(self, statement: exp.Expression, params: Params = None) -> Rows:
        return self.con.execute(to_sql(statement, DUCKDB), params)

    def tables(self, schema: str) -> set[str]:
        return {name.lower() for (name,) in self.con.execute(_TABLES, [schema]).fetchall()}

    def columns(self, schema: str) -> dict[str, list[str]]:
        by_table: dict[str, list[str]] = {}
        for table, column in self.con.execute(_COLUMNS, [schema]).fetchall():
            by_table.setdefault(table.lower(), []).append(column.lower())
        return by_table

    def replace_rows(self, qualified: str, rows: list[Row]) -> None:
        self.con.execute(to_sql(exp.delete(exp.to_table(qualified)), DUCKDB))
        if rows:
            self.con.execute(to_sql(values_insert(qualified, rows), DUCKDB), [v for row in rows for v in row])

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> DuckDBWarehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def as_warehouse(con: Warehouse | duckdb.DuckDBPyConnection) -> Warehouse:
    """Callers that still hold a bare DuckDB connection (modules not moved to the interface yet)."""
    return DuckDBWarehouse(con) if isinstance(con, duckdb.DuckDBPyConnection) else con
