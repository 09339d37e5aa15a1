"""The live counts drawn on a journey: per node, who arrived, waits there now, left by each branch or
exited; per send node, how its messages fared. Read from the spec's outputs, current as of the last tick."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from journey_compiler.show.outputs import rows

_ARRIVED = """
select to_node as node_id, count(*) as n from journeys.journey_transitions
where journey_id = ? and to_node is not null and reason <> 'forked' group by all
"""
_LEFT = """
select from_node as node_id, branch, reason, count(*) as n from journeys.journey_transitions
where journey_id = ? and from_node is not null group by all
"""
_WAITING = """
select node_id, count(*) as n from journeys.journey_state
where journey_id = ? and status = 'active' group by all
"""
_MESSAGES = """
select node_id, count(*) as n, count(*) filter (where suppressed_by is not null) as suppressed
from journeys.send_queue where journey_id = ? group by all
"""
_OUTCOMES = """
select send_queue.node_id, message_events.status, count(distinct message_events.message_id) as n
from journeys.send_queue
inner join journeys.message_events using (message_id)
where send_queue.journey_id = ? and message_events.status <> 'sending'
group by all
"""
_ENTERED = "select count(distinct entry_id) as n from journeys.journey_state where journey_id = ?"
DELIVERY = ("sent", "delivered", "read", "clicked", "failed", "suppressed", "expired")
"""The delivery figures shown on a send node, in this order (others that appear follow)."""


@dataclass
class NodeFigures:
    arrived: int = 0
    waiting: int = 0
    left: dict[str, int] = field(default_factory=dict)
    """Branch -> entries that left by it (moved on or completed)."""
    exited: dict[str, int] = field(default_factory=dict)
    """Exit reason -> entries that left the journey here."""
    messages: dict[str, int] | None = None
    """Send nodes: `queued` (created) and each status reached, as message counts."""

    @property
    def dropped(self) -> int:
        return sum(self.exited.values())

    @property
    def drop_off(self) -> float | None:
        return self.dropped / self.arrived if self.arrived else None


@dataclass
class JourneyFigures:
    journey_id: str
    entered: int
    nodes: dict[str, NodeFigures]
    as_of: datetime | None
    """The tick the counts are as of."""


def journey_figures(
    con: duckdb.DuckDBPyConnection, journey_id: str, node_ids: list[str], as_of: datetime | None
) -> JourneyFigures:
    nodes = {node_id: NodeFigures() for node_id in node_ids}

    def node(node_id: str) -> NodeFigures:
        return nodes.setdefault(node_id, NodeFigures())

    for row in rows(con, _ARRIVED, [journey_id]):
        node(row["node_id"]).arrived = row["n"]
    for row in rows(con, _WAITING, [journey_id]):
        node(row["node_id"]).waiting = row["n"]
    for row in rows(con, _LEFT, [journey_id]):
        figures = node(row["node_id"])
        if row["reason"] in ("advanced", "completed"):
            figures.left[row["branch"]] = figures.left.get(row["branch"], 0) + row["n"]
        else:
            figures.exited[row["reason"]] = figures.exited.get(row["reason"], 0) + row["n"]
    for row in rows(con, _MESSAGES, [journey_id]):
        node(row["node_id"]).messages = {"queued": row["n"], "suppressed": row["suppressed"]}
    for row in rows(con, _OUTCOMES, [journey_id]):
        messages = node(row["node_id"]).messages
        if messages is not None:
            messages[row["status"]] = messages.get(row["status"], 0) + row["n"]
    entered = (rows(con, _ENTERED, [journey_id]) or [{"n": 0}])[0]["n"]
    return JourneyFigures(journey_id, entered, nodes, as_of)
