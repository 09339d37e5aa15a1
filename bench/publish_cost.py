"""What publishing a tick costs as history grows: the append-only outputs as Parquet parts (what
`publish_outputs` does) against rewriting each output whole (what it did before), measured in one run.

    ./run python bench/publish_cost.py                  # 1 000 000 transitions over 500 ticks
    ./run python bench/publish_cost.py --rows 200000

A synthetic `journeys.journey_transitions` history (the largest append-only output) grows tick by tick and
every tick is published, as `finish_tick` does; at each checkpoint the mean publish time of the last 10 ticks
(which includes rewriting the open part, up to ROWS_PER_PART rows) is set beside writing the table whole.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from journey_compiler.runtime.publish import publish_outputs, published_dir

T0 = datetime(2026, 1, 1)
TRANSITIONS = """
insert into journeys.journey_transitions
select
    ?::timestamp as tick_at,
    ?::timestamp + to_seconds(i % 300) as logical_at,
    'journey_' || (i % 5) as journey_id,
    'e' || ?::bigint || '_' || i as entry_id,
    'p' || (i * 7919 % 1000003) as profile_id,
    'node_' || (i % 9) as from_node,
    'node_' || (i % 9 + 1) as to_node,
    'next' as branch,
    'advanced' as reason,
    case when i % 2 = 0 then 'control' else 'treat' end as ab_group,
from range(?) as t(i)
"""


def add_tick(con: duckdb.DuckDBPyConnection, tick: int, rows: int) -> datetime:
    at = T0 + timedelta(minutes=5 * tick)
    con.execute(TRANSITIONS, [at, at, tick, rows])
    con.execute("insert into journeys.tick_log values (?, ?, ?, ?)", [at, at, at, at])
    return at


def timed(action) -> float:  # noqa: ANN001 - a callable
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="history size at the last checkpoint")
    parser.add_argument("--ticks", type=int, default=500)
    args = parser.parse_args()
    per_tick = max(1, args.rows // args.ticks)
    with tempfile.TemporaryDirectory() as tmp:
        warehouse = Path(tmp) / "bench.duckdb"
        with duckdb.connect(str(warehouse)) as con:
            con.execute("create schema journeys")
            con.execute(
                "create table journeys.journey_transitions (tick_at timestamp, logical_at timestamp, "
                "journey_id varchar, entry_id varchar, profile_id varchar, from_node varchar, "
                "to_node varchar, branch varchar, reason varchar, ab_group varchar)"
            )
            con.execute(
                "create table journeys.tick_log (tick_at timestamp, watermark timestamp, "
                "started_at timestamp, finished_at timestamp)"
            )
            checkpoints = {args.ticks // 10, args.ticks // 2, args.ticks}
            print(f"{per_tick:,} transitions per tick; a tick's publish vs the whole table rewritten")
            print("| history (rows) | publish per tick (mean of 10) | whole rewrite | ratio |")
            print("| --- | --- | --- | --- |")
            recent: list[float] = []
            for tick in range(1, args.ticks + 1):
                at = add_tick(con, tick, per_tick)
                recent = [*recent[-9:], timed(lambda at=at: publish_outputs(con, warehouse, as_of=at))]
                if tick not in checkpoints:
                    continue
                parts = sum(recent) / len(recent)
                whole = str(Path(tmp) / "whole.parquet")
                relation = con.table("journeys.journey_transitions")
                rewrite = timed(lambda r=relation, w=whole: r.write_parquet(w))
                history = f"{tick * per_tick:,}"
                print(
                    f"| {history} | {parts * 1000:.0f} ms | {rewrite * 1000:.0f} ms | {rewrite / parts:.1f} |"
                )
            files = len(list((published_dir(warehouse) / "journey_transitions").glob("*.parquet")))
            print(f"parts in the folder at the end: {files}")


if __name__ == "__main__":
    main()
