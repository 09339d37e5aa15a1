"""Scenario harness shared by the tick and node tests: a real DuckDB file and a real dbt run.

Each test writes its own small journeys directory (the shipped example warehouse.yaml, channels.yaml,
segments, metrics and templates, plus the journeys the test needs), inserts raw rows by SQL and ticks.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from journey_compiler.config.project import load_project
from journey_compiler.runtime.tick import TickPlan, run_tick
from journey_compiler.runtime.workspace import BuiltProject, Workspace, build_dbt_project
from journey_compiler.warehouse.tables import init_warehouse

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "shop"
SHARED_PARTS = ("warehouse.yaml", "channels.yaml", "segments", "metrics", "templates")

# Every output the spec (section 4) names, as the marts expose them.
OUTPUTS = (
    "journeys.journey_state",
    "journeys.journey_transitions",
    "journeys.send_queue",
    "journeys.journey_tags",
    "journeys.goal_completions",
    "journeys.journey_node_daily",
)


def example_journey(name: str) -> str:
    return (EXAMPLES / "journeys" / f"{name}.yaml").read_text()


@dataclass
class Scenario:
    """One journeys directory + one warehouse file + the dbt project built for them."""

    root: Path
    workspace: Workspace
    built: BuiltProject

    # ------------------------------------------------------------ inputs

    def sql(self, statement: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.workspace.warehouse)) as con:
            cursor = con.execute(statement, list(params))
            try:
                return cursor.fetchall()
            except duckdb.InvalidInputException:  # statements without a result set
                return []

    def profile(self, profile_id: str, *, timezone: str | None = "UTC", **attributes: Any) -> None:
        self.profiles([profile_id], timezone=timezone, **attributes)

    def profiles(
        self, profile_ids: Iterable[str], *, timezone: str | None = "UTC", **attributes: Any
    ) -> None:
        rows = [
            [pid, f"{pid}@example.test", "+100000", timezone, json.dumps(attributes), datetime(2026, 1, 1)]
            for pid in profile_ids
        ]
        with duckdb.connect(str(self.workspace.warehouse)) as con:
            con.executemany("insert into raw.profiles values (?, ?, ?, ?, ?, ?)", rows)

    def event(
        self,
        event_id: str,
        profile_id: str,
        name: str,
        at: datetime,
        *,
        loaded_at: datetime | None = None,
        **properties: Any,
    ) -> None:
        self.sql(
            "insert into raw.events values (?, ?, ?, ?, ?, ?)",
            [event_id, profile_id, name, at, json.dumps(properties), loaded_at or at],
        )

    def tag(self, profile_id: str, tag: str, at: datetime) -> None:
        """Another system's tag (raw.profile_tags)."""
        self.sql("insert into raw.profile_tags values (?, ?, ?)", [profile_id, tag, at])

    def order(self, order_id: str, profile_id: str, amount: float, at: datetime) -> None:
        self.sql(
            "insert into raw.orders (order_id, profile_id, amount, ordered_at) values (?, ?, ?, ?)",
            [order_id, profile_id, amount, at],
        )

    def set_attributes(self, profile_id: str, attributes: dict[str, Any]) -> None:
        """Replace a profile's attributes (the warehouse keeps no history of them)."""
        change = "update raw.profiles set attributes = ? where profile_id = ?"
        self.sql(change, [json.dumps(attributes), profile_id])

    # ------------------------------------------------------------ running

    def tick(self, at: datetime) -> TickPlan:
        return run_tick(self.workspace, self.built, at)

    def tick_every(self, start: datetime, end: datetime, step: timedelta) -> None:
        at = start
        while at < end:
            self.tick(at)
            at += step
        self.tick(end)

    # ------------------------------------------------------------ outputs

    def rows(
        self, relation: str, columns: str = "*", where: str = "true", order: str = "1"
    ) -> list[dict[str, Any]]:
        with duckdb.connect(str(self.workspace.warehouse)) as con:
            cursor = con.execute(f"select {columns} from {relation} where {where} order by {order}")
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def transitions(self, profile_id: str | None = None) -> list[dict[str, Any]]:
        where = f"profile_id = '{profile_id}'" if profile_id else "true"
        return self.rows(
            "journeys.journey_transitions",
            where=where,
            order="logical_at, tick_at, coalesce(from_node, ''), reason",
        )

    def transition_set(self) -> set[tuple[Any, ...]]:
        """Every transition as (entry, profile, from, to, branch, reason, logical_at): what must not depend
        on the tick cadence."""
        keys = ("entry_id", "profile_id", "from_node", "to_node", "branch", "reason", "logical_at")
        return {tuple(t[k] for k in keys) for t in self.transitions()}

    def moves(self, profile_id: str) -> list[tuple[Any, ...]]:
        """The profile's one entry as (from_node, to_node, branch, reason, logical_at), in path order."""
        paths = self.paths(profile_id)
        assert len(paths) == 1, f"{profile_id} has {len(paths)} entries"
        return next(iter(paths.values()))

    def paths(self, profile_id: str | None = None) -> dict[str, list[tuple[Any, ...]]]:
        """path_id -> its transitions in path order (following from_node -> to_node from `entered`, or from
        `forked` for a path an all_matches split started); a path that never forked has its entry's id."""
        by_entry: dict[str, list[dict[str, Any]]] = {}
        for t in self.transitions(profile_id):
            by_entry.setdefault(t["path_id"], []).append(t)
        out = {}
        for entry_id, rows in by_entry.items():
            ordered, at = [], None
            remaining = list(rows)
            while remaining:
                nxt = next((r for r in remaining if r["from_node"] == at), None)
                assert nxt is not None, f"transitions of {entry_id} do not form a path: {rows}"
                remaining.remove(nxt)
                ordered.append(nxt)
                at = nxt["to_node"]
            out[entry_id] = [
                (t["from_node"], t["to_node"], t["branch"], t["reason"], t["logical_at"]) for t in ordered
            ]
        return out

    def state(self, profile_id: str | None = None) -> list[dict[str, Any]]:
        where = f"profile_id = '{profile_id}'" if profile_id else "true"
        return self.rows("journeys.journey_state", where=where, order="profile_id, entry_at")

    def sends(self, profile_id: str | None = None) -> list[dict[str, Any]]:
        where = f"profile_id = '{profile_id}'" if profile_id else "true"
        return self.rows("journeys.send_queue", where=where, order="profile_id, created_at, node_id")

    def counts(self) -> dict[str, int]:
        return {name: self.sql(f"select count(*) from {name}")[0][0] for name in OUTPUTS}

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every output's rows (sorted), for 'nothing changed' comparisons."""
        out = {}
        for name in OUTPUTS:
            rows = self.sql(f"select * from {name}")
            out[name] = sorted(rows, key=repr)
        return out


ScenarioFactory = Callable[..., Scenario]


@pytest.fixture(scope="session")
def welcome_yaml() -> str:
    """The shipped welcome series, unchanged."""
    return example_journey("welcome_series")


def new_scenario(root: Path, journeys: dict[str, str], extra_files: dict[str, str] | None = None) -> Scenario:
    """A journeys dir with `journeys` ({file stem: YAML text}) under `root`, built, with empty raw tables;
    `extra_files` ({relative path: text}, e.g. "segments/extra.yaml") are written before the build."""
    journeys_dir = root / "journeys_dir"
    journeys_dir.mkdir(parents=True)
    for part in SHARED_PARTS:
        source = EXAMPLES / part
        if source.is_dir():
            shutil.copytree(source, journeys_dir / part)
        else:
            shutil.copy2(source, journeys_dir / part)
    (journeys_dir / "journeys").mkdir()
    for stem, text in journeys.items():
        (journeys_dir / "journeys" / f"{stem}.yaml").write_text(text)
    for relative, text in (extra_files or {}).items():
        target = journeys_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    workspace = Workspace.resolve(journeys_dir, root / "warehouse.duckdb")
    built = build_dbt_project(workspace, load_project(journeys_dir))
    assert not built.compiled.skipped, f"the scenario's journeys must all compile: {built.compiled.skipped}"
    with duckdb.connect(str(workspace.warehouse)) as con:
        init_warehouse(con, built.project.warehouse)
    return Scenario(root, workspace, built)


@pytest.fixture(scope="session")
def scenario_builder() -> Callable[[Path, dict[str, str]], Scenario]:
    """`new_scenario` for module-scoped fixtures (which cannot use the function-scoped factory)."""
    return new_scenario


@pytest.fixture
def make_scenario(tmp_path: Path, scenario_builder) -> ScenarioFactory:
    """`make_scenario({"file_stem": yaml_text, ...}, name="a")` -> a Scenario with empty raw tables."""

    def make(journeys: dict[str, str], name: str = "w") -> Scenario:
        return scenario_builder(tmp_path / name, journeys)

    return make


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under `--dist loadgroup` (`./run test`) each module's tests share a worker, so a module-scoped
    fixture (a warehouse ticked through a scenario) is built once, not once per worker; modules that name a
    group of their own (the Spark tests: one JVM) keep it."""
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """pytest-xdist's loadgroup groups by a `@group` suffix its workers add to each node id; a pytest that
    ignores it (9.2 with xdist 3.8) silently hands out single tests, so every module's scenario is built on
    both workers. Refuse to run like that rather than be twice as slow unnoticed."""
    if node.config.option.dist == "loadgroup" and any("@" not in nodeid for nodeid in ids):
        raise pytest.UsageError(
            "--dist loadgroup has no effect with this pytest and pytest-xdist (the node ids lack the group): "
            "install the versions of requirements.lock"
        )
