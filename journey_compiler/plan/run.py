"""`journeys plan`: the journeys directory compiled as a tick would, against what the warehouse last ran.

Reads the warehouse only (read-only, waiting while a writer holds the file); writes nothing, neither to
the warehouse nor to its dbt build folder, so it can run in CI beside the ticks.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from journey_compiler.config.project import load_project
from journey_compiler.plan.compare import Plan, compare
from journey_compiler.plan.deployed import compiled_versions, in_flight, last_deployed
from journey_compiler.render import compile_project
from journey_compiler.runtime.lock import open_warehouse
from journey_compiler.warehouse.connection import statement
from journey_compiler.warehouse.tables import APPLIED_TICKS, TICK_LOG_TABLE

_TICKS = statement(f"select count(*) from {APPLIED_TICKS} applied")


def plan_changes(journeys_dir: Path, warehouse: Path) -> Plan:
    """Raises ConfigErrors (every problem of the directory) before reading the warehouse."""
    project = load_project(journeys_dir)
    compiled = compile_project(project)
    directory = compiled_versions(project, compiled)
    if not warehouse.exists():
        return compare(directory, None, {}, compiled.skipped)
    with open_warehouse(warehouse, read_only=True) as opened:
        deployed = last_deployed(opened)
        profiles = in_flight(opened) if deployed else {}
        schema, log = TICK_LOG_TABLE.split(".")
        ticked = log in opened.tables(schema) and bool((opened.execute(_TICKS).fetchone() or (0,))[0])
    plan = compare(directory, deployed, profiles, compiled.skipped)
    if deployed is None and ticked:
        note = (
            f"{warehouse} ran ticks before it recorded journey versions: the next tick records them, "
            "until then every journey shows as added"
        )
        return replace(plan, note=note)
    return plan
