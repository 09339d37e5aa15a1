"""Operator decisions, recorded with the logical time they take effect (`--at`, so backfills replay them).

`approve` lets a `schedule_once` journey run; `pick_winner` sends an `ab_race`'s waiting traffic to a variant;
`pause`, `resume` and `stop` run the journey's lifecycle (docs/semantics.md, "Pausing a journey"). The tick
reads them from `journeys.journey_controls`; recording one changes nothing until the next tick. Each row
says who recorded it and through what, so the table is the journey's audit log.
"""

from __future__ import annotations

import getpass
import os
from datetime import UTC, datetime

import duckdb

from journey_compiler.config.journey import AbRaceNode, Journey
from journey_compiler.config.project import Project
from journey_compiler.errors import JourneysError
from journey_compiler.runtime.lock import writing
from journey_compiler.runtime.workspace import Workspace
from journey_compiler.warehouse.tables import (
    JOURNEY_CONTROLS,
    LAST_APPLIED_TICK,
    control_tables,
    create_tables,
)

LIFECYCLE = ("pause", "resume", "stop")
_RECORD = (
    f"insert into journeys.journey_controls ({', '.join(JOURNEY_CONTROLS)}) "
    f"values ({', '.join('?' * len(JOURNEY_CONTROLS))})"
)
_LATEST_ACTION = """
select action, effective_at from journeys.journey_controls
where journey_id = ? and action in ('pause', 'resume', 'stop')
order by effective_at desc limit 1
"""


def record_control(
    workspace: Workspace,
    project: Project,
    journey_id: str,
    action: str,
    at: datetime,
    value: str | None = None,
    via: str = "cli",
) -> None:
    journey = project.journeys.get(journey_id)
    if journey is None:
        raise JourneysError(f"unknown journey {journey_id!r} (known: {', '.join(sorted(project.journeys))})")
    _check_decision(journey, action, value)
    with writing(workspace.warehouse, f"journeys {action} {journey_id}") as con:
        create_tables(con, control_tables())
        if action in LIFECYCLE:
            _check_lifecycle(con, journey_id, action, at)
        now = datetime.now(UTC).replace(tzinfo=None)
        con.execute(_RECORD, [journey_id, action, at, value, now, actor(), via])


def actor() -> str:
    """Who records a decision, for the audit tables: `JOURNEYS_ACTOR` (a scheduler or CI sets it to the
    person it acts for), else the OS user."""
    try:
        return os.environ.get("JOURNEYS_ACTOR") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _check_decision(journey: Journey, action: str, value: str | None) -> None:
    if action == "approve" and journey.entry.schedule_once is None:
        raise JourneysError(
            f"journey {journey.id!r} has no schedule_once trigger: there is nothing to approve"
        )
    if action == "pick_winner":
        races = [node.ab_race for node in journey.nodes.values() if isinstance(node, AbRaceNode)]
        variants = [v.id for race in races for v in race.variants]
        if not variants:
            raise JourneysError(f"journey {journey.id!r} has no ab_race")
        if value not in variants:
            raise JourneysError(
                f"unknown variant {value!r} of {journey.id!r} (variants: {', '.join(variants)})"
            )


def _check_lifecycle(con: duckdb.DuckDBPyConnection, journey_id: str, action: str, at: datetime) -> None:
    """Pauses and resumes alternate, a stop is final, and each takes effect after the last one and after
    the last tick that ran: an earlier time would change what that tick already decided."""
    latest, since = con.execute(_LATEST_ACTION, [journey_id]).fetchone() or (None, None)
    when = f"{since:%Y-%m-%d %H:%M}" if since is not None else ""
    if latest == "stop":
        raise JourneysError(f"journey {journey_id!r} was stopped at {when}: it cannot {action} any more")
    if action == "resume" and latest != "pause":
        raise JourneysError(f"journey {journey_id!r} is not paused: there is nothing to resume")
    if action == "pause" and latest == "pause":
        raise JourneysError(f"journey {journey_id!r} is already paused (since {when})")
    if since is not None and at <= since:
        raise JourneysError(f"journey {journey_id!r} had `{latest}` at {when}: `--at` must be later")
    (last_tick,) = con.execute(LAST_APPLIED_TICK).fetchone() or (None,)
    if last_tick is not None and at <= last_tick:
        raise JourneysError(
            f"ticks up to {last_tick:%Y-%m-%d %H:%M} already ran: `{action}` must take effect after that "
            f"(`--at` later), or undo those ticks first with `journeys rewind --to`"
        )
