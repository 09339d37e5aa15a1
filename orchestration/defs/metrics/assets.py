"""The published outputs as an asset: after the metric marts are recomputed, every output is copied to
Parquet beside the warehouse, where BI tools read without ever locking the warehouse (ticks publish too)."""

# No `from __future__ import annotations` here: Dagster resolves the context annotation at runtime.

import json

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, MaterializeResult, MetadataValue, asset

from journey_compiler.runtime.lock import connect, exclusive
from journey_compiler.runtime.publish import publish_outputs, published_dir
from journey_compiler.show.outputs import published_as_of, published_tables
from journey_compiler.show.picture import write_pictures
from orchestration.defs.ticks.assets import WAREHOUSE_POOL
from orchestration.lib.dbt_project import PreparedProject
from orchestration.lib.translator import METRICS_GROUP, JourneysTranslator


def mart_keys(prepared: PreparedProject) -> list[AssetKey]:
    """Every model of the marts folder: what the published copy is made of."""
    translator = JourneysTranslator()
    nodes = json.loads(prepared.manifest.read_text())["nodes"].values()
    marts = [n for n in nodes if n["resource_type"] == "model" and n["fqn"][1:2] == ["marts"]]
    return sorted((translator.get_asset_key(n) for n in marts), key=lambda k: k.to_user_string())


def build_published_outputs(prepared: PreparedProject) -> AssetsDefinition:
    warehouse = prepared.workspace.warehouse

    @asset(
        name="published_outputs",
        group_name=METRICS_GROUP,
        deps=mart_keys(prepared),
        pool=WAREHOUSE_POOL,
        description="The spec's outputs and the metric marts as Parquet files beside the warehouse "
        f"({published_dir(warehouse).name}/): current tables replaced atomically, append-only ones as "
        "Parquet parts of their new rows; BI tools read them while ticks write. "
        "Also every journey's picture with its counts (pictures/<journey>.svg and .html).",
    )
    def published_outputs(context: AssetExecutionContext) -> MaterializeResult:
        with (
            exclusive(warehouse, f"Dagster run {context.run.run_id}", notify=context.log.info),
            connect(warehouse) as con,
        ):
            folder = publish_outputs(con, warehouse)
        pictures = write_pictures(prepared.built.project, warehouse)
        return MaterializeResult(
            metadata={
                "folder": MetadataValue.path(str(folder)),
                "as_of_tick": MetadataValue.text(str(published_as_of(warehouse))),
                "tables": MetadataValue.json(sorted(published_tables(warehouse))),
                "pictures": MetadataValue.json({j: str(p) for j, p in pictures.items()}),
            }
        )

    return published_outputs
