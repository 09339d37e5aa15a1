"""The send job, started after every successful tick (and by hand from the UI).

A sensor must not poll the DuckDB file for due messages: opening it while a tick writes makes the tick fail.
The tick is what fills the queue, so its success is the signal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dagster import (
    AssetsDefinition,
    AssetSelection,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunStatusSensorContext,
    SensorDefinition,
    define_asset_job,
    run_status_sensor,
)

from orchestration.defs.senders.assets import send_run_config
from orchestration.defs.ticks.assets import TICK_AT_TAG

if TYPE_CHECKING:
    # not exported by dagster, but what define_asset_job returns
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition


def build_send_job(sender: AssetsDefinition) -> UnresolvedAssetJobDefinition:
    return define_asset_job(
        "send", selection=AssetSelection.assets(sender), description="Send the messages that are due now."
    )


def build_send_after_tick(
    tick_job: UnresolvedAssetJobDefinition,
    send_job: UnresolvedAssetJobDefinition,
    sender: AssetsDefinition,
) -> SensorDefinition:
    @run_status_sensor(
        name="send_after_tick",
        run_status=DagsterRunStatus.SUCCESS,
        monitored_jobs=[tick_job],
        request_job=send_job,
        default_status=DefaultSensorStatus.RUNNING,
    )
    def send_after_tick(context: RunStatusSensorContext) -> RunRequest:
        """Send as of the tick's own time, so a tick run for a past time sends what was due then."""
        run = context.dagster_run
        return RunRequest(
            run_key=run.run_id, run_config=send_run_config(sender, run.tags.get(TICK_AT_TAG, "now"))
        )

    return send_after_tick
