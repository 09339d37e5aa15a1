"""The metrics job: recomputes the metric marts (and the views they read) four times a day, then publishes
the outputs for BI. Its schedule starts in the same state as the tick schedule (README)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dagster import (
    AssetsDefinition,
    AssetSelection,
    DefaultScheduleStatus,
    ScheduleDefinition,
    define_asset_job,
)

from orchestration.defs.ticks.assets import metric_marts, tick_models

if TYPE_CHECKING:
    # not exported by dagster, but what define_asset_job returns
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

METRICS_CRON = "0 5,11,17,23 * * *"


def build_metrics_job(
    models: AssetsDefinition, published: AssetsDefinition | None = None
) -> UnresolvedAssetJobDefinition:
    """The metric marts and the models upstream of them but the tick models (only ticks advance journeys),
    then the published copy."""
    upstream_models = metric_marts(models).upstream() & AssetSelection.assets(models)
    selection: AssetSelection = upstream_models - tick_models(models)
    if published is not None:
        selection = selection | AssetSelection.assets(published)
    return define_asset_job(
        "metrics",
        selection=selection,
        description="Recompute the metric marts from the journeys' state as of the last tick, and publish "
        "every output as Parquet for BI tools.",
    )


def build_metrics_schedule(
    job: UnresolvedAssetJobDefinition,
    timezone: str,
    default_status: DefaultScheduleStatus = DefaultScheduleStatus.STOPPED,
) -> ScheduleDefinition:
    return ScheduleDefinition(
        name="metrics_schedule",
        cron_schedule=METRICS_CRON,
        job=job,
        execution_timezone=timezone,
        default_status=default_status,
    )
