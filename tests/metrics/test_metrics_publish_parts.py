"""Append-only outputs are published as Parquet parts of their new rows: a tick's publish leaves every
closed part untouched, the parts together hold each warehouse row exactly once, and a warehouse restored
from an older copy is published again from scratch."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from journey_compiler.runtime import publish_parts
from journey_compiler.runtime.lock import connect
from journey_compiler.runtime.publish import APPENDED, publish_outputs, published_dir, published_path

pytestmark = pytest.mark.slow

T0 = datetime(2026, 3, 2, 6, 0)


def _differences(warehouse: Path, table: str) -> tuple[int, int]:
    """Rows of the warehouse's table missing from its published parts, and rows of the parts not in it
    (as multisets: a row published twice counts)."""
    parts = f"read_parquet('{published_path(published_dir(warehouse), table)}', union_by_name = true)"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        live = f"select * from journeys.{table}"
        missing = con.execute(f"select count(*) from ({live} except all select * from {parts})").fetchone()[0]
        extra = con.execute(f"select count(*) from (select * from {parts} except all {live})").fetchone()[0]
    return missing, extra


def _stats(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in sorted(folder.glob("part-*.parquet"))}


@pytest.fixture
def shop(make_scenario, welcome_yaml):
    sc = make_scenario({"welcome_series": welcome_yaml})
    profiles = [f"p{i:02d}" for i in range(24)]
    sc.profiles(profiles)
    for i, pid in enumerate(profiles):
        sc.event(f"s_{pid}", pid, "signup", T0 + timedelta(hours=2 * i), channel="web")
    return sc


def test_each_publish_adds_only_the_new_rows(shop, monkeypatch):
    monkeypatch.setattr(publish_parts, "ROWS_PER_PART", 10)
    warehouse = shop.workspace.warehouse
    folder = published_dir(warehouse) / "journey_transitions"
    closed_before: dict[str, tuple[int, int]] = {}
    for step in range(6):
        if step == 3:  # what the senders and the status receiver append between ticks
            ids = [m for (m,) in shop.sql("select message_id from journeys.send_queue order by 1 limit 4")]
            for message_id in ids:
                shop.sql(
                    "insert into journeys.message_events values (?, 'sent', ?, null)",
                    [message_id, T0 + timedelta(hours=8 * step)],
                )
        shop.tick(T0 + timedelta(hours=8 * step))
        parts = _stats(folder)
        # a part closed by an earlier publish is never rewritten: the tick paid only for its new rows
        assert {name: parts[name] for name in closed_before} == closed_before
        closed_before = dict(list(parts.items())[:-1])
        for table in APPENDED:
            assert _differences(warehouse, table) == (0, 0), (step, table)
    # a part is closed once it holds ROWS_PER_PART rows, and not before
    with duckdb.connect() as reader:
        query = "select num_rows from parquet_file_metadata(?)"
        sizes = [reader.execute(query, [str(folder / name)]).fetchone()[0] for name in parts]
    assert len(sizes) >= 2 and min(sizes[:-1]) >= 10
    total = shop.sql("select count(*) from journeys.journey_transitions")[0][0]
    assert sum(sizes) == total
    assert shop.sql("select count(*) from journeys.message_events")[0][0] == 4
    with duckdb.connect(str(published_dir(warehouse) / "bi.duckdb"), read_only=True) as bi:
        assert bi.execute("select count(*) from journeys.journey_transitions").fetchone()[0] == total


def test_a_warehouse_restored_from_an_older_copy_is_published_again(shop, tmp_path):
    warehouse = shop.workspace.warehouse
    shop.tick(T0 + timedelta(hours=12))
    saved = tmp_path / "saved.duckdb"
    shutil.copy(warehouse, saved)
    shop.tick(T0 + timedelta(days=2))
    shutil.copy(saved, warehouse)
    older = published_dir(warehouse) / "journey_transitions.parquet"
    older.write_bytes(b"a single file of the layout before parts")
    with connect(warehouse) as con:
        publish_outputs(con, warehouse)
    assert not older.exists()
    for table in APPENDED:
        assert _differences(warehouse, table) == (0, 0), table
