"""Expand `schedule_recurring` crons into occurrences (UTC) for the ticks to read.

Cron is evaluated in the journey's timezone (so "every Friday 10:00" follows daylight saving) by croniter,
and every occurrence up to the tick is recorded once; the tick's SQL then stays a plain join.
A schedule starts at the first tick that runs its journey: a recurring campaign does not replay the
occurrences before it was first run (a backfill that starts at the active window's beginning gets them all).
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from croniter import croniter
from duckdb import DuckDBPyConnection
from sqlglot import exp

from journey_compiler.config.journey import Journey
from journey_compiler.ir import naive_utc
from journey_compiler.warehouse.connection import Warehouse, statement
from journey_compiler.warehouse.duckdb_warehouse import as_warehouse

_START = statement("""
insert into journeys.schedule_starts
select ?, ? where not exists (select 1 from journeys.schedule_starts where journey_id = ?)
""")
_BOUNDS = statement("""
select s.started_at, (select max(occurrence_at) from journeys.schedule_occurrences o where o.journey_id = ?)
from journeys.schedule_starts s where s.journey_id = ?
""")
_OCCURRENCES = exp.to_table("journeys.schedule_occurrences")


def occurrences(journey: Journey, start: datetime, until: datetime, *, include_start: bool) -> list[datetime]:
    """Naive-UTC occurrences of the journey's cron from `start` to `until`, inside its active window."""
    schedule = journey.entry.schedule_recurring
    assert schedule is not None
    end = min([until, *(naive_utc(t) for t in (journey.active.until, schedule.until) if t is not None)])
    start = max(start, naive_utc(journey.active.from_))
    local_start = start.replace(tzinfo=UTC).astimezone(ZoneInfo(journey.timezone))
    cursor = croniter(schedule.cron, local_start)
    # get_next is strictly after its start
    found = [start] if include_start and start <= end and croniter.match(schedule.cron, local_start) else []
    while (moment := naive_utc(cursor.get_next(datetime))) <= end:
        found.append(moment)
    return found


def record_occurrences(con: Warehouse | DuckDBPyConnection, journeys: list[Journey], until: datetime) -> None:
    warehouse = as_warehouse(con)
    for journey in journeys:
        warehouse.execute(_START, [journey.id, until, journey.id])
        started, last = warehouse.execute(_BOUNDS, [journey.id, journey.id]).fetchone()  # type: ignore[misc]
        new = occurrences(journey, last or started, until, include_start=last is None)
        if new:
            rows = exp.values([(exp.Placeholder(), exp.Placeholder()) for _ in new])
            warehouse.execute(exp.insert(rows, _OCCURRENCES), [v for at in new for v in (journey.id, at)])
