"""Node, trigger and send-option scenarios: the tick harness of tests/tick/conftest.py, re-exported.

tests/ is not a package, so the tick conftest is loaded by path; its fixtures and helpers are re-exported
here unchanged. `scenario_with` adds extra files (segments) to a scenario's journeys directory before it is
built, which `new_scenario` cannot do.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import duckdb
import pytest

_TICK_CONFTEST = Path(__file__).resolve().parents[1] / "tick" / "conftest.py"
_NAME = "_tick_conftest_for_nodes"


def _load_tick_conftest():
    if _NAME in sys.modules:
        return sys.modules[_NAME]
    spec = importlib.util.spec_from_file_location(_NAME, _TICK_CONFTEST)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[_NAME] = module
    spec.loader.exec_module(module)
    return module


_tick = _load_tick_conftest()

Scenario = _tick.Scenario
new_scenario = _tick.new_scenario
example_journey = _tick.example_journey
EXAMPLES = _tick.EXAMPLES
SHARED_PARTS = _tick.SHARED_PARTS

# fixtures, re-exported so pytest finds them in this directory
scenario_builder = _tick.scenario_builder
make_scenario = _tick.make_scenario
welcome_yaml = _tick.welcome_yaml


def scenario_with(root: Path, journeys: dict[str, str], extra_files: dict[str, str]) -> Scenario:
    """Like `new_scenario`, with `extra_files` ({relative path: text}, e.g. "segments/extra.yaml") written
    into the journeys directory before it is built."""
    from journey_compiler.config.project import load_project
    from journey_compiler.runtime.workspace import Workspace, build_dbt_project
    from journey_compiler.warehouse.tables import init_warehouse

    journeys_dir = root / "journeys_dir"
    journeys_dir.mkdir(parents=True)
    for part in SHARED_PARTS:
        source = EXAMPLES / part
        if source.is_dir():
            shutil.copytree(source, journeys_dir / part)
        else:
            shutil.copy2(source, journeys_dir / part)
    (journeys_dir / "journeys").mkdir()
    for stem, text in journeys.items():
        (journeys_dir / "journeys" / f"{stem}.yaml").write_text(text)
    for relative, text in extra_files.items():
        target = journeys_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    workspace = Workspace.resolve(journeys_dir, root / "warehouse.duckdb")
    built = build_dbt_project(workspace, load_project(journeys_dir))
    assert not built.compiled.skipped, f"the scenario's journeys must all compile: {built.compiled.skipped}"
    with duckdb.connect(str(workspace.warehouse)) as con:
        init_warehouse(con, built.project.warehouse)
    return Scenario(root, workspace, built)


@pytest.fixture(scope="session")
def nodes_builder():
    """`scenario_with(root, journeys, extra_files)`, for module-scoped fixtures."""
    return scenario_with
