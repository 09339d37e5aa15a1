"""Operator decisions, recorded with the logical time they take effect (`--at`, so backfills replay them).

`approve` lets a `schedule_once` journey run; `pick_winner` sends an `ab_race`'s waiting traffic to a variant.
The tick reads them from `journeys.journey_controls`; recording one changes nothing until the next tick.
"""

from __future__ import annotations

from datetime import UTC, datetime

from journey_compiler.config.journey import AbRaceNode
from journey_compiler.config.project import Project
from journey_compiler.errors import JourneysError
from journey_compiler.runtime.lock import writing
from journey_compiler.runtime.workspace import Workspace
from journey_compiler.warehouse.tables import control_tables, create_tables

_RECORD = "insert into journeys.journey_controls values (?, ?, ?, ?, ?)"


def record_control(
    workspace: Workspace,
    project: Project,
    journey_id: str,
    action: str,
    at: datetime,
    value: str | None = None,
) -> None:
    journey = project.journeys.get(journey_id)
    if journey is None:
        raise JourneysError(f"unknown journey {journey_id!r} (known: {', '.join(sorted(project.journeys))})")
    if action == "approve" and journey.entry.schedule_once is None:
        raise JourneysError(
            f"journey {journey_id!r} has no schedule_once trigger: there is nothing to approve"
        )
    if action == "pick_winner":
        variants = [
            v.id
            for node in journey.nodes.values()
            if isinstance(node, AbRaceNode)
            for v in node.ab_race.variants
        ]
        if not variants:
            raise JourneysError(f"journey {journey_id!r} has no ab_race")
        if value not in variants:
            raise JourneysError(
                f"unknown variant {value!r} of {journey_id!r} (variants: {', '.join(variants)})"
            )
    with writing(workspace.warehouse, f"journeys {action} {journey_id}") as con:
        create_tables(con, control_tables())
        con.execute(_RECORD, [journey_id, action, at, value, datetime.now(UTC).replace(tzinfo=None)])
