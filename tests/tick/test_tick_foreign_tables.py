"""Raw tables created by someone else, with exactly the spec's minimum columns and TIMESTAMPTZ times, on a
machine whose local timezone is not UTC: the tick must read every time as UTC and not need more columns."""

from __future__ import annotations

import shutil
import time
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from journey_compiler.runtime.tick import run_tick
from journey_compiler.runtime.workspace import Workspace, build_dbt_project

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "shop"

SPEC_TABLES = [
    "create schema raw",
    "create table raw.profiles (profile_id varchar, email varchar, phone varchar, timezone varchar, "
    "attributes json, updated_at timestamptz)",
    "create table raw.events (event_id varchar, profile_id varchar, event_name varchar, "
    "event_time timestamptz, properties json, loaded_at timestamptz)",
    "create table raw.profile_tags (profile_id varchar, tag varchar, tagged_at timestamptz)",
    "create table raw.relations (from_id varchar, to_id varchar, relation varchar)",
    "create table raw.trading_calendar (day date, is_trading_day boolean)",
    # the spec's example detail table: no `category`, which the example warehouse.yaml declares
    "create table raw.orders (order_id varchar, profile_id varchar, amount double, ordered_at timestamptz)",
]


@pytest.fixture
def shanghai_local_time(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.slow
def test_spec_minimum_tables_with_timestamptz_tick_in_utc(tmp_path, shanghai_local_time):
    shutil.copytree(EXAMPLES, tmp_path / "journeys")
    warehouse = tmp_path / "theirs.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        assert con.execute("select current_setting('TimeZone')").fetchone() == ("Asia/Shanghai",)
        for statement in SPEC_TABLES:
            con.execute(statement)
        con.execute(
            "insert into raw.profiles values ('p1', 'p1@x.test', null, null, '{}', '2026-05-01 00:00+00')"
        )
        con.execute(
            "insert into raw.events values ('e1', 'p1', 'signup', '2026-06-01 10:00:00+00', '{}', "
            "'2026-06-01 10:00:05+00')"
        )
        con.execute("insert into raw.orders values ('o1', 'p1', 12.5, '2026-06-01 11:00:00+00')")
    workspace = Workspace.resolve(tmp_path / "journeys", warehouse)

    run_tick(workspace, build_dbt_project(workspace), datetime(2026, 6, 1, 12, 0))

    with duckdb.connect(str(warehouse)) as con:
        moves = con.execute(
            "select from_node, to_node, logical_at from journeys.journey_transitions "
            "where journey_id = 'welcome_series' order by logical_at, from_node nulls first"
        ).fetchall()
        orders = con.execute("select detail_at, amount, category from staging.stg_details__orders").fetchall()
    assert moves == [
        (None, "welcome", datetime(2026, 6, 1, 10, 0)),
        ("welcome", "wait_a_day", datetime(2026, 6, 1, 10, 0)),
    ]
    assert orders == [(datetime(2026, 6, 1, 11, 0), 12.5, None)]
