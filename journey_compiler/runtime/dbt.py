"""Run dbt in-process against the warehouse (a fresh `dbt` process per tick would cost seconds)."""

from __future__ import annotations

import os
from pathlib import Path

from dbt.cli.main import dbtRunner

from journey_compiler.errors import TickError
from journey_compiler.runtime.lock import retry_while_held
from journey_compiler.warehouse.dialect import DUCKDB


def run_dbt(dbt_dir: Path, warehouse: Path, args: list[str], target: str = DUCKDB) -> None:
    """`dbt <args>` for the built project; raises TickError with dbt's own message when a model fails.

    A process outside our writer lock (a BI reader) holding the file makes dbt fail before any model ran:
    that is waited for, a bounded time, like every other writer's wait."""
    retry_while_held(lambda: _invoke(dbt_dir, warehouse, args, target), warehouse)


def _artifacts(args: list[str]) -> list[str]:
    """dbt writes manifest.json and run_results.json after every command, some 0.6 s a tick that nothing of
    ours reads (Dagster parses its own manifest: `parse_manifest`); `DBT_WRITE_JSON=true` (the benchmarks,
    which read run_results.json) keeps them."""
    if args[:1] == ["parse"] or os.environ.get("DBT_WRITE_JSON", "").lower() == "true":
        return []
    return ["--no-write-json"]


def _invoke(dbt_dir: Path, warehouse: Path, args: list[str], target: str) -> None:
    os.environ["JOURNEYS_WAREHOUSE"] = str(warehouse)
    try:
        result = dbtRunner().invoke(
            [
                *args,
                *_artifacts(args),
                "--project-dir",
                str(dbt_dir),
                "--profiles-dir",
                str(dbt_dir),
                "--target",
                target,
                # failures reach the user as our one-line TickError, never as dbt's log on the console
                "--log-level",
                "none",
                "--no-use-colors",
            ]
        )
    finally:
        if target == DUCKDB:
            _release_warehouse()
    if result.success:
        return
    problems = []
    for node_result in getattr(result.result, "results", None) or []:
        if str(node_result.status) in ("error", "fail"):
            node = node_result.node
            if str(node.resource_type) == "test":
                problems.append(
                    f"check {node.name} failed ({node_result.message}); the tick is not marked applied"
                )
            else:
                problems.append(f"{node.name}: {node_result.message}")
    detail = "; ".join(problems) or str(result.exception or "dbt failed")
    raise TickError(f"dbt {' '.join(args)} failed: {detail}")


def _release_warehouse() -> None:
    """dbt-duckdb keeps its DuckDB connection open after an in-process invocation, which locks every other
    process (a BI reader) out of the file until ours exits; close it, so the file is free between ticks."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    environment = DuckDBConnectionManager._ENV
    if environment is not None:
        environment.close()
    DuckDBConnectionManager.close_all_connections()


def parse_manifest(dbt_dir: Path, warehouse: Path) -> Path:
    """`dbt parse` when a model changed since the last parse; returns target/manifest.json (for Dagster)."""
    manifest = dbt_dir / "target" / "manifest.json"
    models = [p for p in (dbt_dir / "models").rglob("*") if p.is_file()]
    if not manifest.exists() or any(p.stat().st_mtime > manifest.stat().st_mtime for p in models):
        run_dbt(dbt_dir, warehouse, ["parse"])
    return manifest
