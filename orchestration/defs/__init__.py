"""Dagster definitions by domain: ticks (the dbt models), metrics (the metric marts), senders (the outbox),
controls (operator decisions)."""

from __future__ import annotations

from dagster import Definitions

from journey_compiler.runtime.workspace import Workspace
from orchestration.defs.controls.jobs import build_control_job, build_rewind_job
from orchestration.defs.metrics.assets import build_published_outputs
from orchestration.defs.metrics.schedules import build_metrics_job, build_metrics_schedule
from orchestration.defs.senders.assets import build_message_events
from orchestration.defs.senders.sensors import build_send_after_tick, build_send_job
from orchestration.defs.sources.assets import build_source_specs
from orchestration.defs.ticks.assets import build_journey_models
from orchestration.defs.ticks.checks import build_rejected_rows_check
from orchestration.defs.ticks.resources import dbt_resource
from orchestration.defs.ticks.schedules import build_tick_job, build_tick_schedule
from orchestration.lib.dbt_project import prepare_project


def build_definitions(workspace: Workspace, *, metrics_timezone: str = "UTC") -> Definitions:
    """Everything for one workspace; `definitions.py` passes the environment's, tests their own."""
    prepared = prepare_project(workspace)
    models = build_journey_models(prepared)
    sender = build_message_events(prepared)
    published = build_published_outputs(prepared)
    tick_job, metrics_job, send_job = (
        build_tick_job(models),
        build_metrics_job(models, published),
        build_send_job(sender),
    )
    tick_schedule = build_tick_schedule(tick_job, models)
    return Definitions(
        assets=[*build_source_specs(prepared, sender.keys), models, sender, published],
        asset_checks=[build_rejected_rows_check(prepared, models)],
        jobs=[tick_job, metrics_job, send_job, build_control_job(prepared), build_rewind_job(prepared)],
        schedules=[
            tick_schedule,
            build_metrics_schedule(metrics_job, metrics_timezone, tick_schedule.default_status),
        ],
        sensors=[build_send_after_tick(tick_job, send_job, sender)],
        resources={"dbt": dbt_resource(prepared)},
    )
