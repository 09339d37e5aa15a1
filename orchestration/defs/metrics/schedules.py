"""The metrics job: refreshes the metric marts (and the views they read) four times a day."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dagster import (
    AssetsDefinition,
    AssetSelection,
    ScheduleDefinition,
    define_asset_job,
)

from orchestration.defs.ticks.assets import metric_marts, tick_models

if TYPE_CHECKING:
    # not exported by dagster, but what define_asset_job returns
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

METRICS_CRON = "0 5,11,17,23 * * *"


def build_metrics_job(models: AssetsDefinition) -> UnresolvedAssetJobDefinition:
    """The metric marts and the models upstream of them but the tick models: only ticks advance journeys."""
    upstream_models = metric_marts(models).upstream() & AssetSelection.assets(models)
    return define_asset_job(
        "metrics",
        selection=upstream_models - tick_models(models),
        description="Refresh the metric marts from the journeys' state as of the last tick.",
    )


def build_metrics_schedule(job: UnresolvedAssetJobDefinition, timezone: str) -> ScheduleDefinition:
    return ScheduleDefinition(
        name="metrics_schedule", cron_schedule=METRICS_CRON, job=job, execution_timezone=timezone
    )
