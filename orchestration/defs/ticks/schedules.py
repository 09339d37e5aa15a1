"""The tick job and the schedule that starts it every five minutes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dagster import (
    AssetsDefinition,
    AssetSelection,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    define_asset_job,
    schedule,
)

from orchestration.defs.ticks.assets import history_wide_checks, metric_marts, tick_run_config

if TYPE_CHECKING:
    # not exported by dagster, but what define_asset_job returns
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

TICK_CRON = "*/5 * * * *"


def build_tick_job(models: AssetsDefinition) -> UnresolvedAssetJobDefinition:
    return define_asset_job(
        "tick",
        selection=AssetSelection.assets(models) - metric_marts(models) - history_wide_checks(models),
        description="One tick: stage new events, advance every journey, rebuild the marts' views, and run "
        "the checks of what it wrote (ids present and unique, one position per entry): a failed check "
        "leaves the tick unapplied. Metric tables are left to the metrics job.",
    )


def build_tick_schedule(job: UnresolvedAssetJobDefinition, models: AssetsDefinition) -> ScheduleDefinition:
    @schedule(name="tick_schedule", cron_schedule=TICK_CRON, job=job, execution_timezone="UTC")
    def tick_schedule(context: ScheduleEvaluationContext) -> RunRequest:
        """Tick at the scheduled time, not at whenever the run starts, so a late run sees the same events."""
        at = context.scheduled_execution_time
        return RunRequest(run_config=tick_run_config(models, at.isoformat() if at else "now"))

    return tick_schedule
