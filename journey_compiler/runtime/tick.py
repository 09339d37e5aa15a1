"""One tick at time T: fix what it may see, run the tick models, record that it is done.

A tick sees events with `event_time <= T` that were loaded by its watermark (`min(T, newest loaded_at)`,
fixed when the tick is first started). Re-running a tick therefore sees exactly the same events, and the
journey histories refuse to append twice for one tick, so a crash and a re-run give the same state.
Ticks only move forward: state is an append-only history.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlglot import exp

from journey_compiler.errors import TickError
from journey_compiler.plan.deployed import compiled_versions, record_deployment
from journey_compiler.render import TICK_CHECK_TAG
from journey_compiler.runtime.dbt import run_dbt
from journey_compiler.runtime.lock import connect, exclusive
from journey_compiler.runtime.migrate import migrate_open_paths
from journey_compiler.runtime.publish import publish_outputs
from journey_compiler.runtime.schedules import record_occurrences
from journey_compiler.runtime.workspace import BuiltProject, Workspace
from journey_compiler.warehouse.connection import Warehouse, statement
from journey_compiler.warehouse.duckdb_warehouse import as_warehouse
from journey_compiler.warehouse.tables import (
    APPLIED_TICKS,
    DEPLOYED,
    DEPLOYMENT,
    DEPLOYMENT_TABLE,
    LAST_APPLIED_TICK,
    TICK_CONTEXT_TABLE,
    control_tables,
    create_tables,
    raw_tables,
)

TICK_TAG = "tick"
"""dbt tag of the models every tick must run (events staging and the journey histories)."""

_TICK_ROW = statement(
    "select watermark, max(finished_at) from journeys.tick_log where tick_at = ? group by watermark"
)
_REGISTER = statement("insert into journeys.tick_log values (?, ?, ?, null)")
_PREVIOUS_TICK = statement(f"select max(tick_at) from {APPLIED_TICKS} applied where tick_at < ?")
_LAST_APPLIED_TICK = statement(LAST_APPLIED_TICK)
_DEPLOYED = statement(DEPLOYED)
_FINISH = statement("""
insert into journeys.tick_log
select tick_at, watermark, min(started_at), $now from journeys.tick_log
where tick_at = $tick
group by tick_at, watermark
having max(finished_at) is null
""")
"""The tick log's `finished` row: once, however the tick was started (a warehouse from before the log was
append-only has one row per tick, updated)."""
_PUBLISH_TAGS = statement("""
insert into journeys.published_tags
select profile_id, tag, logical_at, removed, journey_id, tick_at, entry_id, hop, path_id
from journeys_internal.int_journey_records
where record = 'tag' and tick_at = $tick
    and not exists (select 1 from journeys.published_tags where tick_at = $tick)
""")


@dataclass(frozen=True)
class TickPlan:
    """What one tick will do: the dbt arguments to run, or nothing when the tick is already applied."""

    tick_at: datetime
    watermark: datetime | None
    already_applied: bool
    deploy: bool
    """The views were built from another version of the models: run every model, not just the tick ones."""
    superseded: bool = False
    """A later tick is already applied (a queued scheduled run that lost the race): nothing to do."""

    @property
    def runs(self) -> bool:
        return not (self.already_applied or self.superseded)

    @property
    def dbt_args(self) -> list[str]:
        """A deploy builds and tests everything; a tick builds its models and runs the checks of what it
        wrote (the id invariants), not every column test of the whole history."""
        if self.deploy:
            return ["build"]
        return [
            "build",
            "--select",
            f"tag:{TICK_TAG}",
            f"tag:{TICK_CHECK_TAG}",
            "--indirect-selection",
            "empty",
        ]


def as_naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


STALE_AFTER = timedelta(days=1)
"""A tick at the wall clock on a warehouse whose newest loaded event is older than this is refused by the
CLI unless asked for (`--now`): it would take every wait and window as long over."""


def events_behind(
    workspace: Workspace, built: BuiltProject, now: datetime
) -> tuple[datetime, timedelta] | None:
    """(newest `loaded_at`, how far it is behind `now`) when that is more than `STALE_AFTER`; None on a
    warehouse without events (a tick there can jump nowhere)."""
    if not workspace.warehouse.exists():
        return None
    events = built.project.warehouse.sources.events
    with connect(workspace.warehouse, read_only=True) as con:
        warehouse = as_warehouse(con)
        if _missing(warehouse, [events]):
            return None
        newest = _newest_load(warehouse, events)
    if newest is None or as_naive_utc(now) - as_naive_utc(newest) <= STALE_AFTER:
        return None
    return as_naive_utc(newest), as_naive_utc(now) - as_naive_utc(newest)


def begin_tick(
    workspace: Workspace, built: BuiltProject, at: datetime, *, if_behind: Literal["raise", "skip"] = "raise"
) -> TickPlan:
    """Register tick `at` (fixing its watermark the first time) and point the tick models at it.

    A tick before the last applied one is refused (`raise`, for people) or skipped (`skip`, for schedulers
    whose queued run was overtaken by a later one)."""
    at = as_naive_utc(at)
    with connect(workspace.warehouse) as con:
        warehouse = as_warehouse(con)
        create_tables(warehouse, control_tables() | {DEPLOYMENT_TABLE: DEPLOYMENT})
        row = warehouse.execute(_TICK_ROW, [at]).fetchone()
        if row is not None and row[1] is not None:
            return TickPlan(at, row[0], already_applied=True, deploy=False)
        (last,) = warehouse.execute(_LAST_APPLIED_TICK).fetchone() or (None,)
        if last is not None and at < last:
            if if_behind == "skip":
                return TickPlan(at, None, already_applied=False, deploy=False, superseded=True)
            raise TickError(
                f"tick at {at} is before the last applied tick {last}: ticks only move forward "
                "(state is an append-only history)"
            )
        missing = _missing(warehouse, raw_tables(built.project.warehouse))
        if missing:
            raise TickError(
                f"{workspace.warehouse}: raw table(s) {', '.join(missing)} not found; run "
                "`journeys init` to create empty ones, or point --warehouse at your warehouse"
            )
        if row is None:
            newest = _newest_load(warehouse, built.project.warehouse.sources.events)
            watermark = min(at, as_naive_utc(newest)) if newest is not None else at
            warehouse.execute(_REGISTER, [at, watermark, _now()])
        else:
            watermark = row[0]
        (previous,) = warehouse.execute(_PREVIOUS_TICK, [at]).fetchone() or (None,)
        warehouse.replace_rows(TICK_CONTEXT_TABLE, [(at, watermark, previous)])
        scheduled = [
            built.project.journeys[j]
            for j in built.compiled.journeys
            if built.project.journeys[j].entry.schedule_recurring is not None
        ]
        record_occurrences(warehouse, scheduled, at)
        migrate_open_paths(con, built.compiled.journeys)
        deployed = warehouse.execute(_DEPLOYED).fetchone()
    return TickPlan(
        at, watermark, already_applied=False, deploy=deployed is None or deployed[0] != built.digest
    )


def finish_tick(workspace: Workspace, built: BuiltProject, plan: TickPlan) -> None:
    """Mark the tick applied (after every model of it ran), publish its journey tags for the next tick's
    segments, and remember which models the views came from and which journey versions ran (for plan)."""
    with connect(workspace.warehouse) as con:
        warehouse = as_warehouse(con)
        if plan.deploy:
            warehouse.replace_rows(DEPLOYMENT_TABLE, [(built.digest, _now())])
        record_deployment(warehouse, compiled_versions(built.project, built.compiled), plan.tick_at)
        warehouse.execute(_PUBLISH_TAGS, {"tick": plan.tick_at})
        warehouse.execute(_FINISH, {"now": _now(), "tick": plan.tick_at})
        publish_outputs(con, workspace.warehouse, as_of=plan.tick_at)


def run_tick(workspace: Workspace, built: BuiltProject, at: datetime) -> TickPlan:
    """The whole tick without Dagster (the CLI and the demo); Dagster runs the same three steps, under the
    same writer lock."""
    with exclusive(workspace.warehouse, f"journeys tick at {as_naive_utc(at)}"):
        plan = begin_tick(workspace, built, at)
        if plan.runs:
            run_dbt(built.dbt_dir, workspace.warehouse, plan.dbt_args)
            finish_tick(workspace, built, plan)
    return plan


def _missing(warehouse: Warehouse, qualified: Iterable[str]) -> list[str]:
    """Which of these `schema.table` names the warehouse does not have (one catalog read per schema)."""
    tables = {name: exp.to_table(name) for name in qualified}
    present = {schema: warehouse.tables(schema) for schema in {t.db for t in tables.values()}}
    return sorted(name for name, table in tables.items() if table.name.lower() not in present[table.db])


def _newest_load(warehouse: Warehouse, events: str) -> datetime | None:
    newest = exp.select(exp.func("MAX", exp.column("loaded_at"))).from_(exp.to_table(events))
    (value,) = warehouse.execute(newest).fetchone() or (None,)
    return value


def tick_times(start: datetime, until: datetime | None, every: timedelta | None) -> list[datetime]:
    """One tick at `start`; with `until` and `every`: start, start + every, ... up to and including until."""
    if until is None:
        return [start]
    if every is None:
        raise ValueError("ticking up to a time needs a step (e.g. --every 15m)")
    if until < start:
        raise ValueError("the last tick is before the first")
    times = []
    while start <= until:
        times.append(start)
        start += every
    return times
