"""The demo shop is what the tick tests and benchmarks run on, so its story and its warts must hold."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from journey_compiler.config.warehouse import WarehouseConfig
from journey_compiler.demo.shop import ShopSummary, generate_shop
from journey_compiler.errors import JourneysError

START = datetime(2026, 6, 1)
PROFILES = 3000

# The example warehouse.yaml, as the demo uses it.
WAREHOUSE = WarehouseConfig.model_validate(
    {
        "attributes": {
            "member_level": "text",
            "lifetime_value": "double",
            "city": "text",
            "plate_number": "text",
        },
        "events": {
            "signup": {"channel": "text"},
            "activate": None,
            "app_open": {},
            "page_view": {"page": "text"},
            "add_to_cart": {"value": "double", "sku": "text"},
            "purchase": {"value": "double", "order_id": "text"},
            "policy_expiring": {"policy_id": "text", "expires_on": "date"},
            "policy_renewed": {"policy_id": "text"},
            "unsubscribe": {"channel": "text"},
        },
        "details": {
            "orders": {
                "table": "raw.orders",
                "profile": "profile_id",
                "time": "ordered_at",
                "columns": {"order_id": "text", "amount": "double", "category": "text"},
            },
        },
    }
)


def _shop(path: Path, warehouse: WarehouseConfig = WAREHOUSE, seed: int = 7) -> tuple[Path, ShopSummary]:
    with duckdb.connect(str(path)) as con:
        summary = generate_shop(con, warehouse, start=START, days=7, profiles=PROFILES, seed=seed)
    return path, summary


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ShopSummary]:
    return _shop(tmp_path_factory.mktemp("shop") / "shop.duckdb")


@pytest.fixture
def con(shop: tuple[Path, ShopSummary]) -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect(str(shop[0]), read_only=True) as con:
        yield con


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> tuple:
    return con.execute(sql).fetchall()[0]


def _tables(path: Path) -> dict[str, list[tuple]]:
    names = ["profiles", "events", "orders", "profile_tags", "relations", "trading_calendar"]
    with duckdb.connect(str(path), read_only=True) as con:
        return {name: con.execute(f"SELECT * FROM raw.{name} ORDER BY ALL").fetchall() for name in names}


def test_same_seed_same_tables_other_seed_other_tables(
    tmp_path: Path, shop: tuple[Path, ShopSummary]
) -> None:
    again, _ = _shop(tmp_path / "again.duckdb")
    other, _ = _shop(tmp_path / "other.duckdb", seed=8)
    assert _tables(again) == _tables(shop[0])
    assert _tables(other)["events"] != _tables(shop[0])["events"]
    assert _tables(other)["profiles"] != _tables(shop[0])["profiles"]


def test_summary_counts_the_rows_written(
    con: duckdb.DuckDBPyConnection, shop: tuple[Path, ShopSummary]
) -> None:
    summary = shop[1]
    assert summary.start == START and summary.end == START + timedelta(days=8)
    assert summary.profiles == _one(con, "SELECT count(*) FROM raw.profiles")[0] == PROFILES + PROFILES // 50
    assert summary.events == _one(con, "SELECT count(*) FROM raw.events")[0]
    assert summary.orders == _one(con, "SELECT count(*) FROM raw.orders")[0] > 0
    assert summary.relations == PROFILES // 50
    assert summary.trading_calendar == 38
    assert summary.profile_tags > 0


def test_ratios_follow_the_story(con: duckdb.DuckDBPyConnection) -> None:
    people = _one(con, "SELECT count(*) FROM raw.profiles WHERE profile_id LIKE 'p%'")[0]
    assert people == PROFILES

    def share_of_people(event: str) -> float:
        sql = "SELECT count(DISTINCT profile_id) FROM raw.events WHERE event_name = ?"
        return con.execute(sql, [event]).fetchall()[0][0] / people

    assert share_of_people("signup") == 1.0
    assert 0.27 < share_of_people("activate") < 0.38  # 35%, less those after the end of the period
    assert 0.35 < share_of_people("add_to_cart") < 0.45
    assert 0.15 < share_of_people("purchase") < 0.23
    assert 0.015 < share_of_people("unsubscribe") < 0.045

    shanghai, berlin, no_timezone, no_level = _one(
        con,
        """
        SELECT count(*) FILTER (WHERE timezone = 'Asia/Shanghai') / count(*),
            count(*) FILTER (WHERE timezone = 'Europe/Berlin') / count(*),
            count(*) FILTER (WHERE timezone IS NULL) / count(*),
            count(*) FILTER (WHERE attributes->>'member_level' IS NULL) / count(*)
        FROM raw.profiles WHERE profile_id LIKE 'p%'
    """,
    )
    assert 0.66 < shanghai < 0.74 and berlin > 0.1 and no_timezone > 0.1
    assert 0.35 < no_level < 0.45
    cars = "SELECT count(*) FROM raw.profiles WHERE attributes->>'plate_number' IS NOT NULL"
    assert _one(con, cars)[0] == PROFILES // 50


def test_activation_lands_before_and_after_the_welcome_wait(con: duckdb.DuckDBPyConnection) -> None:
    within_a_day, later, beyond = _one(
        con,
        """
        SELECT count(*) FILTER (WHERE a.event_time < s.event_time + INTERVAL 1 DAY),
            count(*) FILTER (WHERE a.event_time >= s.event_time + INTERVAL 1 DAY),
            count(*) FILTER (WHERE a.event_time > s.event_time + INTERVAL 4 DAY)
        FROM (SELECT DISTINCT profile_id, event_time FROM raw.events WHERE event_name = 'signup') AS s
        JOIN (SELECT DISTINCT profile_id, event_time FROM raw.events WHERE event_name = 'activate') AS a
            USING (profile_id)
    """,
    )
    assert within_a_day > 100 and later > 100 and beyond == 0


def test_properties_and_attributes_use_declared_keys_only(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute("SELECT DISTINCT event_name, json_keys(properties) FROM raw.events").fetchall()
    assert {name for name, _ in rows} == set(WAREHOUSE.events)
    for name, keys in rows:
        assert set(keys) <= set(WAREHOUSE.events[name]), (name, keys)
    for (keys,) in con.execute("SELECT DISTINCT json_keys(attributes) FROM raw.profiles").fetchall():
        assert set(keys) <= set(WAREHOUSE.attributes)


def test_undeclared_events_properties_and_attributes_are_left_out(tmp_path: Path) -> None:
    narrow = WAREHOUSE.model_copy(
        update={
            "attributes": {"city": "text"},
            "events": {"signup": {}, "add_to_cart": {"value": "double"}, "purchase": {"order_id": "text"}},
            "details": {},
        }
    )
    path, summary = _shop(tmp_path / "narrow.duckdb", narrow)
    assert summary.orders == 0
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute("SELECT DISTINCT event_name, json_keys(properties) FROM raw.events").fetchall()
        attributes = con.execute("SELECT DISTINCT json_keys(attributes) FROM raw.profiles").fetchall()
    assert sorted(rows) == [("add_to_cart", ["value"]), ("purchase", ["order_id"]), ("signup", [])]
    assert attributes == [(["city"],)]


def test_every_purchase_has_its_order(con: duckdb.DuckDBPyConnection) -> None:
    purchases, matched, orders = _one(
        con,
        """
        WITH purchases AS (
            SELECT DISTINCT profile_id, event_time, properties->>'order_id' AS order_id,
                CAST(properties->>'value' AS DOUBLE) AS value
            FROM raw.events WHERE event_name = 'purchase'
        )
        SELECT (SELECT count(*) FROM purchases),
            (SELECT count(*) FROM purchases AS p JOIN raw.orders AS o
                ON o.order_id = p.order_id AND o.profile_id = p.profile_id
                AND o.ordered_at = p.event_time AND o.amount = p.value),
            (SELECT count(*) FROM raw.orders)
    """,
    )
    assert purchases == matched == orders > 0
    late_buyers = _one(
        con,
        """
        SELECT count(*) FROM raw.events AS p JOIN raw.events AS c USING (profile_id)
        WHERE p.event_name = 'purchase' AND c.event_name = 'add_to_cart'
            AND NOT p.event_time BETWEEN c.event_time AND c.event_time + INTERVAL 3 HOUR
    """,
    )[0]
    assert late_buyers == 0


def test_duplicates_repeat_the_event_later(
    con: duckdb.DuckDBPyConnection, shop: tuple[Path, ShopSummary]
) -> None:
    copies, same_content, later = _one(
        con,
        """
        SELECT count(*),
            count(*) FILTER (WHERE first.profile_id = second.profile_id
                AND first.event_name = second.event_name AND first.event_time = second.event_time
                AND first.properties = second.properties),
            count(*) FILTER (WHERE first.loaded_at < second.loaded_at)
        FROM raw.events AS first JOIN raw.events AS second
            ON first.event_id = second.event_id AND first.loaded_at <= second.loaded_at
            AND first.rowid <> second.rowid
    """,
    )
    assert copies == same_content == later == shop[1].duplicate_deliveries
    distinct_ids, rows = _one(con, "SELECT count(DISTINCT event_id), count(*) FROM raw.events")
    assert rows - distinct_ids == copies
    assert 0.002 < copies / distinct_ids < 0.009


def test_late_events_load_hours_after_they_happen(con: duckdb.DuckDBPyConnection) -> None:
    late, events = _one(
        con,
        """
        SELECT count(DISTINCT event_id) FILTER (WHERE loaded_at >= event_time + INTERVAL 2 HOUR),
            count(DISTINCT event_id)
        FROM raw.events
    """,
    )
    assert 0.006 < late / events < 0.014
    slowest_on_time = _one(
        con,
        """
        SELECT max(loaded_at - event_time) FROM raw.events
        WHERE loaded_at < event_time + INTERVAL 2 HOUR AND event_id NOT IN (
            SELECT event_id FROM raw.events GROUP BY ALL HAVING count(*) > 1)
    """,
    )[0]
    assert slowest_on_time <= timedelta(minutes=11)


def test_everything_happens_and_loads_within_the_period(con: duckdb.DuckDBPyConnection) -> None:
    first, last_event, last_load, early_loads = _one(
        con,
        """
        SELECT min(event_time), max(event_time), max(loaded_at),
            count(*) FILTER (WHERE loaded_at < event_time)
        FROM raw.events
    """,
    )
    assert first >= START and last_event < last_load < START + timedelta(days=8)
    assert early_loads == 0


def test_every_reference_names_a_profile(con: duckdb.DuckDBPyConnection) -> None:
    dangling = _one(
        con,
        """
        WITH known AS (SELECT profile_id FROM raw.profiles)
        SELECT
            (SELECT count(*) FROM raw.events WHERE profile_id NOT IN (FROM known)),
            (SELECT count(*) FROM raw.orders WHERE profile_id NOT IN (FROM known)),
            (SELECT count(*) FROM raw.profile_tags WHERE profile_id NOT IN (FROM known)),
            (SELECT count(*) FROM raw.relations
                WHERE from_id NOT IN (FROM known) OR to_id NOT IN (FROM known))
    """,
    )
    assert dangling == (0, 0, 0, 0)
    assert _one(con, "SELECT count(*) - count(DISTINCT profile_id) FROM raw.profiles")[0] == 0


def test_calendar_trades_on_weekdays(con: duckdb.DuckDBPyConnection) -> None:
    wrong = "SELECT count(*) FROM raw.trading_calendar WHERE is_trading_day <> (isodow(day) <= 5)"
    assert _one(con, wrong)[0] == 0


def test_refuses_a_warehouse_that_already_has_a_shop(shop: tuple[Path, ShopSummary]) -> None:
    with duckdb.connect(str(shop[0])) as con, pytest.raises(JourneysError, match="already holds rows"):
        generate_shop(con, WAREHOUSE, start=START)


def test_an_aware_start_is_taken_as_its_utc_moment() -> None:
    shanghai_morning = datetime(2026, 6, 1, 8, tzinfo=ZoneInfo("Asia/Shanghai"))
    with duckdb.connect() as con:
        summary = generate_shop(con, WAREHOUSE, start=shanghai_morning, days=1, profiles=50)
        first_signup = _one(con, "SELECT min(event_time) FROM raw.events WHERE event_name = 'signup'")[0]
    assert summary.start == START and summary.end == START + timedelta(days=2)
    assert START <= first_signup < START + timedelta(days=1)
