"""Where each box and arrow of a journey picture goes: a layered (Sugiyama) layout by grandalf.

Boxes are placed top to bottom in the order profiles flow (entry first); every edge is a polyline that
grandalf routes around the boxes. The layout only knows box sizes; the drawing is svg.py's job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from grandalf.graphs import Edge, Graph, Vertex
from grandalf.layouts import SugiyamaLayout
from grandalf.routing import route_with_lines

Point = tuple[float, float]


@dataclass(frozen=True)
class Box:
    x: float
    """Left edge."""
    y: float
    """Top edge."""
    w: float
    h: float


@dataclass(frozen=True)
class Layout:
    boxes: dict[str, Box]
    edges: dict[tuple[str, str, str], list[Point]]
    """(from, branch, to) -> the polyline from the tail box's border to the head box's."""
    width: float
    height: float


class _BoxView:
    def __init__(self, w: float, h: float) -> None:
        self.w, self.h = w, h
        self.xy: Point = (0.0, 0.0)


class _EdgeView:
    def __init__(self) -> None:
        self.points: list[Point] = []
        self.head_angle = 0.0

    def setpath(self, points: list[Point]) -> None:
        self.points = [tuple(p) for p in points]  # type: ignore[misc]


def lay_out(
    sizes: Mapping[str, tuple[float, float]],
    edges: Sequence[tuple[str, str, str]],
    *,
    margin: float = 24,
    gap: tuple[float, float] = (48, 64),
) -> Layout:
    """Boxes of `sizes` (id -> (w, h)) joined by `edges` ((from, branch, to)), acyclic, roots on top."""
    vertices = {node: Vertex(node) for node in sizes}
    for node, vertex in vertices.items():
        vertex.view = _BoxView(*sizes[node])
    links = []
    for tail, branch, head in edges:
        link = Edge(vertices[tail], vertices[head], data=branch)
        link.view = _EdgeView()
        links.append(link)
    graph = Graph(list(vertices.values()), links)
    placed: dict[str, Point] = {}
    routes: dict[tuple[str, str, str], list[Point]] = {}
    offset = 0.0
    for component in graph.C:
        layout = SugiyamaLayout(component)
        layout.xspace, layout.yspace = gap
        layout.route_edge = route_with_lines
        roots = [v for v in component.sV if not v.e_in()]
        layout.init_all(roots=roots)
        layout.draw()
        bends = [x for link in component.sE for x, _ in link.view.points]
        left = min([v.view.xy[0] - v.view.w / 2 for v in component.sV] + bends)
        right = max([v.view.xy[0] + v.view.w / 2 for v in component.sV] + bends)
        for vertex in component.sV:
            x, y = vertex.view.xy
            placed[vertex.data] = (x - left + offset, y)
        for link in component.sE:
            key = (link.v[0].data, link.data, link.v[1].data)
            routes[key] = [(x - left + offset, y) for x, y in link.view.points]
        offset += right - left + gap[0]
    boxes = {
        node: Box(margin + x - sizes[node][0] / 2, margin + y - sizes[node][1] / 2, *sizes[node])
        for node, (x, y) in placed.items()
    }
    shifted = {key: [(x + margin, y + margin) for x, y in points] for key, points in routes.items()}
    points = [p for line in shifted.values() for p in line]
    width = max([b.x + b.w for b in boxes.values()] + [x for x, _ in points]) + margin
    height = max([b.y + b.h for b in boxes.values()] + [y for _, y in points]) + margin
    return Layout(boxes, shifted, width, height)
