"""The warehouse's inputs as assets of the `sources` group: the raw tables (spec section 1), the detail
tables and the control tables the runner writes. dbt only names them as its sources, which Dagster would
otherwise file under `default`; a source another asset materializes (message_events) is left to it."""

from __future__ import annotations

import json
from collections.abc import Iterable

from dagster import AssetKey, AssetSpec

from orchestration.lib.dbt_project import PreparedProject
from orchestration.lib.translator import SOURCES_GROUP, JourneysTranslator


def build_source_specs(prepared: PreparedProject, materialized: Iterable[AssetKey]) -> list[AssetSpec]:
    translator = JourneysTranslator()
    taken = set(materialized)
    specs = []
    for source in json.loads(prepared.manifest.read_text())["sources"].values():
        key = translator.get_asset_key(source)
        if key in taken:
            continue
        described = source.get("description") or source.get("source_description") or ""
        table = f"{source['schema']}.{source['identifier']}"
        specs.append(AssetSpec(key, group_name=SOURCES_GROUP, description=f"`{table}`. {described}".strip()))
    return specs
