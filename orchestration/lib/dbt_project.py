"""The dbt project Dagster loads: generated from the journeys and parsed once per workspace, at load time.

`@dbt_assets` needs `manifest.json` before any definition exists, and the journey models are generated from
the journeys directory, so building and parsing cannot wait for `dagster dev`'s `prepare_if_dev()`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from dagster_dbt import DbtProject

from journey_compiler.runtime.dbt import parse_manifest
from journey_compiler.runtime.workspace import BuiltProject, Workspace, build_dbt_project


@dataclass(frozen=True)
class PreparedProject:
    workspace: Workspace
    built: BuiltProject
    manifest: Path
    dbt_project: DbtProject


@functools.cache
def prepare_project(workspace: Workspace) -> PreparedProject:
    """Write the dbt project for `workspace` and parse it (dbt parses again only when a model changed)."""
    built = build_dbt_project(workspace)
    manifest = parse_manifest(built.dbt_dir, workspace.warehouse)
    return PreparedProject(workspace, built, manifest, DbtProject(built.dbt_dir, profiles_dir=built.dbt_dir))
