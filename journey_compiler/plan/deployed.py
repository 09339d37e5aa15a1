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

from journey_compiler.config.project import Project
from journey_compiler.ir import lower
from journey_compiler.render import CompiledProject, model_name
from journey_compiler.warehouse.connection import Warehouse, statement, values_insert
from journey_compiler.warehouse.tables import CONTROL_SCHEMA

VERSIONS = f"{CONTROL_SCHEMA}.journey_versions"
TEMPLATE = "template"
VERSION_SEPARATOR = "."
DEPLOYMENTS = f"{CONTROL_SCHEMA}.journey_deployments"

_LAST_SET = statement(f"""
select d.tick_at, d.journey_id, d.version, v.config, v.model_sql, v.templates
from {DEPLOYMENTS} d
left join {VERSIONS} v on v.journey_id = d.journey_id and v.version = d.version
where d.tick_at = (select max(tick_at) from {DEPLOYMENTS})
order by d.journey_id
""")
_KNOWN = statement(f"select journey_id, version from {VERSIONS}")
_STATE = "journey_state"
_IN_FLIGHT = statement(f"""
select journey_id, node_id, count(*) from {CONTROL_SCHEMA}.{_STATE}
where status = 'active' group by journey_id, node_id
""")


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


def record_deployment(warehouse: Warehouse, journeys: dict[str, JourneyVersion], tick_at: datetime) -> bool:
    """Record what tick `tick_at` runs when it differs from the last recorded set; whether it did."""
    last = last_deployed(warehouse)
    ran = {j.journey_id: j.recorded_version for j in last.journeys.values()} if last else {}
    if ran == {j.journey_id: j.recorded_version for j in journeys.values()}:
        return False
    known = set(warehouse.execute(_KNOWN).fetchall())
    added = [  # in the table's column order (tables.JOURNEY_VERSIONS)
        (j.journey_id, j.recorded_version, _json(j.config), j.model_sql, tick_at, _json(j.templates))
        for j in journeys.values()
        if (j.journey_id, j.recorded_version) not in known
    ]
    if added:
        warehouse.execute(values_insert(VERSIONS, added), sum(added, ()))
    deployed = [(tick_at, j.journey_id, j.recorded_version) for j in sorted(journeys.values(), key=_by_id)]
    if deployed:
        warehouse.execute(values_insert(DEPLOYMENTS, deployed), sum(deployed, ()))
    return True


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, sort_keys=True)


def _by_id(journey: JourneyVersion) -> str:
    return journey.journey_id


def last_deployed(warehouse: Warehouse) -> Deployed | None:
    """What the latest recorded set is, or None when no tick recorded one (a warehouse that never ran)."""
    if DEPLOYMENTS.split(".")[1] not in warehouse.tables(CONTROL_SCHEMA):
        return None
    rows = warehouse.execute(_LAST_SET).fetchall()
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


def in_flight(warehouse: Warehouse) -> dict[tuple[str, str], int]:
    """(journey, node) -> profiles whose entry is still active there, from `journey_state`."""
    if _STATE not in warehouse.tables(CONTROL_SCHEMA):
        return {}
    return {(journey, node): count for journey, node, count in warehouse.execute(_IN_FLIGHT).fetchall()}
