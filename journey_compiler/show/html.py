"""The journey picture as one HTML page: the SVG, the metrics per A/B group and the A/B table."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from journey_compiler.config import journey as cfg
from journey_compiler.show.marts import EXPERIMENT_COLUMNS, MetricTable, number

_STYLE = """
body { font-family: Helvetica, Arial, sans-serif; margin: 24px; color: #222; }
table { border-collapse: collapse; margin: 8px 0 24px; }
th, td { border: 1px solid #ddd; padding: 4px 10px; text-align: right; font-size: 13px; }
th:first-child, td:first-child { text-align: left; }
th { background: #f4f4f4; }
.muted { color: #666; font-size: 13px; }
"""


def journey_html(
    journey: cfg.Journey,
    yaml_file: str,
    svg: ET.Element,
    metrics: MetricTable,
    experiments: list[dict[str, str]],
) -> str:
    html = ET.Element("html")
    head = ET.SubElement(html, "head")
    ET.SubElement(head, "meta", charset="utf-8")
    ET.SubElement(head, "title").text = journey.name or journey.id
    ET.SubElement(head, "style").text = _STYLE
    body = ET.SubElement(html, "body")
    ET.SubElement(body, "h1").text = journey.name or journey.id
    ET.SubElement(body, "p", {"class": "muted"}).text = f"{journey.id} · {yaml_file}"
    body.append(svg)
    ET.SubElement(body, "h2").text = "Metrics"
    computed = (
        f"computed as of the tick at {metrics.computed_at}" if metrics.computed_at else "not computed yet"
    )
    ET.SubElement(
        body, "p", {"class": "muted"}
    ).text = f"{computed}; each A/B group counts from its assignment (docs/metrics.md)"
    header = ["metric", "kind", "window", *metrics.groups]
    reached = ["reached", "", "", *(f"{metrics.reached.get(g, 0):,}" for g in metrics.groups)]
    body_rows = [reached] + [
        [metric, kind, window or "", *(number(values.get(g)) for g in metrics.groups)]
        for metric, kind, window, values in metrics.rows
    ]
    _table(body, header, body_rows)
    ET.SubElement(body, "h2").text = "A/B comparison"
    if experiments:
        _table(
            body,
            [title for _, title in EXPERIMENT_COLUMNS],
            [[r[k] for k, _ in EXPERIMENT_COLUMNS] for r in experiments],
        )
    else:
        ET.SubElement(body, "p", {"class": "muted"}).text = "This journey has no ab_split or ab_race."
    return "<!DOCTYPE html>\n" + ET.tostring(html, encoding="unicode", method="html")


def _table(parent: ET.Element, header: list[str], body: list[list[str]]) -> None:
    table = ET.SubElement(parent, "table")
    row = ET.SubElement(table, "tr")
    for cell in header:
        ET.SubElement(row, "th").text = cell
    for values in body:
        row = ET.SubElement(table, "tr")
        for cell in values:
            ET.SubElement(row, "td").text = cell
