"""Estimates asked of the warehouse: one query over what the ticks have staged, opened read-only.

The estimate reads the same relations as the ticks (`stg_raw__profiles`, `stg_raw__events`,
`int_profile_tags`, the detail staging), so it counts what a tick would see: events loaded by the last
tick's watermark, profiles and tags as of that tick. Attributes have no history: an estimate at an earlier
time still asks today's attributes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
from sqlglot import exp

from journey_compiler.config.project import Project
from journey_compiler.errors import JourneysError, NotCompilable
from journey_compiler.estimate.paths import Way, ways_to
from journey_compiler.estimate.query import EstimateSql, trigger_unjudged
from journey_compiler.ir import lower
from journey_compiler.runtime.lock import connect
from journey_compiler.show.picture import find_journey
from journey_compiler.sqlgen.ast import col, lit
from journey_compiler.sqlgen.relations import ref
from journey_compiler.sqlgen.segments import SegmentSql
from journey_compiler.warehouse.tables import APPLIED_TICKS

_REF = re.compile(r"\{\{ ref\('(\w+)'\) \}\}")
_LAST_TICK = f"select tick_at, watermark from {APPLIED_TICKS} applied order by tick_at desc limit 1"


@dataclass(frozen=True)
class Seen:
    """What the estimate looked at: its time, and the last tick whose staged rows it read."""

    at: datetime
    tick_at: datetime
    watermark: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "last_tick": self.tick_at.isoformat(),
            "events_loaded_by": self.watermark.isoformat() if self.watermark else None,
        }


@dataclass(frozen=True)
class SegmentEstimate:
    segment_id: str
    seen: Seen
    members: int
    profiles: int

    def as_json(self) -> dict[str, Any]:
        return {
            "segment": self.segment_id,
            **self.seen.as_json(),
            "members": self.members,
            "of": self.profiles,
        }


@dataclass(frozen=True)
class WayEstimate:
    way: Way
    profiles: int
    """Profiles of the audience that satisfy every judged rule of the way (before A/B shares)."""

    @property
    def expected(self) -> float:
        return self.profiles * self.way.share

    def as_json(self) -> dict[str, Any]:
        return {
            "path": [{"node": hop.node_id, "branch": hop.branch} for hop in self.way.path],
            "branch": self.way.own_branch,
            "profiles": self.profiles,
            "share": self.way.share,
            "expected": self.expected,
            "not_judged": list(self.way.unjudged),
        }


@dataclass(frozen=True)
class NodeEstimate:
    journey_id: str
    node_id: str
    seen: Seen
    audience: int
    """Profiles the entry admits (audience rules and trigger facts)."""
    entry_unjudged: str | None
    ways: list[WayEstimate]

    def totals(self) -> dict[str | None, float]:
        """Expected profiles over every path: arriving at the node (None), then per branch of the node."""
        totals: dict[str | None, float] = {}
        for way in self.ways:
            totals[way.way.own_branch] = totals.get(way.way.own_branch, 0.0) + way.expected
        return totals

    def as_json(self) -> dict[str, Any]:
        return {
            "journey": self.journey_id,
            "node": self.node_id,
            **self.seen.as_json(),
            "audience": self.audience,
            "entry_not_judged": self.entry_unjudged,
            "paths": [way.as_json() for way in self.ways],
            "total": [{"branch": b, "expected": v} for b, v in self.totals().items()],
        }


def estimate_segment(
    project: Project, warehouse: Path, segment_id: str, at: datetime | None
) -> SegmentEstimate:
    if segment_id not in project.segments:
        known = ", ".join(sorted(project.segments)) or "none"
        hint = " (a journey: give one of its nodes too)" if segment_id in project.journeys else ""
        raise JourneysError(f"unknown segment {segment_id!r}{hint}; known segments: {known}")
    with _reading(warehouse, at) as (con, seen):
        query = _estimates(project).segment_size(project.segments[segment_id].rule, seen.at)
        members, profiles = _run(con, warehouse, query)[0]
    return SegmentEstimate(segment_id, seen, members, profiles)


def estimate_node(
    project: Project, warehouse: Path, journey_id: str, node_id: str, at: datetime | None
) -> NodeEstimate:
    try:
        plan = lower(find_journey(project, journey_id), project)
    except NotCompilable as error:
        raise JourneysError(f"{error}, so it cannot be estimated yet") from None
    ways = ways_to(plan, node_id)
    with _reading(warehouse, at) as (con, seen):
        audience, *counts = _run(
            con, warehouse, _estimates(project).joint_audience(plan.entry, ways, seen.at)
        )[0]
    estimates = [WayEstimate(way, count) for way, count in zip(ways, counts, strict=True)]
    return NodeEstimate(journey_id, node_id, seen, audience, trigger_unjudged(plan.entry), estimates)


def _estimates(project: Project) -> EstimateSql:
    """The tick's segment compiler over the relations the tick reads (resolved in `_run`)."""
    return EstimateSql(
        SegmentSql(project, ref("stg_raw__events"), ref("stg_raw__profiles"), ref("int_profile_tags"))
    )


@contextmanager
def _reading(warehouse: Path, at: datetime | None) -> Iterator[tuple[duckdb.DuckDBPyConnection, Seen]]:
    """The warehouse opened read-only, and what the estimate sees in it (at `at`, default the last tick)."""
    if not warehouse.exists():
        raise JourneysError(f"no warehouse at {warehouse}: run `journeys init` and a tick first")
    with connect(warehouse, read_only=True) as con:
        try:
            ticks = con.execute(_LAST_TICK).fetchall()
        except duckdb.CatalogException:
            ticks = []
        if not ticks:
            raise JourneysError(_not_staged(warehouse, "finished tick"))
        tick_at, watermark = ticks[0]
        yield con, Seen(at or tick_at, tick_at, watermark)


def _run(con: duckdb.DuckDBPyConnection, warehouse: Path, query: exp.Select) -> list[tuple[Any, ...]]:
    """Run `query` with each `{{ ref('model') }}` bound to the relation dbt built for the model."""
    refs = [
        (table, found[1])
        for table in query.find_all(exp.Table)
        if isinstance(table.this, exp.Var) and (found := _REF.fullmatch(table.this.name))
    ]
    names = sorted({name for _, name in refs})
    lookup = (
        exp.select("table_name", "table_schema")
        .from_("information_schema.tables")
        .where(col("table_name").isin(*(lit(n) for n in names)))
    )
    schemas = dict(con.execute(lookup.sql("duckdb")).fetchall())
    if missing := [n for n in names if n not in schemas]:
        raise JourneysError(_not_staged(warehouse, ", ".join(missing)))
    for table, name in refs:
        table.set("this", exp.to_identifier(name))
        table.set("db", exp.to_identifier(schemas[name]))
    return con.execute(query.sql("duckdb")).fetchall()


def _not_staged(warehouse: Path, what: str) -> str:
    return (
        f"{warehouse} has no {what} yet: estimates count what the ticks staged; "
        "run `journeys tick` first (again after a change of warehouse.yaml)"
    )
