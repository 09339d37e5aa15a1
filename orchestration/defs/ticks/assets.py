"""The dbt models as assets. A run that includes the tick models is one tick; a run without them only
rebuilds what it selected (the metrics job)."""

# No `from __future__ import annotations` here: Dagster resolves the config annotation at runtime.

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, AssetSelection, Config, Failure, Output
from dagster_dbt import DbtCliResource, build_dbt_asset_selection, dbt_assets
from pydantic import Field

from journey_compiler.render import TICK_CHECK_TAG
from journey_compiler.runtime.lock import exclusive
from journey_compiler.runtime.tick import TICK_TAG, begin_tick, finish_tick
from journey_compiler.timeparse import parse_time
from orchestration.lib.dbt_project import PreparedProject
from orchestration.lib.translator import JourneysTranslator, journey_asset_keys, journey_asset_story

WAREHOUSE_POOL = "duckdb_warehouse"
"""Every op writing the DuckDB file takes this pool: another writer (or reader) breaks dbt's lock."""

"""dbt tag of the models that must run on every tick (staged events, one history per journey)."""

TICK_AT_TAG = "journeys/tick_at"
"""Run tag: the time a tick run applied (its config may say 'now'); the send after it uses that time."""

METRIC_MARTS = "path:models/marts,config.materialized:table"
"""Marts stored as tables are metric snapshots, refreshed on the metrics schedule; the rest are views."""


class TickConfig(Config):
    tick_at: str = Field(
        default="now",
        description="The tick's time, ISO 8601 (UTC unless it carries an offset) or 'now'. "
        "Runs without the tick models ignore it.",
    )


def build_journey_models(prepared: PreparedProject) -> AssetsDefinition:
    """Every dbt model of the workspace's project, grouped by folder, run by one op in the warehouse pool."""
    workspace, built = prepared.workspace, prepared.built
    journeys = journey_asset_keys(prepared)

    @dbt_assets(
        manifest=prepared.manifest,
        project=prepared.dbt_project,
        dagster_dbt_translator=JourneysTranslator(prepared),
        pool=WAREHOUSE_POOL,
        name="journey_models",
    )
    def journey_models(
        context: AssetExecutionContext, dbt: DbtCliResource, config: TickConfig
    ) -> Iterator[Any]:
        selected = context.selected_asset_keys
        tick_keys = {key for key, tags in context.assets_def.tags_by_key.items() if TICK_TAG in tags}
        if selected & tick_keys and (missing := tick_keys - selected):
            names = ", ".join(sorted(key.to_user_string() for key in missing))
            raise Failure(
                f"a tick runs every model tagged {TICK_TAG!r}: select {names} too, or use the tick job"
            )
        # the CLI's writers take the same lock: a Dagster run and a `journeys tick` never write at once
        with exclusive(workspace.warehouse, f"Dagster run {context.run_id}", notify=context.log.info):
            if not selected & tick_keys:  # the metrics job: its marts' tests run as their checks
                yield from dbt.cli(["build"], context=context).stream()
                return
            plan = begin_tick(workspace, built, parse_time(config.tick_at), if_behind="skip")
            context.instance.add_run_tags(context.run_id, {TICK_AT_TAG: plan.tick_at.isoformat()})
            if not plan.runs:
                why = "a later tick is already applied" if plan.superseded else "it is already applied"
                context.log.info(f"tick {plan.tick_at}: nothing to run, {why}")
                return
            # dbt build: the tick's checks (selected by the tick job) fail the run before it is applied.
            # Held until the tick is applied and published, then yielded in dbt's (topological) order.
            events = list(dbt.cli(["build"], context=context).stream())
            # The warehouse records a deployment only when every model was rebuilt from this project version.
            finish_tick(
                workspace, built, replace(plan, deploy=plan.deploy and selected == context.assets_def.keys)
            )
        for event in events:
            yield with_journey_story(event, context.assets_def, journeys, prepared)

    return journey_models


def with_journey_story(
    event: Any, models: AssetsDefinition, journeys: dict[AssetKey, str], prepared: PreparedProject
) -> Any:
    """A journey history's materialization carries this tick's counts and picture (from what it published);
    the asset's definition metadata only has those of the last tick before the definitions loaded."""
    key = models.keys_by_output_name.get(event.output_name) if isinstance(event, Output) else None
    if key not in journeys:
        return event
    return event.with_metadata({**event.metadata, **journey_asset_story(prepared, journeys[key])[1]})


def metric_marts(models: AssetsDefinition) -> AssetSelection:
    return build_dbt_asset_selection([models], dbt_select=METRIC_MARTS)


def history_wide_checks(models: AssetsDefinition) -> AssetSelection:
    """The dbt tests that read every row of a history (keys and not-nulls of the marts): a tick runs only
    the checks of what it wrote (tag tick_check), as `journeys tick` does; a deploy (`journeys tick` after a
    change) and `dbt build` by hand run them all."""
    return build_dbt_asset_selection(
        [models], dbt_select="resource_type:test", dbt_exclude=f"tag:{TICK_CHECK_TAG}"
    )


def tick_models(models: AssetsDefinition) -> AssetSelection:
    return build_dbt_asset_selection([models], dbt_select=f"tag:{TICK_TAG}")


def tick_run_config(models: AssetsDefinition, tick_at: str) -> dict[str, Any]:
    return {"ops": {models.op.name: {"config": {"tick_at": tick_at}}}}
