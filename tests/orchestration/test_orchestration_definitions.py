"""The definitions load, for a workspace given in code and for the one the environment names."""

from __future__ import annotations

import importlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from dagster import Definitions, build_schedule_context

from journey_compiler.render import model_name
from journey_compiler.runtime.workspace import Workspace
from orchestration.lib.dbt_project import prepare_project

SCHEDULES = {"tick_schedule": ("*/5 * * * *", "UTC"), "metrics_schedule": ("0 5,11,17,23 * * *", "UTC")}
SENDER = "control/message_events"
METRIC_TABLE = "journeys/journey_node_daily"
ANCHORS = {"staging/stg_raw__events", "journeys/journey_state", "journeys/send_queue", METRIC_TABLE}
PUBLISHED = "published_outputs"
ANCHOR_GROUPS = {
    "staging/stg_raw__events": "sources",
    "journeys_internal/jrn_welcome_series": "journeys",
    "journeys/journey_state": "journeys",
    "journeys/send_queue": "outbox",
    SENDER: "outbox",
    METRIC_TABLE: "metrics",
    "journeys/journey_metrics": "metrics",
    "journeys/journey_experiments": "metrics",
    PUBLISHED: "metrics",
}


def dbt_models(workspace: Workspace) -> dict[str, dict[str, Any]]:
    """Every dbt model of the built project by asset key: the models change often, the rules below do not."""
    nodes = json.loads(prepare_project(workspace).manifest.read_text())["nodes"].values()
    return {f"{n['schema']}/{n['name']}": n for n in nodes if n["resource_type"] == "model"}


def job_assets(defs: Definitions, name: str) -> set[str]:
    return {key.to_user_string() for key in defs.resolve_job_def(name).asset_layer.selected_asset_keys}


def test_definitions_snapshot(defs: Definitions, workspace: Workspace) -> None:
    Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    groups = {
        key.to_user_string(): graph.get(key).group_name
        for key in graph.get_all_asset_keys()
        if graph.get(key).is_materializable
    }
    models = dbt_models(workspace)
    folders = {key: Path(model["original_file_path"]).parts[1] for key, model in models.items()}
    assert set(folders.values()) == {"staging", "quality", "intermediate", "journeys", "marts"}
    # groups read as a CRM user follows the pipeline: sources -> journeys -> outbox -> metrics
    assert {k: g for k, g in groups.items() if k in ANCHOR_GROUPS} == ANCHOR_GROUPS
    assert {groups[key] for key, folder in folders.items() if folder in ("staging", "quality")} == {"sources"}
    assert set(groups.values()) == {"sources", "journeys", "outbox", "metrics"}
    inputs = {k.to_user_string(): graph.get(k).group_name for k in graph.get_all_asset_keys()}.items()
    assert {key: group for key, group in inputs if key.startswith(("raw/", "control/tick"))} == {
        "raw/events": "sources",
        "raw/profiles": "sources",
        "raw/profile_tags": "sources",
        "raw/relations": "sources",
        "raw/trading_calendar": "sources",
        "control/tick_context": "sources",
        "control/tick_log": "sources",
    }
    # the marts' tables are the metrics job's; the one staging table (profiles) is built by every tick
    tables = {key for key, model in models.items() if model["config"]["materialized"] == "table"}
    metric_tables = {key for key in tables if folders[key] == "marts"}
    assert {groups[key] for key in metric_tables} == {"metrics"}
    assert {folders[key] for key in tables - metric_tables} == {"staging"}
    journeys = prepare_project(workspace).built.compiled.journeys
    assert {f"journeys_internal/{model_name(j)}" for j in journeys} <= set(models)
    assert set(models) >= ANCHORS

    tick_models = {key for key, model in models.items() if "tick" in model["tags"]}
    assert job_assets(defs, "tick") == set(models) - metric_tables
    metrics = job_assets(defs, "metrics")
    assert {METRIC_TABLE, "journeys/journey_state", "journeys/send_queue"} <= metrics
    assert metrics <= set(models) | {PUBLISHED}
    assert PUBLISHED in metrics
    assert not metrics & tick_models
    assert job_assets(defs, "send") == {SENDER}
    schedules = {s.name: (s.cron_schedule, s.execution_timezone) for s in defs.schedules or []}
    assert schedules == SCHEDULES
    assert [sensor.name for sensor in defs.sensors or []] == ["send_after_tick"]


def test_tick_schedule_ticks_at_the_scheduled_time(defs: Definitions) -> None:
    schedule = defs.resolve_schedule_def("tick_schedule")
    at = datetime(2026, 6, 2, 0, 5, tzinfo=UTC)
    (request,) = (
        schedule.evaluate_tick(build_schedule_context(scheduled_execution_time=at)).run_requests or []
    )
    assert request.run_config == {"ops": {"journey_models": {"config": {"tick_at": at.isoformat()}}}}


def test_entry_point_reads_the_environment(monkeypatch: pytest.MonkeyPatch, workspace: Workspace) -> None:
    monkeypatch.setenv("JOURNEYS_DIR", str(workspace.journeys_dir))
    monkeypatch.setenv("JOURNEYS_WAREHOUSE", str(workspace.warehouse))
    monkeypatch.delenv("JOURNEYS_BUILD_DIR", raising=False)
    monkeypatch.setenv("JOURNEYS_METRICS_TIMEZONE", "Asia/Shanghai")
    monkeypatch.delitem(sys.modules, "orchestration.definitions", raising=False)
    defs = importlib.import_module("orchestration.definitions").defs
    resource = defs.resources["dbt"]
    assert resource.warehouse == str(workspace.warehouse)
    assert resource.project_dir == str(workspace.build_dir)
    assert defs.resolve_schedule_def("metrics_schedule").execution_timezone == "Asia/Shanghai"
