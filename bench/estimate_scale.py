"""What `journeys estimate` costs at scale, as ratios to a plain scan of the same staged tables, in one run.

    ./run python bench/estimate_scale.py                      # 1 000 000 profiles (the demo shop's week)
    ./run python bench/estimate_scale.py --profiles 100000

The demo shop's generator fills a fresh warehouse, one tick stages it (the examples' dormant recall only: a
schedule that starts at that tick, so nobody enters and the tick is staging alone), then each estimate runs
`--runs` times in this process, as the CLI calls it, beside the floor: counting the staged profiles and the
distinct buyers among the staged events (the least any estimate must read).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import duckdb

from journey_compiler.config.project import load_project
from journey_compiler.demo.shop import generate_shop
from journey_compiler.estimate.run import estimate_node, estimate_segment
from journey_compiler.runtime.tick import run_tick
from journey_compiler.runtime.workspace import Workspace, build_dbt_project

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "shop"
START = datetime(2026, 6, 1)
FLOOR = """
select (select count(*) from staging.stg_raw__profiles),
       (select count(distinct profile_id) from staging.stg_raw__events where event_name = 'purchase')
"""


def seconds(action: Callable[[], object], runs: int) -> float:
    """The median wall time of `runs` calls."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        journeys = root / "journeys_dir"
        shutil.copytree(EXAMPLES, journeys, ignore=shutil.ignore_patterns("journeys"))
        (journeys / "journeys").mkdir()
        shutil.copy2(EXAMPLES / "journeys" / "dormant_recall.yaml", journeys / "journeys")
        ws = Workspace.resolve(journeys, root / "bench.duckdb")
        project = load_project(journeys)
        with duckdb.connect(str(ws.warehouse)) as con:
            shop = generate_shop(con, project.warehouse, start=START, profiles=args.profiles)
        started = time.perf_counter()
        run_tick(ws, build_dbt_project(ws, project), shop.end)
        print(
            f"{shop.profiles:,} profiles, {shop.events:,} events; staged by one tick in "
            f"{time.perf_counter() - started:.1f} s"
        )

        def floor() -> None:
            with duckdb.connect(str(ws.warehouse), read_only=True) as con:
                con.execute(FLOOR).fetchall()

        base = seconds(floor, args.runs)
        cases: dict[str, Callable[[], object]] = {
            "segment members (an attribute)": lambda: estimate_segment(
                project, ws.warehouse, "members", None
            ),
            "segment vip (attribute, tag, order sum)": lambda: estimate_segment(
                project, ws.warehouse, "vip", None
            ),
            "segment dormant_90d (member, no purchase)": lambda: estimate_segment(
                project, ws.warehouse, "dormant_90d", None
            ),
            "node dormant_recall recall_sms (2 paths, 3 rules)": lambda: estimate_node(
                project, ws.warehouse, "dormant_recall", "recall_sms", None
            ),
        }
        print(f"| estimate (median of {args.runs}) | wall | x the floor scan ({base:.2f} s) |")
        print("| --- | --- | --- |")
        for name, action in cases.items():
            took = seconds(action, args.runs)
            print(f"| {name} | {took:.2f} s | {took / base:.1f}x |")


if __name__ == "__main__":
    main()
