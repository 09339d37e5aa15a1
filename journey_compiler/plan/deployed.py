"""What the warehouse ran, so that `journeys plan` can compare a journeys directory with it.

Every tick records, when the set of journeys and versions it runs differs from the last recorded set, that
set (`journeys.journey_deployments`, stamped with the tick), and each version it has not seen before with
its config, the templates its nodes name and its compiled model (`journeys.journey_versions`). A template's
text is not in the IR version hash, so the recorded version is `<IR version>.<digest of the templates>`:
an edited email is a change to plan. Both are stamped with a tick, so a rewind takes
back what the rewound ticks recorded and a re-tick records it again.
"""

from __future__ import annotations

import hashlib
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
TEMPLATE = "template"
VERSION_SEPARATOR = "."
DEPLOYMENTS = f"{CONTROL_SCHEMA}.journey_deployments"

_LAST_SET = f"""
select d.tick_at, d.journey_id, d.version, v.config, v.model_sql, v.templates
from {DEPLOYMENTS} d
left join {VERSIONS} v using (journey_id, version)
where d.tick_at = (select max(tick_at) from {DEPLOYMENTS})
order by d.journey_id
"""
_KNOWN = f"select journey_id, version from {VERSIONS}"
_ADD_VERSION = f"""
insert into {VERSIONS} (journey_id, version, config, model_sql, templates, tick_at) values (?, ?, ?, ?, ?, ?)
"""
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
    """The IR version hash (`JourneyPlan.version`)."""
    config: dict[str, Any]
    model_sql: str
    templates: dict[str, Any]
    """Template name -> its config, for every template the journey's nodes name."""

    @property
    def recorded_version(self) -> str:
        digest = hashlib.md5(json.dumps(self.templates, sort_keys=True).encode()).hexdigest()[:8]
        return f"{self.version}{VERSION_SEPARATOR}{digest}"


@dataclass(frozen=True)
class Deployed:
    """The journeys the warehouse last ran, from the tick that first ran this set."""

    since_tick: datetime
    journeys: dict[str, JourneyVersion]


def compiled_versions(project: Project, compiled: CompiledProject) -> dict[str, JourneyVersion]:
    """The compiled journeys of a directory, as a tick would record them."""
    return {journey_id: _version(project, compiled, journey_id) for journey_id in compiled.journeys}


def _version(project: Project, compiled: CompiledProject, journey_id: str) -> JourneyVersion:
    config = project.journeys[journey_id].model_dump(mode="json", by_alias=True, exclude_none=True)
    names = {v for path, v in config_leaves(config.get("nodes", {})).items() if path.endswith(TEMPLATE)}
    templates = {
        name: project.templates[name].model_dump(mode="json", exclude_none=True)
        for name in sorted(names)
        if name in project.templates
    }
    return JourneyVersion(
        journey_id,
        lower(project.journeys[journey_id], project).version,
        config,
        compiled.files[f"{model_name(journey_id)}.sql"],
        templates,
    )


def config_leaves(value: Any, prefix: str = "") -> dict[str, Any]:
    """Every scalar (or empty container) of a config value by its dotted path (`ab_split[0].to`)."""
    if isinstance(value, dict) and value:
        return {
            path: leaf
            for key, item in value.items()
            for path, leaf in config_leaves(item, f"{prefix}.{key}" if prefix else key).items()
        }
    if isinstance(value, list) and value:
        return {
            path: leaf
            for i, item in enumerate(value)
            for path, leaf in config_leaves(item, f"{prefix}[{i}]").items()
        }
    return {prefix: value}


def record_deployment(
    con: duckdb.DuckDBPyConnection, journeys: dict[str, JourneyVersion], tick_at: datetime
) -> bool:
    """Record what tick `tick_at` runs when it differs from the last recorded set; whether it did."""
    last = last_deployed(con)
    ran = {j.journey_id: j.recorded_version for j in last.journeys.values()} if last else {}
    if ran == {j.journey_id: j.recorded_version for j in journeys.values()}:
        return False
    known = set(con.execute(_KNOWN).fetchall())
    for journey in journeys.values():
        if (journey.journey_id, journey.recorded_version) not in known:
            config, templates = (json.dumps(v, sort_keys=True) for v in (journey.config, journey.templates))
            row = [journey.journey_id, journey.recorded_version, config, journey.model_sql, templates]
            con.execute(_ADD_VERSION, [*row, tick_at])
    ordered = sorted(journeys.values(), key=lambda j: j.journey_id)
    versions = [j.recorded_version for j in ordered]
    con.execute(_ADD_DEPLOYMENT, [tick_at, [j.journey_id for j in ordered], versions])
    return True


def last_deployed(con: duckdb.DuckDBPyConnection) -> Deployed | None:
    """What the latest recorded set is, or None when no tick recorded one (a warehouse that never ran)."""
    if con.execute(_TABLE, [CONTROL_SCHEMA, DEPLOYMENTS.split(".")[1]]).fetchone() is None:
        return None
    rows = con.execute(_LAST_SET).fetchall()
    if not rows:
        return None
    journeys = {
        journey_id: JourneyVersion(
            journey_id,
            version.split(VERSION_SEPARATOR)[0],
            json.loads(config) if config else {},
            model_sql or "",
            json.loads(templates) if templates else {},
        )
        for _, journey_id, version, config, model_sql, templates in rows
    }
    return Deployed(rows[0][0], journeys)


def in_flight(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], int]:
    """(journey, node) -> profiles whose entry is still active there, from `journey_state`."""
    if con.execute(_TABLE, [CONTROL_SCHEMA, "journey_state"]).fetchone() is None:
        return {}
    return {(journey, node): count for journey, node, count in con.execute(_IN_FLIGHT).fetchall()}
