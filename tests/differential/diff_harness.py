"""Run a generated case through the real SQL tick, and through the reference interpreter, into the same rows.

SQL side: the journeys are written as YAML into a journeys dir with the shipped shop catalog (the scenario
harness of tests/conftest.py), validated by `load_project` and built into the dbt project; the DuckDB
warehouse (`journeys init` tables) is emptied before each run. The world is inserted before the first tick
(a late event is one whose `loaded_at` is after its `event_time`: the watermark hides it until then), the
real ticks run (`run_tick`), and the marts are read back as `journey_compiler.reference.world` rows.

Message outcomes follow one deterministic rule, `outcomes_for`, applied on both sides after every tick to
each message the tick created that is not suppressed: the hash of its id picks a status sequence (e.g. sent
then read), stamped minutes after `max(not_before, tick_at)` — after the tick that created it, as a sender
running after the tick would. The SQL side writes them into `journeys.message_events`; the interpreter side
is run tick by tick and gets them in `World.message_events` (they are all later than the ticks before, so
re-running the earlier ticks with them sees nothing new).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import yaml
from diff_profiles import EXAMPLES

from journey_compiler.config.project import Project, load_project
from journey_compiler.reference.world import (
    GoalRow,
    Message,
    MessageEvent,
    ReferenceOutput,
    StateRow,
    TagRow,
    Transition,
    World,
)
from journey_compiler.runtime.workspace import build_dbt_project

M = timedelta(minutes=1)
OUTCOME_SEQUENCES: tuple[tuple[tuple[str, int], ...], ...] = (
    (("sent", 2),),
    (("sent", 1), ("delivered", 10), ("read", 90)),
    (("failed", 5),),
    (("suppressed", 1),),
    (("sent", 3), ("delivered", 4), ("read", 30), ("clicked", 200)),
    (("deferred", 2), ("expired", 40)),
    (("read", 4), ("sent", 4), ("delivered", 4)),  # a provider reporting three statuses with one timestamp
    (),  # never dispatched within the run
)
"""(status, minutes after the message could first go out); the message id's hash picks one. Statuses at one
instant are recorded out of lifecycle order on purpose (docs/semantics.md, "Two statuses at one instant")."""


def outcomes_for(message: Message, tick_at: datetime) -> list[MessageEvent]:
    """The senders' (and providers') outcomes for a message created by the tick at `tick_at`."""
    if message.status == "suppressed":
        return []
    digest = int(hashlib.md5(message.message_id.encode()).hexdigest()[:8], 16)
    start = max(message.not_before or tick_at, tick_at)
    return [
        MessageEvent(message.message_id, status, start + minutes * M, f"rule {digest % 97}")
        for status, minutes in OUTCOME_SEQUENCES[digest % len(OUTCOME_SEQUENCES)]
    ]


def journey_files(project: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {journey_id: yaml.safe_dump(journey, sort_keys=False) for journey_id, journey in project.items()}


# ---------------------------------------------------------------- loading a world


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert rows (column -> value; dicts become JSON) into `table`, naming the columns."""
    if rows:
        columns = tuple(rows[0])
        statement = f"insert into {table} ({', '.join(columns)}) values ({', '.join('?' * len(columns))})"
        con.executemany(
            statement, [[json.dumps(v) if isinstance(v, dict) else v for v in row.values()] for row in rows]
        )


def _as_row(item: Any) -> dict[str, Any]:
    return {f.name: getattr(item, f.name) for f in dataclasses.fields(item)}


def load_world(warehouse: Path, project: Project, world: World) -> None:
    sources = project.warehouse.sources
    tables = {
        sources.profiles: [_as_row(p) for p in world.profiles],
        sources.events: [_as_row(e) | {"loaded_at": e.loaded} for e in world.events],
        sources.profile_tags: [_as_row(t) for t in world.profile_tags],
        sources.relations: [_as_row(r) for r in world.relations],
        sources.trading_calendar: [
            {"day": day, "is_trading_day": is_open} for day, is_open in sorted(world.trading_calendar.items())
        ],
        "journeys.journey_controls": [_as_row(c) | {"recorded_at": c.effective_at} for c in world.controls],
        **{project.warehouse.details[name].table: rows for name, rows in world.details.items()},
    }
    with duckdb.connect(str(warehouse)) as con:
        for table, rows in tables.items():
            _insert(con, table, rows)
        write_message_events(con, world.message_events)


def write_message_events(con: duckdb.DuckDBPyConnection, events: list[MessageEvent]) -> None:
    _insert(con, "journeys.message_events", [_as_row(e) for e in events])


# ---------------------------------------------------------------- reading the marts


def _rows(con: duckdb.DuckDBPyConnection, relation: str, columns: tuple[str, ...]) -> list[tuple[Any, ...]]:
    return con.execute(f"select {', '.join(columns)} from {relation}").fetchall()


def _fields(row_type: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(row_type))


def read_messages(con: duckdb.DuckDBPyConnection) -> list[Message]:
    return [Message(*row) for row in _rows(con, "journeys.send_queue", _fields(Message))]


def read_outputs(warehouse: Path) -> ReferenceOutput:
    with duckdb.connect(str(warehouse)) as con:
        return ReferenceOutput(
            transitions=[
                Transition(*r) for r in _rows(con, "journeys.journey_transitions", _fields(Transition))
            ],
            state=[StateRow(*r) for r in _rows(con, "journeys.journey_state", _fields(StateRow))],
            messages=read_messages(con),
            tags=[TagRow(*r) for r in _rows(con, "journeys.journey_tags", _fields(TagRow))],
            goals=[GoalRow(*r) for r in _rows(con, "journeys.goal_completions", _fields(GoalRow))],
        )


# ---------------------------------------------------------------- running

_BASE_TABLES = """
select table_schema, table_name from information_schema.tables
where table_type = 'BASE TABLE' and table_catalog = current_database()
"""


@dataclasses.dataclass
class SqlEngine:
    """One journeys dir, one warehouse file and one dbt build, reused by every example.

    A deploy (a full dbt parse and run) costs several ticks, so the dbt project keeps its path and the
    warehouse its file (dbt then re-parses only the journey models that changed, and keeps its connection);
    between runs every row is deleted, and the views stay deployed while the journeys stay the same."""

    scenario: Any
    """A tests/conftest.py Scenario: its workspace and the dbt project built for the current journeys."""
    journeys: dict[str, str] = dataclasses.field(default_factory=dict)
    """The journey files the current build was made from."""
    edited: dict[datetime, Project] = dataclasses.field(default_factory=dict)
    """The projects the last run's edits built, by tick (for the interpreter's `edits`)."""

    def __repr__(self) -> str:
        """Short, for hypothesis's report of a failing example (which prints the fixtures too)."""
        return f"SqlEngine({self.scenario.workspace.warehouse})"

    def use(self, project: dict[str, dict[str, Any]]) -> Project:
        """Write these journeys (and only these) into the journeys dir, validate and build them; the
        journeys built last are used again as they are (the worlds of a batch share them)."""
        files = journey_files(project)
        if files == self.journeys:
            return self.scenario.built.project
        folder = self.scenario.workspace.journeys_dir / "journeys"
        for old in folder.glob("*.yaml"):
            old.unlink()
        for stem, text in files.items():
            (folder / f"{stem}.yaml").write_text(text)
        built = build_dbt_project(self.scenario.workspace, load_project(self.scenario.workspace.journeys_dir))
        assert not built.compiled.skipped, f"every generated journey must compile: {built.compiled.skipped}"
        self.scenario = dataclasses.replace(self.scenario, built=built)
        self.journeys = files
        return built.project

    def reset(self) -> None:
        """Empty every table (raw, control, histories); the deployment record and the views stay."""
        with duckdb.connect(str(self.scenario.workspace.warehouse)) as con:
            for schema, table in con.execute(_BASE_TABLES).fetchall():
                if (schema, table) != ("journeys", "deployment"):
                    con.execute(f'delete from "{schema}"."{table}"')

    def run(
        self,
        world: World,
        ticks: tuple[datetime, ...],
        with_outcomes: bool,
        edits: dict[datetime, dict[str, dict[str, Any]]] | None = None,
    ) -> ReferenceOutput:
        """Load `world`, tick at `ticks`; `with_outcomes` writes the outcome rule's rows after each tick;
        at a tick of `edits` the journeys are rewritten and rebuilt first (a deploy of a new version, as
        `journeys tick` after an edit). The projects the edits built are left in `edited`."""
        self.reset()
        warehouse = self.scenario.workspace.warehouse
        load_world(warehouse, self.scenario.built.project, world)
        seen: set[str] = set()
        self.edited = {}
        for at in ticks:
            if edits and at in edits:
                self.edited[at] = self.use(edits[at])
            self.scenario.tick(at)
            if with_outcomes:
                with duckdb.connect(str(warehouse)) as con:
                    fresh = [m for m in read_messages(con) if m.message_id not in seen]
                    seen.update(m.message_id for m in fresh)
                    write_message_events(con, [e for m in fresh for e in outcomes_for(m, at)])
        return read_outputs(warehouse)


def check_batch(
    batch: Any, check: Callable[[Any, SqlEngine], None], engine: SqlEngine, record_property: Any
) -> None:
    """Check every case (world) of a `diff_strategies.Batch`, then count its examples for the summary."""
    for case in batch.cases:
        check(case, engine)
    record_property(EXAMPLES, batch.examples)


Interpret = Callable[..., ReferenceOutput]
"""`journey_compiler.reference.interpret(project, world, ticks, edits)`."""


def interpret_with_outcomes(
    interpret: Interpret,
    project: Project,
    world: World,
    ticks: tuple[datetime, ...],
    edits: dict[datetime, Project] | None = None,
) -> ReferenceOutput:
    """The interpreter run tick by tick, adding after each tick the outcomes of the messages it created."""
    outcomes: list[MessageEvent] = []
    seen: set[str] = set()
    output = ReferenceOutput()
    for k, at in enumerate(ticks):
        current = dataclasses.replace(world, message_events=[*world.message_events, *outcomes])
        output = interpret(project, current, list(ticks[: k + 1]), edits)
        fresh = [m for m in output.messages if m.message_id not in seen]
        seen.update(m.message_id for m in fresh)
        outcomes += [e for m in fresh for e in outcomes_for(m, at)]
    final = dataclasses.replace(world, message_events=[*world.message_events, *outcomes])
    return interpret(project, final, list(ticks), edits) if outcomes else output
