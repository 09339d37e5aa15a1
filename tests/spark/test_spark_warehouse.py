"""The warehouse interface on real local Spark, beside DuckDB: the same ASTs, the same answers."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from sqlglot import exp

from journey_compiler.config.project import load_project
from journey_compiler.ir import lower
from journey_compiler.runtime.schedules import record_occurrences
from journey_compiler.sqlgen.ast import json_document, json_object, lit, ts
from journey_compiler.sqlgen.ids import bucket
from journey_compiler.sqlgen.localtime import plus_days
from journey_compiler.sqlgen.tick import admission
from journey_compiler.sqlgen.tick.builder import TickSql
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


def test_weekdays_day_sums_and_payloads_equal_on_both_engines(
    spark: SparkWarehouse, duck: DuckDBWarehouse
) -> None:
    """The forms a journey model uses that sqlglot does not carry to Spark as DuckDB means them: the ISO
    weekday (sqlglot's Spark form is a day off), a computed number of days (Spark takes only a literal in
    INTERVAL) and a message payload nesting JSON documents (Spark has no JSON_OBJECT)."""
    days = [datetime(2026, 3, 2) + timedelta(days=i, hours=9) for i in range(7)]  # Monday to Sunday
    rows = exp.values(
        [(ts(d), exp.cast(lit('{"sku": "b", "value": 60.5, "gone": null}'), "JSON")) for d in days],
        alias="t",
        columns=["at", "doc"],
    )
    weekday = exp.DayOfWeekIso(this=exp.column("at"))
    payload = json_object(
        {
            "event": json_object({"at": exp.column("at"), "properties": json_document(exp.column("doc"))}),
            "none": exp.null(),
            "journey": json_object({"id": exp.Literal.string("j")}),
        }
    )
    query = (
        exp.select(
            exp.alias_(weekday, "weekday"),
            exp.alias_(plus_days(exp.column("at"), exp.Mod(this=weekday.copy(), expression=lit(3))), "later"),
            exp.alias_(payload, "payload"),
        )
        .from_(rows)
        .order_by("at")
    )
    on_duckdb = duck.execute(query).fetchall()
    assert [w for w, _, _ in on_duckdb] == [1, 2, 3, 4, 5, 6, 7]
    assert on_duckdb[0][1:] == (
        datetime(2026, 3, 3, 9),
        '{"event":{"at":"2026-03-02 09:00:00","properties":{"sku":"b","value":60.5,"gone":null}},'
        '"none":null,"journey":{"id":"j"}}',
    )
    # the same document; Spark's PARSE_JSON orders a document's keys, so the text is compared parsed
    parsed = lambda rows: [(w, later, json.loads(payload)) for w, later, payload in rows]  # noqa: E731
    assert parsed(spark.execute(query).fetchall()) == parsed(on_duckdb)


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
CHAIN = [("p1", 1), ("p1", 3), ("p2", 1), ("p2", 2)]


def test_recursive_step_may_not_rank_on_spark(spark: SparkWarehouse, duck: DuckDBWarehouse) -> None:
    """Why admission picks each next entry with NOT EXISTS (sqlgen/tick/admission.py): Spark 4.3 refuses a
    window over the recursive reference, which DuckDB runs."""
    assert duck.execute(statement(RANKED_STEP)).fetchall() == CHAIN
    with pytest.raises(Exception, match="INVALID_RECURSIVE_REFERENCE"):
        spark.execute(statement(RANKED_STEP))


# What the tick's skeleton and nodes hand to admission, for two profiles: p1 entered at 08:00 before this
# tick (ended 09:00); this tick's candidates end at `moves`' times, c5 and d1 stay open at the horizon.
CANDIDATES = {  # entry id: profile, entry time, outcome, left at
    "c1": ("p1", 10, 0, "exit", 10, 30),
    "c2": ("p1", 10, 10, "exit", 10, 40),
    "c3": ("p1", 11, 0, "leave", 11, 5),
    "c4": ("p1", 12, 0, "exit", 12, 10),
    "c5": ("p1", 13, 30, "stay", 13, 30),
    "d1": ("p2", 10, 0, "stay", 10, 0),
    "d2": ("p2", 12, 0, "exit", 12, 5),
}


ENTRY = ["entry_id", "profile_id", "trigger_event_id", "entry_at"]


def _at(hour: int, minute: int) -> exp.Expression:
    return ts(datetime(2026, 6, 1, hour, minute))


def _relation(columns: list[str], rows: list[tuple[exp.Expression, ...]]) -> exp.Select:
    return exp.select("*").from_(exp.values(rows, alias="t", columns=columns))


def _admission_inputs() -> dict[str, exp.Select]:
    string = exp.Literal.string
    new = [
        (string(e), string(p), string(f"ev-{e}"), _at(h, m), string(f"k-{e}"))
        for e, (p, h, m, *_) in CANDIDATES.items()
    ]
    moves = [(string(e), string(o), _at(h, m)) for e, (*_, o, h, m) in CANDIDATES.items()]
    no_next = exp.alias_(exp.cast(exp.null(), "varchar"), "next_node")
    return {
        "earlier_entries": _relation(
            ENTRY,
            [(string("e0"), string("p1"), string("ev-e0"), _at(8, 0))],
        ),
        "ended_entries": _relation(["entry_id", "ended_at"], [(string("e0"), _at(9, 0))]),
        "new_entries": _relation(
            ["entry_id", "profile_id", "trigger_event_id", "entry_at", "trigger_key"], new
        ),
        "moves": exp.select("entry_id", "outcome", no_next, "left_at").from_(
            exp.values(moves, alias="t", columns=["entry_id", "outcome", "left_at"])
        ),
    }


def test_admission_runs_on_spark_as_on_duckdb(spark: SparkWarehouse, duck: DuckDBWarehouse) -> None:
    """The tick's own admission CTEs (no re-entry, at most 2 entries in 3 hours), rendered for each engine:
    the same chains. c2 comes while c1 is inside, c4 would be the third entry in 3 hours, and d2 comes while
    d1 is still open at the horizon."""
    project = load_project(EXAMPLES)
    plan = lower(project.journeys["cart_abandonment"], project)
    entry = replace(plan.entry, reentry=False, frequency_max=2, frequency_per=timedelta(hours=3))
    tick = TickSql(replace(plan, entry=entry), project)
    for name, relation in _admission_inputs().items():
        tick.cte(name, relation)
    admission.build(tick)
    query = exp.select("profile_id", "entry_id").from_("admitted_entries").order_by("profile_id", "entry_at")
    for name, cte in tick.ctes:
        query = query.with_(name, as_=cte, recursive=tick.recursive)
    chains = [("p1", "c1"), ("p1", "c3"), ("p1", "c5"), ("p2", "d1")]
    assert duck.execute(query).fetchall() == chains
    assert spark.execute(query).fetchall() == chains


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
