"""A journey as an SVG picture: one box per node (and one for the entry) with its live counts, one arrow per
branch labelled with how many left by it. Built with ElementTree, so no name or value from config can
break the markup."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from journey_compiler.config import journey as cfg
from journey_compiler.config.base import format_duration
from journey_compiler.show.figures import DELIVERY, JourneyFigures, NodeFigures
from journey_compiler.show.layout import Box, Layout, lay_out

ENTRY = "__entry__"
LINE = 17
PAD = 10
CHAR = 6.9
"""Average glyph width of the 12 px sans-serif text, for sizing boxes."""
FILL = {
    "send": "#e3f0ff",
    "wait": "#f1f1f1",
    "wait_for_event": "#fff6da",
    "event_check": "#fff6da",
    "event_split": "#fff6da",
    "segment_check": "#fff6da",
    "segment_split": "#fff6da",
    "message_status": "#fff6da",
    "ab_split": "#efe6ff",
    "ab_race": "#efe6ff",
    "add_tag": "#e5f6e8",
    "remove_tag": "#e5f6e8",
    "exit": "#fde4e4",
    ENTRY: "#dff5f2",
}


def describe(node: object) -> str:
    """One line saying what the node does."""
    kind = cfg.kind_of(node)
    match node:
        case cfg.SendNode(send=spec):
            return f"send · {spec.channel} · {spec.template}"
        case cfg.WaitNode(wait=spec):
            value = getattr(spec, spec.form.replace("for", "for_"))
            shown = format_duration(value) if spec.form == "for" else value
            return f"wait {spec.form} {shown}" + (
                f" {spec.at:%H:%M}" if spec.at and spec.form != "at" else ""
            )
        case cfg.AbSplitNode(ab_split=branches):
            return "ab_split " + " / ".join(f"{b.percent:g}%" for b in branches)
        case cfg.AbRaceNode(ab_race=race):
            return f"ab_race · test {race.test_share:g}% · {len(race.variants)} variants"
        case cfg.AddTagNode(add_tag=tag) | cfg.RemoveTagNode(remove_tag=tag):
            return f"{kind} {tag}"
    return kind


def _percent(part: int, whole: int) -> str:
    if not whole:
        return "–"
    share = 100 * part / whole
    return f"{share:.1f}%" if 0 < share < 10 else f"{share:.0f}%"


def node_lines(node_id: str, node: object, figures: NodeFigures) -> list[tuple[str, str]]:
    """(css class, text) per line of a node's box."""
    lines = [("title", node_id), ("kind", describe(node))]
    lines.append(("count", f"arrived {figures.arrived:,} · waiting now {figures.waiting:,}"))
    if not node.successors():  # type: ignore[attr-defined]
        lines.append(("count", f"completed here {sum(figures.left.values()):,}"))
    if figures.exited:
        reasons = ", ".join(f"{reason} {n:,}" for reason, n in sorted(figures.exited.items()))
        lines.append(
            (
                "drop",
                f"drop-off {figures.dropped:,} ({_percent(figures.dropped, figures.arrived)}): {reasons}",
            )
        )
    if figures.messages is not None:
        counts = figures.messages
        shown = ["queued", *DELIVERY, *sorted(set(counts) - {"queued", *DELIVERY})]
        parts = [f"{status} {counts.get(status, 0):,}" for status in shown]
        lines.append(("send", " · ".join(parts[:4])))
        lines.append(("send", " · ".join(parts[4:])))
    return lines


def entry_lines(journey: cfg.Journey, figures: JourneyFigures) -> list[tuple[str, str]]:
    trigger = next(
        k
        for k in ("event", "event_without", "schedule_once", "schedule_recurring", "segment")
        if getattr(journey.entry, k) is not None
    )
    return [
        ("title", journey.name or journey.id),
        ("kind", f"entry · {trigger} · {journey.timezone}"),
        ("count", f"entered {figures.entered:,}"),
    ]


def _size(lines: list[tuple[str, str]]) -> tuple[float, float]:
    longest = max(len(text) for _, text in lines)
    return max(190.0, longest * CHAR + 2 * PAD), len(lines) * LINE + 2 * PAD - 4


def journey_svg(journey: cfg.Journey, figures: JourneyFigures, max_width: float | None = None) -> str:
    """The picture as SVG text; with `max_width`, scaled down to fit it (where the page cannot scale it)."""
    return ET.tostring(journey_picture(journey, figures, max_width), encoding="unicode")


def journey_picture(
    journey: cfg.Journey, figures: JourneyFigures, max_width: float | None = None
) -> ET.Element:
    """The picture as an `<svg>` element (for embedding in HTML)."""
    lines = {ENTRY: entry_lines(journey, figures)}
    for node_id, node in journey.nodes.items():
        lines[node_id] = node_lines(node_id, node, figures.nodes.get(node_id) or NodeFigures())
    edges = [(ENTRY, "entered", journey.start_node)]
    for node_id, node in journey.nodes.items():
        edges += [(node_id, branch, target) for branch, target in node.successors().items()]
    layout = lay_out({n: _size(text) for n, text in lines.items()}, edges)
    return _draw(journey, figures, layout, lines, max_width)


_STYLE = """
text { font-family: Helvetica, Arial, sans-serif; font-size: 12px; fill: #222; }
.title { font-weight: bold; font-size: 13px; }
.kind { fill: #555; }
.drop { fill: #b3261e; }
.send { fill: #0b5394; }
.edge { fill: none; stroke: #777; stroke-width: 1.4; }
.label { font-size: 11px; fill: #333; }
.label-bg { fill: white; opacity: 0.9; }
.box { stroke: #888; stroke-width: 1; }
.caption { font-size: 11px; fill: #666; }
"""


def _draw(
    journey: cfg.Journey,
    figures: JourneyFigures,
    layout: Layout,
    lines: dict[str, list[tuple[str, str]]],
    max_width: float | None,
) -> ET.Element:
    height = layout.height + 20
    scale = min(1.0, max_width / layout.width) if max_width else 1.0
    svg = ET.Element(
        "svg",
        xmlns="http://www.w3.org/2000/svg",
        width=f"{layout.width * scale:.0f}",
        height=f"{height * scale:.0f}",
        viewBox=f"0 0 {layout.width:.0f} {height:.0f}",
    )
    ET.SubElement(svg, "title").text = f"{journey.name or journey.id} ({journey.id})"
    ET.SubElement(svg, "style").text = _STYLE
    defs = ET.SubElement(svg, "defs")
    marker = ET.SubElement(
        defs,
        "marker",
        id="arrow",
        viewBox="0 0 10 10",
        refX="10",
        refY="5",
        markerWidth="7",
        markerHeight="7",
        orient="auto-start-reverse",
    )
    ET.SubElement(marker, "path", d="M 0 0 L 10 5 L 0 10 z", fill="#777")
    ET.SubElement(svg, "rect", width="100%", height="100%", fill="white")
    for (tail, branch, head), points in layout.edges.items():
        path = " ".join(f"{'M' if i == 0 else 'L'} {x:.1f} {y:.1f}" for i, (x, y) in enumerate(points))
        ET.SubElement(svg, "path", {"class": "edge", "d": path, "marker-end": "url(#arrow)"})
        _edge_label(svg, points, _branch_text(tail, branch, head, figures))
    for node_id, box in layout.boxes.items():
        kind = ENTRY if node_id == ENTRY else cfg.kind_of(journey.nodes[node_id])
        _box(svg, box, FILL.get(kind, "#f1f1f1"), lines[node_id])
    as_of = f"as of the tick at {figures.as_of:%Y-%m-%d %H:%M} UTC" if figures.as_of else "no tick yet"
    caption = ET.SubElement(svg, "text", {"class": "caption", "x": "12", "y": f"{height - 10:.0f}"})
    caption.text = f"{journey.id} · {as_of}"
    return svg


def _branch_text(tail: str, branch: str, head: str, figures: JourneyFigures) -> str:
    if tail == ENTRY:
        return f"entered {figures.entered:,}"
    source = figures.nodes.get(tail) or NodeFigures()
    count = source.left.get(branch, 0)
    return f"{branch} {count:,} ({_percent(count, source.arrived)})"


def _edge_label(svg: ET.Element, points: list[tuple[float, float]], text: str) -> None:
    (x0, y0), (x1, y1) = points[0], points[1]
    x, y = x0 + (x1 - x0) * 0.45, y0 + (y1 - y0) * 0.45
    width = len(text) * 6.3 + 8
    ET.SubElement(
        svg,
        "rect",
        {
            "class": "label-bg",
            "x": f"{x - width / 2:.1f}",
            "y": f"{y - 9:.1f}",
            "width": f"{width:.1f}",
            "height": "15",
            "rx": "3",
        },
    )
    label = ET.SubElement(
        svg, "text", {"class": "label", "x": f"{x:.1f}", "y": f"{y + 2:.1f}", "text-anchor": "middle"}
    )
    label.text = text


def _box(svg: ET.Element, box: Box, fill: str, lines: list[tuple[str, str]]) -> None:
    ET.SubElement(
        svg,
        "rect",
        {
            "class": "box",
            "x": f"{box.x:.1f}",
            "y": f"{box.y:.1f}",
            "width": f"{box.w:.1f}",
            "height": f"{box.h:.1f}",
            "rx": "6",
            "fill": fill,
        },
    )
    for i, (css, text) in enumerate(lines):
        line = ET.SubElement(
            svg, "text", {"class": css, "x": f"{box.x + PAD:.1f}", "y": f"{box.y + PAD + 9 + i * LINE:.1f}"}
        )
        line.text = text
