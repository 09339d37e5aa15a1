"""How dbt nodes appear in Dagster, grouped as a CRM user reads the pipeline: sources -> journeys ->
outbox -> metrics. A journey's history asset carries the journey itself: its name, YAML file, node counts
and picture, instead of its generated SQL."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagster import AssetKey, MetadataValue, TableColumn, TableRecord, TableSchema
from dagster_dbt import DagsterDbtTranslator

if TYPE_CHECKING:
    from orchestration.lib.dbt_project import PreparedProject

FOLDER_GROUPS = {
    "staging": "sources",
    "quality": "sources",
    "intermediate": "journeys",
    "journeys": "journeys",
    "marts": "journeys",
}
"""A model's group by its dbt folder, unless its config says otherwise (`meta: {dagster: {group: ...}}`):
the metric marts (tables) are `metrics`, the outbox `outbox`."""
DESCRIPTION_WIDTH = 820
"""Pixels a journey's picture is scaled down to in its asset description: Dagster's page shows an image at
its own size, and the description column of a 1440-pixel-wide window is about that wide."""
METRICS_GROUP = "metrics"
OUTBOX_GROUP = "outbox"
SOURCES_GROUP = "sources"


class JourneysTranslator(DagsterDbtTranslator):
    """Groups follow the project's layers, so a new model lands in the right group without code changes.

    Given the prepared project, journey history models (meta `journey_id`) get the journey's picture."""

    def __init__(self, prepared: PreparedProject | None = None) -> None:
        super().__init__()
        self.prepared = prepared
        self._journeys: dict[str, tuple[str, dict[str, Any]]] = {}

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props.get("resource_type") == "source":
            return SOURCES_GROUP
        configured = _meta(dbt_resource_props).get("dagster", {}).get("group")
        if configured:
            return configured
        fqn = dbt_resource_props["fqn"]
        folder = fqn[1] if len(fqn) > 2 else None
        if folder == "marts" and dbt_resource_props.get("config", {}).get("materialized") == "table":
            return METRICS_GROUP
        return FOLDER_GROUPS.get(folder or "", folder)

    def get_description(self, dbt_resource_props: Mapping[str, Any]) -> str:
        """A journey's story; else the model's own description, without the raw SQL dagster-dbt appends
        (generated Jinja a CRM user cannot act on)."""
        story = self._journey(_meta(dbt_resource_props).get("journey_id"))
        if story:
            return story[0]
        described = (dbt_resource_props.get("description") or "").strip()
        if not described:
            return super().get_description(dbt_resource_props)
        return described

    def get_metadata(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, Any]:
        story = self._journey(_meta(dbt_resource_props).get("journey_id"))
        return {**super().get_metadata(dbt_resource_props), **(story[1] if story else {})}

    def _journey(self, journey_id: str | None) -> tuple[str, dict[str, Any]] | None:
        """A journey history model's (description, metadata); None for every other model."""
        if self.prepared is None or journey_id not in self.prepared.built.project.journeys:
            return None
        if journey_id not in self._journeys:
            description, metadata = journey_asset_story(self.prepared, journey_id)
            note = (
                "_These are the figures of when the definitions loaded; every tick's materialization carries "
                "its own (Metadata, Events)._"
            )
            self._journeys[journey_id] = (f"{description}\n\n{note}", metadata)
        return self._journeys[journey_id]


def _meta(props: Mapping[str, Any]) -> Mapping[str, Any]:
    return {**props.get("meta", {}), **props.get("config", {}).get("meta", {})}


def journey_asset_keys(prepared: PreparedProject) -> dict[AssetKey, str]:
    """The asset key of each journey's history model, with its journey id."""
    translator = JourneysTranslator()
    nodes = json.loads(prepared.manifest.read_text())["nodes"].values()
    return {
        translator.get_asset_key(node): _meta(node)["journey_id"]
        for node in nodes
        if node["resource_type"] == "model" and "journey_id" in _meta(node)
    }


def journey_asset_story(prepared: PreparedProject, journey_id: str) -> tuple[str, dict[str, Any]]:
    """The description (markdown: what the journey is, its counts per node, its picture) and the metadata
    of a journey's history asset, from the outputs published by the last tick. The picture is inline as an
    SVG data URI (Dagster's markdown sanitizer lets `data:` image sources through) and a file beside the
    outputs, with the HTML page that adds the metrics and the A/B table."""
    from journey_compiler.show.picture import figures_of, render_picture, write_picture
    from journey_compiler.show.tables import NODE_COLUMNS, node_rows

    project, warehouse = prepared.built.project, prepared.workspace.warehouse
    journey = project.journeys[journey_id]
    figures = figures_of(project, warehouse, journey_id)
    picture = write_picture(project, warehouse, journey_id)
    yaml_file = project.root.parent / project.origin("journeys", journey_id).doc.file
    rows = node_rows(journey, figures)
    inline = render_picture(project, warehouse, journey_id, "svg", max_width=DESCRIPTION_WIDTH)
    as_of = f"as of the tick at {figures.as_of:%Y-%m-%d %H:%M} UTC" if figures.as_of else "no tick yet"
    table = ["| " + " | ".join(NODE_COLUMNS) + " |", "|" + " --- |" * len(NODE_COLUMNS)]
    table += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in rows]
    description = "\n".join(
        [
            f"**{journey.name or journey_id}** (`{journey_id}`): the journey's append-only history, "
            f"compiled from `{yaml_file}`. {figures.entered:,} entered, {as_of}.",
            "",
            *table,
            "",
            f"![{journey_id} with its counts](data:image/svg+xml;base64,"
            f"{base64.b64encode(inline.encode()).decode()})",
            "",
            f"Picture file: `{picture}` (the HTML next to it adds the metrics and the A/B table; "
            f"`journeys show {journey_id} --out FILE.svg` draws it afresh).",
        ]
    )
    schema = TableSchema(columns=[TableColumn(name) for name in NODE_COLUMNS])
    metadata = {
        "journey/name": MetadataValue.text(journey.name or journey_id),
        "journey/yaml": MetadataValue.path(str(yaml_file)),
        "journey/entered": MetadataValue.int(figures.entered),
        "journey/counts_as_of": MetadataValue.text(as_of),
        "journey/nodes": MetadataValue.table(
            [TableRecord(dict(zip(NODE_COLUMNS, row, strict=True))) for row in rows], schema=schema
        ),
        "journey/picture": MetadataValue.path(str(picture)),
        "journey/picture_html": MetadataValue.path(str(picture.with_suffix(".html"))),
        "journey/story": MetadataValue.md(description),
    }
    return description, metadata


def source_asset_key(manifest: Path, table: str, translator: DagsterDbtTranslator) -> AssetKey:
    """The key of the dbt source over `schema.table`: an asset writing that table joins the lineage."""
    sources = json.loads(manifest.read_text())["sources"].values()
    for source in sources:
        if f"{source['schema']}.{source['identifier']}" == table:
            return translator.get_asset_key(source)
    raise LookupError(f"no dbt source reads {table}: declare it in a sources .yml of the dbt project")
