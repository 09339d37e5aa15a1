"""The outbox as an asset: sending writes `message_events`, the dbt source the next tick branches on.

The asset calls `dispatch_project`, the same entry point as `journeys send`, so the delivery rules, the
writer lock and the outage handling are the CLI's. A dispatch that had to defer messages because a
channel is down fails the run (after recording every outcome), so the outage is visible in the UI; the
asset check `outbox_health`, evaluated by the send step itself (also when an outage fails it), says how many
messages are stuck (deferred, or due for long) or expired, and warns when provider status callbacks have
waited in the receiver's spool for long (see `journeys receive`).
"""

# No `from __future__ import annotations` here: Dagster resolves the config annotation at runtime.
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)
from pydantic import Field

from channel_senders.callback_store import spool_health
from channel_senders.outbox import dispatch_project
from channel_senders.outbox_health import outbox_health
from journey_compiler.timeparse import parse_time
from journey_compiler.warehouse.tables import MESSAGE_EVENTS_TABLE
from orchestration.defs.ticks.assets import WAREHOUSE_POOL
from orchestration.lib.dbt_project import PreparedProject
from orchestration.lib.translator import OUTBOX_GROUP, JourneysTranslator, source_asset_key

STUCK_AFTER = timedelta(hours=1)
"""A message still unsent this long after it was due counts as stuck in the outbox check."""


class SendConfig(Config):
    now: str = Field(
        default="now",
        description="What counts as now, ISO 8601 (UTC unless it carries an offset) or 'now': it decides "
        "what is due and stamps the outcomes. After a tick, the sensor passes the tick's time.",
    )


def build_message_events(prepared: PreparedProject) -> AssetsDefinition:
    """Shares its key with the dbt source over the table, so the UI shows sends feeding the next tick.

    It does not declare `send_queue` as its input: that view reads `message_events`, and the graph would loop.
    The `outbox_health` check is evaluated by the send itself, before an outage fails the run: a separate
    check would be skipped with the failed step, so it could never report the messages an outage left.
    """
    project, warehouse = prepared.built.project, prepared.workspace.warehouse
    key = source_asset_key(prepared.manifest, MESSAGE_EVENTS_TABLE, JourneysTranslator())

    @asset(
        key=key,
        group_name=OUTBOX_GROUP,
        pool=WAREHOUSE_POOL,
        description="Send every due message of the send queue over its channel and record each outcome.",
        check_specs=[
            AssetCheckSpec(
                "outbox_health",
                asset=key,
                description="Warns about messages the outbox could not get out: stuck (deferred, or due "
                "for long) or expired, and provider callbacks waiting long in the receiver's spool.",
            )
        ],
    )
    def message_events(
        context: AssetExecutionContext, config: SendConfig
    ) -> Iterator[MaterializeResult | AssetCheckResult]:
        now = parse_time(config.now)
        report = dispatch_project(warehouse, project, now)
        context.log.info(f"dispatch at {now}: {report}")
        metadata: dict[str, Any] = {
            "now": now.isoformat(),
            **{status: report.total(status) for status in ("sent", "deferred", "failed", "suppressed")},
            "expired": report.total("expired"),
            "outcomes": str(report),
        }
        if report.outages:
            yield outbox_check(warehouse)
            down = "; ".join(f"{channel}: {reason}" for channel, reason in report.outages.items())
            raise Failure(
                description=f"channels down, their messages stay due and are retried: {down}",
                metadata={**metadata, "down": MetadataValue.json(report.outages)},
            )
        yield MaterializeResult(metadata=metadata)
        yield outbox_check(warehouse)

    return message_events


def outbox_check(warehouse: Path) -> AssetCheckResult:
    """The outbox's health at the warehouse's own time: a warning, never a failure of the run by itself."""
    health = outbox_health(warehouse, parse_time("now"), STUCK_AFTER)
    spool = spool_health(warehouse, time.time())
    late_callbacks = (spool.oldest_waiting_s or 0) > STUCK_AFTER.total_seconds()
    return AssetCheckResult(
        check_name="outbox_health",
        passed=health.stuck == 0 and health.expired == 0 and not late_callbacks,
        severity=AssetCheckSeverity.WARN,
        description=f"{health.stuck} messages stuck, {health.expired} expired, "
        f"{spool.waiting} status callbacks waiting to be written ({spool.rejected} rejected)",
        metadata={
            "stuck": health.stuck,
            "expired": health.expired,
            "oldest_stuck_due": str(health.oldest_stuck_due or "-"),
            "by_channel": MetadataValue.json(health.by_channel),
            "callbacks_waiting": spool.waiting,
            "callbacks_rejected": spool.rejected,
        },
    )


def send_run_config(sender: AssetsDefinition, now: str) -> dict[str, Any]:
    return {"ops": {sender.op.name: {"config": {"now": now}}}}
