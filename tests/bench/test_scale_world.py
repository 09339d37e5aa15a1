"""The benchmark's world must be rows a real tick takes: the shop week plus older browsing, seeded."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from journey_compiler.runtime.tick import run_tick
from journey_compiler.runtime.workspace import Workspace, build_dbt_project

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "bench" / "scale_world.py"
EXAMPLES = ROOT / "examples" / "shop"
START = datetime(2026, 6, 1)
PEOPLE = 200

pytestmark = pytest.mark.slow


def _generate(path: Path, seed: int = 7) -> Path:
    subprocess.run(
        [sys.executable, str(GENERATOR), "--profiles", str(PEOPLE), "--history", "3", "--seed", str(seed)]
        + ["--out", str(path)],
        check=True,
        capture_output=True,
    )
    return path


def _rows(path: Path, query: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(query).fetchall()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _generate(tmp_path_factory.mktemp("world") / "world.duckdb")


def test_older_history_is_twice_the_week_of_browsing_in_the_90_days_before_it(world: Path) -> None:
    [(week, older, names, first, last)] = _rows(
        world,
        "select count(*) filter (where event_id like 'e%'), count(*) filter (where event_id like 'h%'), "
        "list(distinct event_name order by event_name) filter (where event_id like 'h%'), "
        "min(event_time) filter (where event_id like 'h%'), "
        "max(event_time) filter (where event_id like 'h%') "
        "from raw.events",
    )
    assert older == pytest.approx(2 * week, rel=0.01)
    assert names == ["app_open", "page_view"]
    assert START - timedelta(days=90) <= first and last < START


def test_older_events_carry_only_the_declared_properties(world: Path) -> None:
    keys = _rows(
        world,
        "select event_name, json_keys(properties) as keys, count(*) from raw.events "
        "where event_id like 'h%' group by all order by all",
    )
    assert [(name, k) for name, k, _ in keys] == [("app_open", []), ("page_view", ["page"])]


def test_a_few_people_browse_much_more_than_most(world: Path) -> None:
    [(busiest, median, people)] = _rows(
        world,
        "select max(n), median(n), count(*) from (select profile_id, count(*) as n from raw.events "
        "where event_id like 'h%' group by all)",
    )
    assert busiest >= 10 * median
    assert people > PEOPLE * 0.9  # most people have some history, however little


def test_some_older_events_load_late_or_twice_with_the_same_content(world: Path) -> None:
    [(twice, differing, late)] = _rows(
        world,
        "with copies as (select event_id, count(*) as n, count(distinct (profile_id, event_name, event_time, "
        "properties::varchar)) as contents from raw.events where event_id like 'h%' group by all) "
        "select count(*) filter (where n = 2), count(*) filter (where contents > 1), "
        "(select count(*) from raw.events "
        " where event_id like 'h%' and loaded_at > event_time + interval 1 hour) "
        "from copies",
    )
    assert twice > 0 and late > 0
    assert differing == 0


def test_the_same_seed_writes_the_same_rows(world: Path, tmp_path: Path) -> None:
    again = _generate(tmp_path / "again.duckdb")
    other = _generate(tmp_path / "other.duckdb", seed=8)
    digest = "select sum(hash(columns(*))) from raw.events"
    assert _rows(again, digest) == _rows(world, digest)
    assert _rows(other, digest) != _rows(world, digest)


def test_a_tick_over_the_whole_history_rejects_no_row(world: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "ticked.duckdb"
    warehouse.write_bytes(world.read_bytes())
    workspace = Workspace.resolve(EXAMPLES, warehouse)
    plan = run_tick(workspace, build_dbt_project(workspace), START + timedelta(days=7))
    assert plan.runs
    assert _rows(warehouse, "select count(*) from journeys.rejected_rows") == [(0,)]
    [(entries,)] = _rows(warehouse, "select count(*) from journeys.journey_state")
    assert entries > 0
