"""`journeys show`: a journey's picture (SVG, or HTML with its metrics and A/B table) from the published
outputs. The same picture is the Dagster asset's description."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from journey_compiler.config.project import Project
from journey_compiler.errors import JourneysError
from journey_compiler.runtime.publish import published_dir, replace_atomically
from journey_compiler.show.figures import JourneyFigures, journey_figures
from journey_compiler.show.html import journey_html
from journey_compiler.show.marts import experiment_rows, metric_table
from journey_compiler.show.outputs import open_outputs, published_as_of
from journey_compiler.show.svg import journey_picture, journey_svg


def find_journey(project: Project, journey_id: str):  # noqa: ANN201 - a cfg.Journey
    if journey_id not in project.journeys:
        known = ", ".join(sorted(project.journeys)) or "none"
        raise JourneysError(f"unknown journey {journey_id!r} (known: {known})")
    return project.journeys[journey_id]


def figures_of(project: Project, warehouse: Path, journey_id: str) -> JourneyFigures:
    journey = find_journey(project, journey_id)
    with open_outputs(warehouse) as con:
        return journey_figures(con, journey_id, list(journey.nodes), published_as_of(warehouse))


def render_picture(
    project: Project, warehouse: Path, journey_id: str, kind: str, max_width: float | None = None
) -> str:
    """`svg` or `html` text of the journey with its counts as of the last published tick (an SVG scaled
    down to `max_width` if given)."""
    journey = find_journey(project, journey_id)
    with open_outputs(warehouse) as con:
        figures = journey_figures(con, journey_id, list(journey.nodes), published_as_of(warehouse))
        if kind == "svg":
            return journey_svg(journey, figures, max_width)
        metrics, experiments = metric_table(con, journey_id), experiment_rows(con, journey_id)
    yaml_file = project.origin("journeys", journey_id).doc.file
    return journey_html(journey, yaml_file, journey_picture(journey, figures), metrics, experiments)


def pictures_dir(warehouse: Path) -> Path:
    return published_dir(warehouse) / "pictures"


def write_picture(project: Project, warehouse: Path, journey_id: str) -> Path:
    """The journey's SVG and HTML picture beside the published outputs (each replaced atomically), for the
    Dagster asset pages and anyone browsing the folder; returns the SVG's path."""
    folder = pictures_dir(warehouse)
    folder.mkdir(parents=True, exist_ok=True)
    for kind in ("svg", "html"):
        text = render_picture(project, warehouse, journey_id, kind)
        replace_atomically(folder / f"{journey_id}.{kind}", partial(Path.write_text, data=text))
    return folder / f"{journey_id}.svg"


def write_pictures(project: Project, warehouse: Path) -> dict[str, Path]:
    return {
        journey_id: write_picture(project, warehouse, journey_id) for journey_id in sorted(project.journeys)
    }
