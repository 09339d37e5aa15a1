"""The outbox as an asset: sending writes `message_events`, the dbt source the next tick branches on."""

# No `from __future__ import annotations` here: Dagster resolves the config annotation at runtime.
from typing import Any

import duckdb
from dagster import AssetExecutionContext, AssetsDefinition, Config, MaterializeResult, asset
from pydantic import Field

from channel_senders.outbox import MESSAGE_EVENTS, dispatch_due
from journey_compiler.timeparse import parse_time
from orchestration.defs.ticks.assets import WAREHOUSE_POOL
from orchestration.lib.dbt_project import PreparedProject
from orchestration.lib.translator import JourneysTranslator, source_asset_key


class SendConfig(Config):
    now: str = Field(
        default="now",
        description="What counts as now, ISO 8601 (UTC unless it carries an offset) or 'now': it decides "
        "what is due and stamps the outcomes. After a tick, the sensor passes the tick's time.",
    )


def build_message_events(prepared: PreparedProject) -> AssetsDefinition:
    """Shares its key with the dbt source over the table, so the UI shows sends feeding the next tick.

    It does not declare `send_queue` as its input: that view reads `message_events`, and the graph would loop.
    """
    project, warehouse = prepared.built.project, prepared.workspace.warehouse

    @asset(
        key=source_asset_key(prepared.manifest, MESSAGE_EVENTS, JourneysTranslator()),
        group_name="senders",
        pool=WAREHOUSE_POOL,
        description="Send every due message of the send queue over its channel and record each outcome.",
    )
    def message_events(context: AssetExecutionContext, config: SendConfig) -> MaterializeResult:
        now = parse_time(config.now)
        with duckdb.connect(str(warehouse)) as con:
            report = dispatch_due(con, project.channels, project.templates, now)
        context.log.info(f"dispatch at {now}: {report}")
        return MaterializeResult(
            metadata={
                "now": now.isoformat(),
                "sent": report.total("sent"),
                "failed": report.total("failed"),
                "outcomes": str(report),
            }
        )

    return message_events


def send_run_config(sender: AssetsDefinition, now: str) -> dict[str, Any]:
    return {"ops": {sender.op.name: {"config": {"now": now}}}}
