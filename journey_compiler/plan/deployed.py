"""What the warehouse ran, so that `journeys plan` can compare a journeys directory with it.

Every tick records, when the set of journeys and versions it runs differs from the last recorded set, that
set (`journeys.journey_deployments`, stamped with the tick), and each version it has not seen before with
its config and compiled model (`journeys.journey_versions`). Both are stamped with a tick, so a rewind takes
back what the rewound ticks recorded and a re-tick records it again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from journey_compiler.config.project import Project
from journey_compiler.ir import lower
from journey_compiler.render import CompiledProject, model_name
from journey_compiler.warehouse.tables import CONTROL_SCHEMA

VERSIONS = f"{CONTROL_SCHEMA}.journey_versions"
DEPLOYMENTS = f"{CONTROL_SCHEMA}.journey_deployments"

_LAST_SET = f"""
select d.tick_at, d.journey_id, d.version, v.config, v.model_sql
from {DEPLOYMENTS} d
left join {VERSIONS} v using (journey_id, version)
where d.tick_at = (select max(tick_at) from {DEPLOYMENTS})
order by d.journey_id
"""
_KNOWN = f"select journey_id, version from {VERSIONS}"
_ADD_VERSION = f"insert into {VERSIONS} values (?, ?, ?, ?, ?)"
_ADD_DEPLOYMENT = f"insert into {DEPLOYMENTS} select ?, unnest(?::varchar[]), unnest(?::varchar[])"
_TABLE = "select 1 from information_schema.tables where table_schema = ? and table_name = ?"
_IN_FLIGHT = f"""
select journey_id, node_id, count(*) from {CONTROL_SCHEMA}.journey_state
where status = 'active' group by all
"""


@dataclass(frozen=True)
class JourneyVersion:
    """One journey as it ran (or would run): its IR version hash, its config and its compiled model."""

    journey_id: str
    version: str
    config: dict[str, Any]
    model_sql: str


@dataclass(frozen=True)
class Deployed:
    """The journeys the warehouse last ran, from the tick that first ran this set."""

    since_tick: datetime
    journeys: dict[str, JourneyVersion]


def compiled_versions(project: Project, compiled: CompiledProject) -> dict[str, JourneyVersion]:
    """The compiled journeys of a directory, as a tick would record them."""
    return {
        journey_id: JourneyVersion(
            journey_id,
            lower(project.journeys[journey_id], project).version,
            project.journeys[journey_id].model_dump(mode="json", by_alias=True, exclude_none=True),
            compiled.files[f"{model_name(journey_id)}.sql"],
        )
        for journey_id in compiled.journeys
    }


def record_deployment(
    con: duckdb.DuckDBPyConnection, journeys: dict[str, JourneyVersion], tick_at: datetime
) -> bool:
    """Record what tick `tick_at` runs when it differs from the last recorded set; whether it did."""
    last = last_deployed(con)
    ran = {j.journey_id: j.version for j in last.journeys.values()} if last else {}
    if ran == {j.journey_id: j.version for j in journeys.values()}:
        return False
    known = set(con.execute(_KNOWN).fetchall())
    for journey in journeys.values():
        if (journey.journey_id, journey.version) not in known:
            config = json.dumps(journey.config, sort_keys=True)
            con.execute(
                _ADD_VERSION, [journey.journey_id, journey.version, config, journey.model_sql, tick_at]
            )
    ordered = sorted(journeys.values(), key=lambda j: j.journey_id)
    con.execute(_ADD_DEPLOYMENT, [tick_at, [j.journey_id for j in ordered], [j.version for j in ordered]])
    return True


def last_deployed(con: duckdb.DuckDBPyConnection) -> Deployed | None:
    """What the latest recorded set is, or None when no tick recorded one (a warehouse that never ran)."""
    if con.execute(_TABLE, [CONTROL_SCHEMA, DEPLOYMENTS.split(".")[1]]).fetchone() is None:
        return None
    rows = con.execute(_LAST_SET).fetchall()
    if not rows:
        return None
    journeys = {
        journey_id: JourneyVersion(journey_id, version, json.loads(config) if config else {}, model_sql or "")
        for _, journey_id, version, config, model_sql in rows
    }
    return Deployed(rows[0][0], journeys)


def in_flight(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], int]:
    """(journey, node) -> profiles whose entry is still active there, from `journey_state`."""
    if con.execute(_TABLE, [CONTROL_SCHEMA, "journey_state"]).fetchone() is None:
        return {}
    return {(journey, node): count for journey, node, count in con.execute(_IN_FLIGHT).fetchall()}
