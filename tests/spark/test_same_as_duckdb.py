"""The same raw world staged by DuckDB and by local Spark, tick after tick: equal, row for row.

What runs on Spark so far is the tick's input layer (staging and the data-quality log, the models every tick
builds first); the journey histories follow once a whole journey model builds there (docs/spark.md). The world
is the demo shop (300 profiles in several timezones, late and duplicate deliveries) plus a row of each
rejection that a raw JSON column lets both engines hold (a missing id or time, an unknown profile or zone),
ticked twice: the second tick picks up what loaded late after the first one's watermark."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from journey_compiler.config.project import load_project
from journey_compiler.demo.shop import generate_shop
from journey_compiler.runtime.dbt import run_dbt
from journey_compiler.runtime.quality import quality_report
from journey_compiler.runtime.workspace import BuiltProject, Workspace, build_dbt_project
from journey_compiler.warehouse.connection import Warehouse, statement, values_insert
from journey_compiler.warehouse.duckdb_warehouse import DuckDBWarehouse
from journey_compiler.warehouse.spark_warehouse import SparkWarehouse
from journey_compiler.warehouse.tables import init_warehouse, raw_tables

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("spark")]  # one JVM: see conftest.py
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "shop"
START = datetime(2026, 6, 1)
TICKS = (datetime(2026, 6, 2, 12), datetime(2026, 6, 5))
BROKEN_PROFILES = [
    ("p-mars", "m@example.com", None, "Mars/Olympus", "{}", datetime(2026, 6, 1, 9)),
    (None, "nobody@example.com", None, "Europe/Berlin", "{}", datetime(2026, 6, 1, 9)),
]
BROKEN_EVENTS = [
    ("e-ghost", "p-nobody", "signup", datetime(2026, 6, 1, 10), "{}", datetime(2026, 6, 1, 10)),
    ("e-timeless", "p-mars", "signup", None, "{}", datetime(2026, 6, 1, 11)),
]
COMPARED = {
    "staging.stg_raw__events": "event_id",
    "staging.stg_raw__profiles": "profile_id",
    "staging.stg_raw__profile_tags": "profile_id, tag, tagged_at",
    "staging.stg_raw__relations": "from_id, to_id, relation",
    "journeys.rejected_rows": "tick_at, source_table, row_key, status, reason",
}
STAGE = ["build", "--select", "staging", "quality", "--indirect-selection", "cautious"]


def _stage_tick(warehouse: Warehouse, tick_at: datetime, previous: datetime | None) -> None:
    """What `begin_tick` records before dbt runs: the tick's row in the log and the tick context."""
    (newest,) = warehouse.execute(statement("select max(loaded_at) from raw.events")).fetchone() or (None,)
    watermark = min(tick_at, newest) if newest is not None else tick_at
    row = (tick_at, watermark, tick_at, tick_at)
    warehouse.execute(values_insert("journeys.tick_log", [row]), list(row))
    warehouse.replace_rows("journeys.tick_context", [(tick_at, watermark, previous)])


def _tick(
    warehouse: Warehouse, workspace: Workspace, built: BuiltProject, tick_at: datetime, previous
) -> None:
    _stage_tick(warehouse, tick_at, previous)
    run_dbt(built.dbt_dir, workspace.warehouse, STAGE, workspace.target)


def _rows(warehouse: Warehouse, table: str) -> list[tuple]:
    return warehouse.execute(statement(f"select * from {table} order by {COMPARED[table]}")).fetchall()


# session-scoped although only this module uses it: pytest may interleave the Spark modules' tests (they
# share one worker and its JVM), which would tear a module-scoped world down and build it twice
@pytest.fixture(scope="session")
def staged(tmp_path_factory: pytest.TempPathFactory, spark: SparkWarehouse, spark_dir: Path):
    project = load_project(EXAMPLES)
    root = tmp_path_factory.mktemp("same_world")
    on_duckdb = Workspace.resolve(EXAMPLES, root / "shop.duckdb", root / "shop.duckdb.dbt")
    on_spark = Workspace.resolve(EXAMPLES, spark_dir, root / "shop.spark.dbt", target="spark")
    built_duckdb, built_spark = build_dbt_project(on_duckdb, project), build_dbt_project(on_spark, project)
    for schema in ("raw", "journeys", "staging"):  # the session's metastore is shared with other modules
        spark.execute(statement(f"drop schema if exists {schema} cascade"))
    init_warehouse(spark, project.warehouse)
    with duckdb.connect(str(on_duckdb.warehouse)) as con:
        summary = generate_shop(con, project.warehouse, start=START, days=3, profiles=300)
        duck = DuckDBWarehouse(con)
        for table in raw_tables(project.warehouse):
            rows = duck.execute(statement(f"select * from {table}")).fetchall()
            schema = spark.session.table(table).schema
            spark.session.createDataFrame(rows, schema).write.insertInto(table)
        for warehouse in (duck, spark):
            warehouse.execute(values_insert("raw.profiles", BROKEN_PROFILES), sum(BROKEN_PROFILES, ()))
            warehouse.execute(values_insert("raw.events", BROKEN_EVENTS), sum(BROKEN_EVENTS, ()))
    previous = None
    for tick_at in TICKS:
        with DuckDBWarehouse(duckdb.connect(str(on_duckdb.warehouse))) as duck:
            _stage_tick(duck, tick_at, previous)
        run_dbt(built_duckdb.dbt_dir, on_duckdb.warehouse, STAGE)
        _tick(spark, on_spark, built_spark, tick_at, previous)
        previous = tick_at
    with DuckDBWarehouse(duckdb.connect(str(on_duckdb.warehouse), read_only=True)) as duck:
        on_both = {t: _rows(duck, t) for t in COMPARED}, {t: _rows(spark, t) for t in COMPARED}
    return summary, *on_both, (on_duckdb, on_spark)


@pytest.mark.parametrize("table", sorted(COMPARED))
def test_staged_alike(staged, table: str) -> None:
    _, on_duckdb, on_spark, _ = staged
    assert on_spark[table] == on_duckdb[table]


def test_the_world_has_what_is_compared(staged) -> None:
    """Late and duplicate deliveries, several timezones and every kind of rejection are in the world."""
    summary, on_duckdb, _, _ = staged
    events = on_duckdb["staging.stg_raw__events"]
    assert len(events) < summary.events  # duplicates staged once
    assert {staged_at for *_, staged_at in events} == set(TICKS)
    assert any(loaded_at > TICKS[0] >= event_time for *_, event_time, _, loaded_at, _ in events)
    assert len({row[3] for row in on_duckdb["staging.stg_raw__profiles"]}) >= 2
    reasons = {
        (status, reason.split(" ")[0]) for _, _, _, status, reason, _ in on_duckdb["journeys.rejected_rows"]
    }
    expected = {
        ("rejected", "profile_id"),
        ("rejected", "event_time"),
        ("rejected", "profile"),
        ("repaired", "timezone"),
    }
    assert expected <= reasons


def test_quality_report_alike(staged) -> None:
    """`journeys tick` prints this after every tick; it reads the log through the warehouse interface."""
    *_, (on_duckdb, on_spark) = staged
    report = quality_report(on_duckdb.warehouse)
    assert report.rejected >= 3
    assert quality_report(on_spark.warehouse, on_spark.target) == report
