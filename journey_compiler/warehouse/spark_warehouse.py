"""The Spark warehouse: a SparkSession in this process, the one dbt-spark's `session` method also gets.

dbt-spark opens its session with `SparkSession.builder...getOrCreate()` and the profile's
`server_side_parameters`; we build ours from the same keys (dbt_project/profiles.yml, target `spark`), so
whichever of the two starts first, both share one session, one metastore and one warehouse directory.
Spark SQL takes no bound parameters from us: the values become typed literals of the statement's AST,
rendered by sqlglot (never formatted into text).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jinja2
import yaml
from sqlglot import exp

from journey_compiler.errors import JourneysError
from journey_compiler.warehouse.connection import Params, Row, values_insert
from journey_compiler.warehouse.dialect import SPARK, to_sql

PROFILES = Path(__file__).resolve().parents[2] / "dbt_project" / "profiles.yml"
ANSI = {"spark.sql.ansi.enabled": "false"}
"""dbt-spark forces this on every statement it runs; ours run under the same rule."""
_WAREHOUSE_DIR = "spark.sql.warehouse.dir"


def session_config(warehouse: Path) -> dict[str, str]:
    """The profile's `server_side_parameters` for a warehouse directory (metastore and tables inside it)."""
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)
    values = {"JOURNEYS_WAREHOUSE": str(warehouse)}
    text = environment.from_string(PROFILES.read_text()).render(env_var=lambda name: values[name])
    output = yaml.safe_load(text)["journeys"]["outputs"][SPARK]
    return {str(k): str(v) for k, v in output["server_side_parameters"].items()} | ANSI


def spark_session(warehouse: Path) -> Any:
    """The process's SparkSession for `warehouse`; one warehouse per process (the metastore is static)."""
    from pyspark.sql import SparkSession

    config = session_config(warehouse.resolve())
    active = SparkSession.getActiveSession()
    running = active and Path(str(active.conf.get(_WAREHOUSE_DIR)).removeprefix("file:"))
    if running and running != Path(config[_WAREHOUSE_DIR]):
        raise JourneysError(
            f"this process already runs Spark on {running.parent}; "
            f"run the command for {warehouse} in a process of its own"
        )
    warehouse.mkdir(parents=True, exist_ok=True)
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in config.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def literal(value: object) -> exp.Expression:
    """A Python value as a typed SQL literal (timestamps are naive UTC, as everywhere in the runtime)."""
    if value is None:
        return exp.null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float):
        return exp.Literal.number(value)
    if isinstance(value, datetime):
        return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), exp.DataType.build("TIMESTAMP"))
    if isinstance(value, date):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.build("DATE"))
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, list | tuple):
        return exp.Array(expressions=[literal(v) for v in value])
    raise TypeError(f"no SQL literal for {type(value).__name__}")


def bind(statement: exp.Expression, params: Params) -> exp.Expression:
    """The statement with each `?` (in order) or `$name` placeholder replaced by its value's literal."""
    if not params:
        return statement
    positional = iter([] if isinstance(params, Mapping) else params)

    def value_of(node: exp.Expression) -> exp.Expression:
        if not isinstance(node, exp.Placeholder):
            return node
        if isinstance(params, Mapping):
            return literal(params[node.name])
        return literal(next(positional))

    return statement.transform(value_of)


class _Rows:
    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows

    def fetchone(self) -> Row | None:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[Row]:
        return self.rows


class SparkWarehouse:
    dialect = SPARK

    def __init__(self, warehouse: Path) -> None:
        self.session = spark_session(warehouse)

    def execute(self, statement: exp.Expression, params: Params = None) -> _Rows:
        frame = self.session.sql(to_sql(bind(statement, params), SPARK))
        return _Rows([tuple(row) for row in frame.collect()])

    def tables(self, schema: str) -> set[str]:
        if not self.session.catalog.databaseExists(schema):
            return set()
        return {table.name.lower() for table in self.session.catalog.listTables(schema)}

    def columns(self, schema: str) -> dict[str, list[str]]:
        """Temporary views are left out: dbt's `<model>__dbt_tmp` views are listed in the schema while a
        build runs, or after one that failed, but their columns cannot be read."""
        if not self.session.catalog.databaseExists(schema):
            return {}
        catalog = self.session.catalog
        return {
            table.name.lower(): [column.name.lower() for column in catalog.listColumns(table.name, schema)]
            for table in catalog.listTables(schema)
            if not table.isTemporary
        }

    def replace_rows(self, qualified: str, rows: list[Row]) -> None:
        """INSERT OVERWRITE: Hive tables take no DELETE without Delta or Iceberg."""
        if rows:
            self.execute(values_insert(qualified, rows, overwrite=True), [v for row in rows for v in row])
        else:
            self.execute(exp.TruncateTable(expressions=[exp.to_table(qualified)]))

    def close(self) -> None:
        """The session outlives the statement block: dbt and the next block of this process share it."""

    def __enter__(self) -> SparkWarehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
