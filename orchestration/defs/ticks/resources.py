"""dbt as a subprocess, pointed at the workspace's DuckDB file."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dagster_dbt import DbtCliInvocation, DbtCliResource

from orchestration.lib.dbt_project import PreparedProject

RUN_TARGET = "target/dagster"
"""dbt's target folder for every run, instead of dagster-dbt's new folder per invocation (megabytes every
five-minute tick). Sharing one is safe: runs that write the warehouse never overlap (the warehouse pool)."""


class WarehouseDbtCliResource(DbtCliResource):
    """`DbtCliResource` whose dbt sees `warehouse` (the project's profile reads JOURNEYS_WAREHOUSE) and
    writes its artifacts to one folder."""

    warehouse: str

    def cli(self, args: Sequence[str], **kwargs: Any) -> DbtCliInvocation:
        # dagster-dbt gives the subprocess (and its own adapter handle) a copy of this process's environment
        os.environ["JOURNEYS_WAREHOUSE"] = self.warehouse
        kwargs.setdefault("target_path", Path(self.project_dir) / RUN_TARGET)
        return super().cli(args, **kwargs)


def dbt_resource(prepared: PreparedProject) -> WarehouseDbtCliResource:
    """The `dbt` next to the running interpreter: a venv that is not activated is not on PATH."""
    return WarehouseDbtCliResource(
        project_dir=str(prepared.built.dbt_dir),
        profiles_dir=str(prepared.built.dbt_dir),
        dbt_executable=str(Path(sys.executable).parent / "dbt"),
        warehouse=str(prepared.workspace.warehouse),
    )
