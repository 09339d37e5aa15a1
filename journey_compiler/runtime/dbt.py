"""Run dbt in-process against the warehouse (a fresh `dbt` process per tick would cost seconds)."""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from pathlib import Path

from dbt.cli.main import dbtRunner
from dbt.contracts.graph.manifest import Manifest

from journey_compiler.errors import TickError
from journey_compiler.runtime.lock import retry_while_held
from journey_compiler.warehouse.dialect import DUCKDB


def run_dbt(dbt_dir: Path, warehouse: Path, args: list[str], target: str = DUCKDB) -> None:
    """`dbt <args>` for the built project; raises TickError with dbt's own message when a model fails.

    A process outside our writer lock (a BI reader) holding the file makes dbt fail before any model ran:
    that is waited for, a bounded time, like every other writer's wait."""
    retry_while_held(lambda: _invoke(dbt_dir, warehouse, args, target), warehouse)


def _artifacts() -> list[str]:
    """dbt writes manifest.json and run_results.json after every command, some 0.6 s a tick that nothing of
    ours reads (Dagster parses its own manifest: `parse_manifest`); `DBT_WRITE_JSON=true` (the benchmarks,
    which read run_results.json) keeps them."""
    if os.environ.get("DBT_WRITE_JSON", "").lower() == "true":
        return []
    return ["--no-write-json"]


_PARSED: OrderedDict[tuple[Path, Path, str], tuple[str, Manifest]] = OrderedDict()
"""The manifests this process parsed, by (project, warehouse, target), with the fingerprint of the project
files they were parsed from: a process that ticks many times (a catch-up, a backtest, the test suite) parses
once, not once a tick (a partial parse still reads and checks every file, ~0.8 s)."""
_KEEP_PARSED = 4


def _fingerprint(dbt_dir: Path) -> str:
    """Hash of every file dbt parses: the models, the macros and the project and profile files."""
    digest = hashlib.sha256()
    parsed = [dbt_dir / "dbt_project.yml", dbt_dir / "profiles.yml"]
    parsed += [p for part in ("models", "macros") for p in (dbt_dir / part).rglob("*") if p.is_file()]
    for path in sorted(p for p in parsed if p.exists()):
        digest.update(str(path.relative_to(dbt_dir)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _manifest(dbt_dir: Path, warehouse: Path, target: str) -> Manifest:
    key, fingerprint = (dbt_dir, warehouse, target), _fingerprint(dbt_dir)
    cached = _PARSED.get(key)
    if cached is not None and cached[0] == fingerprint:
        _PARSED.move_to_end(key)
        return cached[1]
    return _parse(dbt_dir, warehouse, target, fingerprint, ["--no-write-json"])


def _parse(dbt_dir: Path, warehouse: Path, target: str, fingerprint: str, flags: list[str]) -> Manifest:
    """`dbt parse`, remembered for this process's later commands on the same project."""
    manifest = _run(None, dbt_dir, warehouse, ["parse"], target, flags)
    assert isinstance(manifest, Manifest)
    _PARSED[(dbt_dir, warehouse, target)] = (fingerprint, manifest)
    while len(_PARSED) > _KEEP_PARSED:
        _PARSED.popitem(last=False)
    return manifest


def _invoke(dbt_dir: Path, warehouse: Path, args: list[str], target: str) -> None:
    if args == ["parse"]:
        # an explicit parse writes manifest.json (Dagster reads it); the ticks after it reuse the parse
        _parse(dbt_dir, warehouse, target, _fingerprint(dbt_dir), [])
    else:
        _run(_manifest(dbt_dir, warehouse, target), dbt_dir, warehouse, args, target, _artifacts())


def _run(
    manifest: Manifest | None,
    dbt_dir: Path,
    warehouse: Path,
    args: list[str],
    target: str,
    flags: list[str] | None = None,
) -> object:
    """`dbt <args> <flags>` (with `manifest`, if given, so that dbt does not parse): its result, or a
    TickError naming `args`."""
    os.environ["JOURNEYS_WAREHOUSE"] = str(warehouse)
    try:
        result = dbtRunner(manifest=manifest).invoke(
            [
                *args,
                *(flags or []),
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
        return result.result
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
