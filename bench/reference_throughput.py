"""Throughput of the reference interpreter (profiles x ticks per second) on the shipped shop journeys.

Run on demand: `./run python bench/reference_throughput.py [--profiles 3000] [--days 7] [--every 3h]`.
The data is the demo's synthetic shop (`journey_compiler.demo.shop.generate_shop`: the rows the demo loads,
late and duplicated events included), read back from an in-memory DuckDB into a `World`; the ticks are the
demo's (every 3 h over the simulated week, from 1 June 2026). Later benchmarks can state the SQL tick's speed
as a ratio to the figure printed here, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import duckdb

from journey_compiler.config.base import parse_duration
from journey_compiler.config.project import Project, load_project
from journey_compiler.demo.shop import generate_shop
from journey_compiler.reference import ReferenceOutput, interpret
from journey_compiler.reference.world import Event, Profile, ProfileTag, Relation, World

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "shop"
START = datetime(2026, 6, 1)


def shop_world(
    project: Project, *, profiles: int, days: int, start: datetime = START
) -> tuple[World, datetime]:
    """The demo shop's raw rows as a World, and the end of its simulated period."""
    warehouse = project.warehouse
    with duckdb.connect() as con:
        shop = generate_shop(con, warehouse, start=start, days=days, profiles=profiles)
        sources = warehouse.sources

        def rows(query: str) -> list[tuple]:
            return con.execute(query).fetchall()

        world = World(
            profiles=[
                Profile(pid, email, phone, tz, json.loads(attrs or "{}"), updated)
                for pid, email, phone, tz, attrs, updated in rows(
                    "select profile_id, email, phone, timezone, attributes, updated_at "
                    f"from {sources.profiles}"
                )
            ],
            events=[
                Event(eid, pid, name, at, json.loads(props or "{}"), loaded)
                for eid, pid, name, at, props, loaded in rows(
                    "select event_id, profile_id, event_name, event_time, properties, loaded_at "
                    f"from {sources.events}"
                )
            ],
            profile_tags=[
                ProfileTag(*row)
                for row in rows(f"select profile_id, tag, tagged_at from {sources.profile_tags}")
            ],
            relations=[
                Relation(*row) for row in rows(f"select from_id, to_id, relation from {sources.relations}")
            ],
            trading_calendar=dict(rows(f"select day, is_trading_day from {sources.trading_calendar}")),
        )
        for name, detail in warehouse.details.items():
            cursor = con.execute(f"select * from {detail.table}")
            columns = [d[0] for d in cursor.description]
            world.details[name] = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    return world, shop.end


def measure(
    project: Project, *, profiles: int, days: int, every: str
) -> tuple[World, list[datetime], ReferenceOutput, float]:
    """`interpret()` over the shop, ticked every `every` as the demo ticks: the world, the ticks, the
    outputs and the seconds it took (profiles x ticks / seconds is the throughput)."""
    world, end = shop_world(project, profiles=profiles, days=days)
    step = parse_duration(every)
    ticks = []
    at = START + step
    while at <= end:
        ticks.append(at)
        at += step
    began = time.perf_counter()
    out = interpret(project, world, ticks)
    return world, ticks, out, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=3000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--every", default="3h", help="tick step (s/m/h/d), as the demo's --every")
    args = parser.parse_args()

    project = load_project(EXAMPLES)
    world, ticks, out, seconds = measure(project, profiles=args.profiles, days=args.days, every=args.every)

    people = len(world.profiles)
    moves = Counter(t.journey_id for t in out.transitions)
    print(
        f"reference interpreter: {people} profiles x {len(ticks)} ticks (every {args.every}) "
        f"over {len(world.events)} events, {len(project.journeys)} journeys"
    )
    print(f"  {seconds:.2f} s -> {people * len(ticks) / seconds:,.0f} profile-ticks/s")
    print(f"  {len(out.transitions)} transitions, {len(out.messages)} messages, {len(out.state)} entries")
    print("  transitions per journey: " + ", ".join(f"{j} {n}" for j, n in sorted(moves.items())))
    if out.skipped:
        print("  skipped: " + "; ".join(f"{j}: {why}" for j, why in out.skipped.items()))


if __name__ == "__main__":
    main()
