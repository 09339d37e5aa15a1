"""The warehouse interface on real local Spark, beside DuckDB: the same ASTs, the same answers."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from sqlglot import exp

from journey_compiler.config.project import load_project
from journey_compiler.runtime.schedules import record_occurrences
from journey_compiler.sqlgen.ids import bucket
from journey_compiler.warehouse.connection import statement
from journey_compiler.warehouse.duckdb_warehouse import DuckDBWarehouse
from journey_compiler.warehouse.spark_warehouse import SparkWarehouse, session_config
from journey_compiler.warehouse.tables import CONTROL_SCHEMA, TICK_LOG, control_tables, create_tables

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("spark")]  # one JVM: see conftest.py
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "shop"


@pytest.fixture
def duck(tmp_path: Path) -> DuckDBWarehouse:
    return DuckDBWarehouse(duckdb.connect(str(tmp_path / "w.duckdb")))


def test_session_lives_in_the_warehouse_directory(spark: SparkWarehouse, spark_dir: Path) -> None:
    config = session_config(spark_dir)
    assert config["spark.master"] == "local[2]"
    assert spark.session.conf.get("spark.sql.warehouse.dir").endswith(f"{spark_dir}/spark-warehouse")
    assert f"databaseName={spark_dir}/metastore_db" in config["spark.hadoop.javax.jdo.option.ConnectionURL"]
    spark.execute(exp.Create(this=exp.to_identifier("probe"), kind="SCHEMA", exists=True))
    assert (spark_dir / "metastore_db").is_dir()


def test_control_tables_created_once_and_widened(spark: SparkWarehouse) -> None:
    narrow = {k: v for k, v in TICK_LOG.items() if k != "finished_at"}
    create_tables(spark, {f"{CONTROL_SCHEMA}.tick_log": narrow})
    create_tables(spark, control_tables())
    create_tables(spark, control_tables())
    assert {name.split(".")[1] for name in control_tables()} <= spark.tables(CONTROL_SCHEMA)
    assert spark.columns(CONTROL_SCHEMA)["tick_log"] == list(TICK_LOG)


def test_parameters_bind_as_typed_values(spark: SparkWarehouse, duck: DuckDBWarehouse) -> None:
    tick_at, started = datetime(2026, 3, 29, 1, 30), datetime(2026, 3, 29, 1, 31, 5, 250000)
    insert = statement("insert into journeys.tick_log values (?, ?, ?, null)")
    read = statement(
        "select tick_at, watermark, started_at, finished_at from journeys.tick_log where tick_at = $t"
    )
    for warehouse in (spark, duck):
        create_tables(warehouse, control_tables())
        warehouse.execute(insert, [tick_at, tick_at, started])
        assert warehouse.execute(read, {"t": tick_at}).fetchall() == [(tick_at, tick_at, started, None)]
    quoted = "it's -- not; sql"
    assert spark.execute(exp.select(exp.Placeholder()), [quoted]).fetchone() == (quoted,)


def test_buckets_equal_on_both_engines(spark: SparkWarehouse, duck: DuckDBWarehouse) -> None:
    keys = exp.values([(f"entry-{i}",) for i in range(500)], alias="t", columns=["k"])
    slot = bucket(exp.Literal.string("journey"), exp.column("k"), exp.Literal.string("split"))
    query = exp.select(exp.column("k"), exp.alias_(slot, "slot")).from_(keys).order_by("k")
    on_duckdb = duck.execute(query).fetchall()
    on_spark = spark.execute(query).fetchall()
    assert on_spark == on_duckdb
    assert len({s for _, s in on_duckdb}) > 400  # spread over the buckets, not one constant


RANKED_STEP = """
with recursive candidates as (
    select * from (values ('p1', 1, 10), ('p1', 2, 12), ('p1', 3, 30), ('p2', 1, 5), ('p2', 2, 40))
        as c(profile_id, n, entry_at)
), admitted as (
    select profile_id, n, entry_at + 15 as ended_at from candidates where n = 1
    union all
    select profile_id, n, ended_at from (
        select c.profile_id, c.n, c.entry_at + 15 as ended_at,
            row_number() over (partition by c.profile_id order by c.entry_at) as rank
        from admitted as p join candidates as c
            on c.profile_id = p.profile_id and c.entry_at >= p.ended_at
    ) as ranked where rank = 1
)
select profile_id, n from admitted order by profile_id, n
"""
SUCCESSOR_STEP = """
with recursive candidates as (
    select * from (values ('p1', 1, 10), ('p1', 2, 12), ('p1', 3, 30), ('p2', 1, 5), ('p2', 2, 40))
        as c(profile_id, n, entry_at)
), successors as (
    select p.profile_id, p.n, min_by(c.n, c.entry_at) as next_n
    from candidates as p left join candidates as c
        on c.profile_id = p.profile_id and c.entry_at >= p.entry_at + 15
    group by p.profile_id, p.n
), admitted as (
    select profile_id, n from candidates where n = 1
    union all
    select s.profile_id, s.next_n from admitted as p
    join successors as s on s.profile_id = p.profile_id and s.n = p.n
    where s.next_n is not null
)
select profile_id, n from admitted order by profile_id, n
"""
CHAIN = [("p1", 1), ("p1", 3), ("p2", 1), ("p2", 2)]


def test_recursive_step_may_not_rank_on_spark(spark: SparkWarehouse, duck: DuckDBWarehouse) -> None:
    """The tick admits each profile's chain with a recursive CTE whose step ranks the candidates
    (sqlgen/tick/admission.py). Spark 4.3 refuses a window over the recursive reference; the same chain
    computed from each candidate's successor (found before the recursion) runs on both, equal."""
    assert duck.execute(statement(RANKED_STEP)).fetchall() == CHAIN
    with pytest.raises(Exception, match="INVALID_RECURSIVE_REFERENCE"):
        spark.execute(statement(RANKED_STEP))
    query = statement(SUCCESSOR_STEP)
    assert spark.execute(query).fetchall() == duck.execute(query).fetchall() == CHAIN


def test_schedule_occurrences_recorded_alike(spark: SparkWarehouse, duck: DuckDBWarehouse) -> None:
    """The runtime's schedule expansion (runtime/schedules.py) writes the same rows through either engine,
    once per occurrence however often a tick is re-run (Asia/Shanghai Fridays 10:00)."""
    journey = load_project(EXAMPLES).journeys["dormant_recall"]
    read = statement("select journey_id, occurrence_at from journeys.schedule_occurrences order by 2")
    found = []
    for warehouse in (spark, duck):
        create_tables(warehouse, control_tables())
        for at in (datetime(2026, 6, 1), datetime(2026, 6, 20), datetime(2026, 6, 20)):
            record_occurrences(warehouse, [journey], at)
        found.append(warehouse.execute(read).fetchall())
    assert (
        found[0]
        == found[1]
        == [
            ("dormant_recall", datetime(2026, 6, 5, 2)),
            ("dormant_recall", datetime(2026, 6, 12, 2)),
            ("dormant_recall", datetime(2026, 6, 19, 2)),
        ]
    )
