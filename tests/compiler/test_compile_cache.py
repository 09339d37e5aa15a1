"""The compile cache: a tick whose journeys did not change reuses the models; any edit compiles again."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from journey_compiler.config.project import load_project
from journey_compiler.render import compile_project
from journey_compiler.runtime import compile_cache
from journey_compiler.runtime.workspace import GENERATED_DIR, Workspace, build_dbt_project
from journey_compiler.warehouse.dialect import DUCKDB, SPARK

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "shop"
MODEL = "jrn_welcome_series.sql"


@pytest.fixture()
def workspace(tmp_path: Path) -> Workspace:
    shutil.copytree(EXAMPLES, tmp_path / "journeys")
    _forget_this_process()
    return Workspace.resolve(tmp_path / "journeys", tmp_path / "warehouse.duckdb")


def _forget_this_process() -> None:
    """What a new process (the next scheduled tick) starts with: only the build folder."""
    compile_cache._REMEMBERED.clear()
    compile_cache._STORED.clear()


def test_a_new_process_takes_the_models_from_the_build_folder(workspace: Workspace) -> None:
    build_dbt_project(workspace)
    cache_file = workspace.build_dir / compile_cache.CACHE_FILE
    stored = json.loads(cache_file.read_text())
    stored["files"][MODEL] += "-- from the cache\n"
    cache_file.write_text(json.dumps(stored))
    _forget_this_process()

    build_dbt_project(workspace)

    written = (workspace.build_dir / GENERATED_DIR / MODEL).read_text()
    assert written.endswith("-- from the cache\n")


def test_a_process_that_compiled_once_reads_no_cache_file_again(workspace: Workspace) -> None:
    first = build_dbt_project(workspace)
    cache_file = workspace.build_dir / compile_cache.CACHE_FILE
    stored = json.loads(cache_file.read_text())
    stored["files"][MODEL] += "-- from the cache\n"
    cache_file.write_text(json.dumps(stored))

    again = build_dbt_project(workspace)

    assert again.compiled == first.compiled
    assert not (workspace.build_dir / GENERATED_DIR / MODEL).read_text().endswith("-- from the cache\n")


def test_an_edited_journey_compiles_again(workspace: Workspace) -> None:
    build_dbt_project(workspace)
    journey = workspace.journeys_dir / "journeys" / "welcome_series.yaml"
    text = journey.read_text()
    assert text.count("wait: {for: 1d}") == 1
    journey.write_text(text.replace("wait: {for: 1d}", "wait: {for: 5d}"))
    _forget_this_process()

    built = build_dbt_project(workspace)

    assert built.compiled == compile_project(load_project(workspace.journeys_dir))
    assert "arrived_at + INTERVAL 5 DAY" in (workspace.build_dir / GENERATED_DIR / MODEL).read_text()


@pytest.mark.parametrize("content", ["not json", '{"key": 1}', "[]", ""])
def test_an_unreadable_cache_file_only_means_compiling(workspace: Workspace, content: str) -> None:
    workspace.build_dir.mkdir(parents=True)
    (workspace.build_dir / compile_cache.CACHE_FILE).write_text(content)
    _forget_this_process()

    built = build_dbt_project(workspace)

    assert built.compiled == compile_project(load_project(workspace.journeys_dir))


def test_the_key_follows_the_target_and_every_config_part(workspace: Workspace) -> None:
    project = load_project(workspace.journeys_dir)
    key = compile_cache.compile_key(project, DUCKDB)
    assert compile_cache.compile_key(load_project(workspace.journeys_dir), DUCKDB) == key
    assert compile_cache.compile_key(project, SPARK) != key

    segments = workspace.journeys_dir / "segments"
    segment = sorted(segments.glob("*.yaml"))[0]
    segment.write_text(segment.read_text() + "\n# a comment changes nothing the compiler reads\n")
    assert compile_cache.compile_key(load_project(workspace.journeys_dir), DUCKDB) == key
