"""Where things live: the journeys directory, the DuckDB warehouse, and the dbt project built for them."""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from journey_compiler.config.project import Project, load_project
from journey_compiler.errors import JourneysError
from journey_compiler.render import CompiledProject
from journey_compiler.runtime.compile_cache import compiled_project
from journey_compiler.warehouse.dialect import DUCKDB, SPARK, TARGETS

DBT_TEMPLATE = Path(__file__).resolve().parents[2] / "dbt_project"
STATIC_PARTS = (
    "dbt_project.yml",
    "profiles.yml",
    "macros",
    "models/staging",
    "models/intermediate",
    "models/marts",
    "models/quality",
)
GENERATED_DIR = "models/journeys"
DEFAULT_WAREHOUSE = "warehouse.duckdb"
DEFAULT_WAREHOUSES = {DUCKDB: DEFAULT_WAREHOUSE, SPARK: "warehouse.spark"}
"""A Spark warehouse is a directory: its Derby metastore and its tables (dbt_project/profiles.yml)."""
RESERVED_STEMS = ("journeys", "journeys_internal", "staging", "raw", "main")


@dataclass(frozen=True)
class Workspace:
    journeys_dir: Path
    warehouse: Path
    build_dir: Path
    """The runnable dbt project: the static template plus the models generated from the journeys."""
    target: str = DUCKDB
    """The dbt target (profiles.yml) and the SQL dialect every model is rendered in."""

    @classmethod
    def resolve(
        cls,
        journeys_dir: str | Path | None = None,
        warehouse: str | Path | None = None,
        build_dir: str | Path | None = None,
        target: str = DUCKDB,
    ) -> Workspace:
        """Arguments win over JOURNEYS_DIR / JOURNEYS_WAREHOUSE / JOURNEYS_BUILD_DIR, then defaults."""
        if target not in TARGETS:
            raise JourneysError(f"unknown target {target!r}: use one of {', '.join(TARGETS)}")
        journeys = Path(journeys_dir or os.environ.get("JOURNEYS_DIR") or "journeys").resolve()
        db = Path(warehouse or os.environ.get("JOURNEYS_WAREHOUSE") or DEFAULT_WAREHOUSES[target]).resolve()
        if target == DUCKDB and db.stem in RESERVED_STEMS:
            # DuckDB names the database after the file; `journeys.tick_log` would then be ambiguous
            raise JourneysError(
                f"warehouse file {db.name!r}: DuckDB would name the database {db.stem!r}, like "
                f"one of the schemas it holds ({', '.join(RESERVED_STEMS)}); use another file name, "
                f"e.g. {DEFAULT_WAREHOUSE}"
            )
        build = build_dir or os.environ.get("JOURNEYS_BUILD_DIR") or db.parent / f"{db.name}.dbt"
        return cls(journeys, db, Path(build).resolve(), target)

    def load(self) -> Project:
        return load_project(self.journeys_dir)


@dataclass(frozen=True)
class BuiltProject:
    project: Project
    compiled: CompiledProject
    dbt_dir: Path
    digest: str
    """Hash of every model file: the warehouse records which digest its views were deployed from."""


def build_dbt_project(workspace: Workspace, project: Project | None = None) -> BuiltProject:
    """Write the static dbt template and the generated journey models into the build folder."""
    project = project or workspace.load()
    target = workspace.build_dir
    compiled = compiled_project(project, workspace.target, target)
    target.mkdir(parents=True, exist_ok=True)
    for part in STATIC_PARTS:
        source, destination = DBT_TEMPLATE / part, target / part
        if source.is_dir():
            shutil.copytree(source, destination, dirs_exist_ok=True)
        else:
            shutil.copy2(source, destination)
    generated = target / GENERATED_DIR
    generated.mkdir(parents=True, exist_ok=True)
    for stale in set(p.name for p in generated.iterdir()) - set(compiled.files):
        (generated / stale).unlink()
    for name, content in compiled.files.items():
        path = generated / name
        if not path.exists() or path.read_text() != content:
            path.write_text(content)
    digest = hashlib.sha256()
    for path in sorted(p for p in (target / "models").rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(target)).encode() + b"\0" + path.read_bytes())
    return BuiltProject(project, compiled, target, digest.hexdigest()[:16])
