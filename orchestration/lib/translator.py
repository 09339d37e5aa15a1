"""How dbt nodes appear in Dagster: one asset group per dbt folder (staging, journeys, marts)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dagster import AssetKey
from dagster_dbt import DagsterDbtTranslator


class JourneysTranslator(DagsterDbtTranslator):
    """Groups follow the project's layers, so a new model lands in the right group without code changes."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        # fqn is [project, folder, ..., name]; sources add the source name: [project, folder, source, table]
        fqn = dbt_resource_props["fqn"]
        return fqn[1] if len(fqn) > 2 else None


def source_asset_key(manifest: Path, table: str, translator: DagsterDbtTranslator) -> AssetKey:
    """The key of the dbt source over `schema.table`: an asset writing that table joins the lineage."""
    sources = json.loads(manifest.read_text())["sources"].values()
    for source in sources:
        if f"{source['schema']}.{source['identifier']}" == table:
            return translator.get_asset_key(source)
    raise LookupError(f"no dbt source reads {table}: declare it in a sources .yml of the dbt project")
