"""Data quality as Dagster sees it: after each tick, a warning check on the rejected-rows log."""

from __future__ import annotations

from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    AssetsDefinition,
    MetadataValue,
    asset_check,
)

from journey_compiler.runtime.quality import quality_report
from orchestration.lib.dbt_project import PreparedProject

REJECTED_ROWS_MODEL = "rejected_rows"


def rejected_rows_key(models: AssetsDefinition) -> AssetKey:
    (key,) = [k for k in models.keys if k.path[-1] == REJECTED_ROWS_MODEL]
    return key


def build_rejected_rows_check(prepared: PreparedProject, models: AssetsDefinition) -> AssetChecksDefinition:
    """Warns (never fails the tick) while raw rows are kept out of the ticks, counted per raw table."""
    warehouse = prepared.workspace.warehouse

    @asset_check(asset=rejected_rows_key(models), name="raw_rows_usable", blocking=False)
    def raw_rows_usable() -> AssetCheckResult:
        report = quality_report(warehouse)
        return AssetCheckResult(
            passed=report.rejected == 0,
            severity=AssetCheckSeverity.WARN,
            description=report.line() if report.rejected else "every raw row is usable",
            metadata={
                "rejected": report.rejected,
                "listed_by_last_tick": report.listed_last_tick,
                "by_table": MetadataValue.json(
                    {name: vars(table) for name, table in sorted(report.tables.items())}
                ),
            },
        )

    return raw_rows_usable
