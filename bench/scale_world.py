"""A seeded shop at benchmark scale: the demo's week plus months of older browsing of Zipf-like skew.

Run on demand: `./run python bench/scale_world.py --profiles 100000 --history 4 --out /tmp/shop.duckdb`.

The week is the demo shop itself (`journey_compiler.demo.shop.generate_shop`: the same profiles, event
names, properties, timezones, tags, relations, calendar and `orders` rows, late and duplicated deliveries
included), written into a warehouse created as `journeys init` creates it. `--history F` then adds
(F - 1) x the week's events of older history, spread over the `--history-days` (90) before the week: what a
shop accumulates and every tick may have to skip. Like the shop, it is generated set-based inside DuckDB
(`range()` and hashes of the seed and the row's key, never `random()`), so 26M rows take about a minute and
the same seed gives the same rows.

The older events are browsing (`app_open`, `page_view`), the bulk of any shop's events: no example journey
enters, exits or moves on them before the week starts, so history of any size leaves the entries in flight
unchanged and the growth figures of `tick_scale.py` compare like with like (older carts or purchases would
start cart-abandonment entries and shrink the dormant audience). Who browses is Zipf-like: person rank
`floor(people x u^SKEW)` with u uniform, so the busiest 1% of people hold about 16% of the older events and
the busiest one thousands, while the median person has about 0.6x the mean (the summary prints the spread).
Loads follow the shop: seconds to minutes after the event, ~1% hours late, ~0.5% delivered twice.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
from sqlglot import exp

from journey_compiler.config.project import load_project
from journey_compiler.config.warehouse import WarehouseConfig
from journey_compiler.demo.shop import ShopSummary, generate_shop
from journey_compiler.warehouse.tables import EVENTS

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "shop"
START = datetime(2026, 6, 1)
SKEW = 2.5
"""Exponent of the rank draw: each person's share of the older events falls as rank^(1/SKEW - 1)."""
MEMORY_LIMIT = "6GB"
"""DuckDB's cap while generating, so that a 50M-event world leaves the machine to the others."""
BROWSING = ("app_open", "page_view")
PAGES = ["home", "home", "product", "product", "product", "category", "cart", "account"]

# A bijection of [0, people) (the multiplier is a prime above any size), so that heavy ranks are spread
# over the profile ids instead of being p000001, p000002, ...
_SCATTER = 2_147_483_647

_DRAW = """
CREATE OR REPLACE TEMP MACRO history_draw(seed, k, salt) AS hash(hash(seed, k, salt)) / 18446744073709551616.0
"""

_OLDER_EVENTS = """
CREATE OR REPLACE TEMP TABLE older_events AS
WITH drawn AS (
    SELECT
        i,
        history_draw($seed, i, 'who') AS u_who,
        history_draw($seed, i, 'when') AS u_when,
        history_draw($seed, i, 'what') AS u_what,
        history_draw($seed, i, 'page') AS u_page,
        history_draw($seed, i, 'late') < 0.01 AS late,
        history_draw($seed, i, 'load') AS u_load,
        history_draw($seed, i, 'twice') AS u_twice
    FROM range($events) AS older(i)
),
timed AS (
    SELECT
        *,
        printf('p%06d', (CAST(floor($people * pow(u_who, $skew)) AS BIGINT) * $scatter) % $people + 1)
            AS profile_id,
        CAST($since AS TIMESTAMP) + to_microseconds(CAST(u_when * $span_us AS BIGINT)) AS event_time,
        $names[1 + CAST(floor(u_what * len($names)) AS INTEGER)] AS event_name,
        $pages[1 + CAST(floor(u_page * len($pages)) AS INTEGER)] AS page
    FROM drawn
),
copies AS (
    SELECT *, unnest(CASE WHEN u_twice < 0.005 THEN [false, true] ELSE [false] END) AS duplicate
    FROM timed
)
SELECT
    printf('h%d', i) AS event_id,
    profile_id,
    event_name,
    event_time,
    page,
    event_time + to_microseconds(CAST(
        CASE WHEN late THEN (2 + u_load * 10) * 3600e6 ELSE (5 + u_load * 600) * 1e6 END
        + CASE WHEN duplicate THEN (60 + u_twice * 7200 / 0.005) * 1e6 ELSE 0 END
        AS BIGINT)) AS loaded_at,
    late AND NOT duplicate AS late,
    duplicate
FROM copies
"""

_SPREAD = """
WITH per_person AS (
    SELECT count(*) AS events FROM older_events WHERE NOT duplicate GROUP BY profile_id
),
ranked AS (
    SELECT events, row_number() OVER (ORDER BY events DESC) AS rank, count(*) OVER () AS people
    FROM per_person
)
SELECT
    count(*),
    max(events),
    median(events),
    avg(events),
    sum(events) FILTER (WHERE rank <= greatest(1, people // 100)) / sum(events)
FROM ranked
"""

_OLDER_COUNTS = (
    "SELECT count(*), count(*) FILTER (WHERE late), count(*) FILTER (WHERE duplicate) FROM older_events"
)


@dataclass(frozen=True)
class History:
    """The older events `add_history` wrote (every delivery counted) and how they spread over people."""

    events: int
    late_events: int
    duplicate_deliveries: int
    people: int
    """People with at least one older event."""
    busiest: int
    median: float
    mean: float
    top_percent_share: float
    """Share of the older events held by the busiest 1% of the people who have any."""


@dataclass(frozen=True)
class ScaleWorld:
    shop: ShopSummary
    history: History | None

    @property
    def events(self) -> int:
        return self.shop.events + (self.history.events if self.history else 0)


def generate_world(
    path: Path,
    warehouse: WarehouseConfig,
    *,
    profiles: int,
    history: float = 1.0,
    history_days: int = 90,
    seed: int = 7,
    start: datetime = START,
    days: int = 7,
) -> ScaleWorld:
    """Write the shop week (from `start`) and (history - 1) x its events of older browsing into a new file."""
    with duckdb.connect(str(path)) as con:
        con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        shop = generate_shop(con, warehouse, start=start, days=days, profiles=profiles, seed=seed)
        older = round((history - 1) * shop.events)
        added = None
        if older > 0:
            added = add_history(
                con,
                warehouse,
                events=older,
                since=start - timedelta(days=history_days),
                until=start,
                people=profiles,
                seed=seed,
            )
        con.execute("CHECKPOINT")
    return ScaleWorld(shop, added)


def add_history(
    con: duckdb.DuckDBPyConnection,
    warehouse: WarehouseConfig,
    *,
    events: int,
    since: datetime,
    until: datetime,
    people: int,
    seed: int,
) -> History:
    """Append `events` browsing events between `since` and `until` for the shop's people p000001..

    Only the declared browsing events and properties are written, as the shop writes only declared ones."""
    names = [name for name in BROWSING if name in warehouse.events]
    if not names:
        raise ValueError("the warehouse declares neither app_open nor page_view: no history to write")
    con.begin()
    try:
        con.execute(_DRAW)
        con.execute(
            _OLDER_EVENTS,
            {
                "seed": seed,
                "events": events,
                "people": people,
                "skew": SKEW,
                "scatter": _SCATTER,
                "since": since,
                "span_us": int((until - since).total_seconds() * 1e6),
                "names": names,
                "pages": PAGES,
            },
        )
        con.execute(_insert_older(warehouse).sql("duckdb"))
        total, late, duplicates = con.execute(_OLDER_COUNTS).fetchone() or (0, 0, 0)
        spread = con.execute(_SPREAD).fetchone() or (0, 0, 0.0, 0.0, 0.0)
        con.execute("DROP TABLE older_events; DROP MACRO history_draw")
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return History(total, late, duplicates, *spread)


def _insert_older(warehouse: WarehouseConfig) -> exp.Insert:
    """`page_view` carries `page` where the warehouse declares it; `app_open` carries no property."""
    no_properties = exp.Anonymous(this="json_object", expressions=[])
    properties: exp.Expression = no_properties
    if "page" in (warehouse.events.get("page_view") or {}):
        page = exp.Anonymous(this="json_object", expressions=[exp.Literal.string("page"), exp.column("page")])
        properties = (
            exp.Case()
            .when(exp.column("event_name").eq(exp.Literal.string("page_view")), page)
            .else_(no_properties)
        )
    columns = [properties.as_(c) if c == "properties" else exp.column(c) for c in EVENTS]
    select = exp.select(*columns).from_("older_events")
    return exp.insert(select, exp.to_table(warehouse.sources.events), columns=list(EVENTS))


def describe(world: ScaleWorld) -> str:
    shop, older = world.shop, world.history
    text = (
        f"{shop.profiles:,} profiles, {world.events:,} events: "
        f"the week {shop.start:%Y-%m-%d}..{shop.end:%Y-%m-%d} "
        f"{shop.events:,} ({shop.late_events:,} late, {shop.duplicate_deliveries:,} delivered twice), "
        f"{shop.orders:,} orders"
    )
    if older is not None:
        text += (
            f"; older browsing {older.events:,} ({older.late_events:,} late, {older.duplicate_deliveries:,} "
            f"twice) over {older.people:,} people: busiest {older.busiest:,}, median {older.median:g}, "
            f"mean {older.mean:.1f}, busiest 1% hold {older.top_percent_share:.0%}"
        )
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=10_000, help="people (cars come on top, 1 per 50)")
    parser.add_argument("--history", type=float, default=1.0, help="all events / the week's events (>= 1)")
    parser.add_argument("--history-days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dir", type=Path, default=EXAMPLES, help="journeys directory (its warehouse.yaml)")
    parser.add_argument("--out", type=Path, required=True, help="a new DuckDB file")
    args = parser.parse_args()
    if args.out.exists():
        parser.error(f"{args.out} exists; the world is written into a new file")
    warehouse = load_project(args.dir).warehouse
    world = generate_world(
        args.out,
        warehouse,
        profiles=args.profiles,
        history=args.history,
        history_days=args.history_days,
        seed=args.seed,
    )
    print(f"{args.out}: {describe(world)}")


if __name__ == "__main__":
    main()
