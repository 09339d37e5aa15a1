"""One tick at time T: fix what it may see, run the tick models, record that it is done.

A tick sees events with `event_time <= T` that were loaded by its watermark (`min(T, newest loaded_at)`,
fixed when the tick is first started). Re-running a tick therefore sees exactly the same events, and the
journey histories refuse to append twice for one tick, so a crash and a re-run give the same state.
Ticks only move forward: state is an append-only history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from journey_compiler.errors import TickError
from journey_compiler.runtime.dbt import run_dbt
from journey_compiler.runtime.workspace import BuiltProject, Workspace
from journey_compiler.warehouse.tables import CONTROL_SCHEMA, Columns, control_tables, create_tables

DEPLOYMENT: Columns = {"digest": "text", "deployed_at": "timestamp"}

_LAST_TICK = "select max(tick_at) from journeys.tick_log where finished_at is not null"
_TICK_ROW = "select watermark, finished_at from journeys.tick_log where tick_at = ?"
_NEWEST_LOAD = "select max(loaded_at) from {events}"
_REGISTER = "insert into journeys.tick_log values (?, ?, ?, null)"
_SET_CONTEXT = "delete from journeys.tick_context; insert into journeys.tick_context values (?, ?)"
_FINISH = "update journeys.tick_log set finished_at = ? where tick_at = ?"
_DEPLOYED = "select digest from journeys.deployment order by deployed_at desc limit 1"
_RECORD_DEPLOYMENT = "delete from journeys.deployment; insert into journeys.deployment values (?, ?)"


@dataclass(frozen=True)
class TickResult:
    tick_at: datetime
    watermark: datetime | None
    already_applied: bool


def as_naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def run_tick(workspace: Workspace, built: BuiltProject, at: datetime) -> TickResult:
    at = as_naive_utc(at)
    with duckdb.connect(str(workspace.warehouse)) as con:
        create_tables(con, control_tables() | {f"{CONTROL_SCHEMA}.deployment": DEPLOYMENT})
        row = con.execute(_TICK_ROW, [at]).fetchone()
        if row is not None and row[1] is not None:
            return TickResult(at, row[0], already_applied=True)
        (last,) = con.execute(_LAST_TICK).fetchone() or (None,)
        if last is not None and at < last:
            raise TickError(f"tick at {at} is before the last applied tick {last}: ticks only move forward "
                            "(state is an append-only history)")
        if row is None:
            events = built.project.warehouse.sources.events
            (newest,) = con.execute(_NEWEST_LOAD.format(events=_quoted(events))).fetchone() or (None,)
            watermark = min(at, newest) if newest is not None else at
            con.execute(_REGISTER, [at, watermark, datetime.now(UTC).replace(tzinfo=None)])
        else:
            watermark = row[0]
        con.execute(_SET_CONTEXT, [at, watermark])
        deployed = con.execute(_DEPLOYED).fetchone()
    full = deployed is None or deployed[0] != built.digest
    run_dbt(built.dbt_dir, workspace.warehouse, ["run"] if full else ["run", "--select", "tag:tick"])
    with duckdb.connect(str(workspace.warehouse)) as con:
        if full:
            con.execute(_RECORD_DEPLOYMENT, [built.digest, datetime.now(UTC).replace(tzinfo=None)])
        con.execute(_FINISH, [datetime.now(UTC).replace(tzinfo=None), at])
    return TickResult(at, watermark, already_applied=False)


def _quoted(qualified: str) -> str:
    from sqlglot import exp

    return exp.to_table(qualified).sql("duckdb")
