"""What a what-if backtest costs over a month of history: daily steps beside an hourly stretch, in one run.

Run on demand: `./run python bench/whatif_scale.py --profiles 100000 [--days 30] [--hourly 24]`.

One seeded warehouse of `--days` days of the shop (`scale_world.py`: signups, browsing, orders, late and
duplicated events) is generated, then `runtime.whatif.backtest` runs on it as `journeys tick --what-if
--every 1d` runs it (scratch copy, the simulated dispatch after each tick, the report): `--days` daily ticks
from the start. The first tick deploys the models and is reported apart. Beside it, in the same run, the
same engine steps hourly over the first `--hourly` hours (the cadence a live schedule would use), so the
daily step's cost reads as a ratio: a month ticked hourly would be 24 x the days' ticks. Peak RSS is the
process's (the backtest runs in it).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from scale_world import EXAMPLES, START, describe, generate_world

from channel_senders.outbox import DispatchOptions, dispatch_project
from journey_compiler.config.project import Project, load_project
from journey_compiler.runtime.whatif import WhatIfReport, backtest
from journey_compiler.runtime.workspace import Workspace


def simulated(warehouse: Path, project: Project, at: datetime) -> None:
    dispatch_project(warehouse, project, at, options=DispatchOptions(simulate=True))


def timed_backtest(workspace: Workspace, times: list[datetime]) -> tuple[list[float], WhatIfReport]:
    """Seconds per tick (tick and simulated dispatch), and the report."""
    marks = [time.perf_counter()]
    report = backtest(
        workspace, times, on_tick=lambda _: marks.append(time.perf_counter()), dispatch=simulated
    )
    return [b - a for a, b in zip(marks, marks[1:], strict=False)], report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--hourly", type=int, default=24, help="hours of the hourly comparison")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    root = Path(args.workdir or tempfile.mkdtemp(prefix="whatif-scale-"))
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"shop_{args.profiles}_{args.days}d.duckdb"
    warehouse = load_project(EXAMPLES).warehouse
    if not path.exists():
        world = generate_world(path, warehouse, profiles=args.profiles, days=args.days)
        print(f"world: {describe(world)}")
    workspace = Workspace.resolve(EXAMPLES, path)

    daily = [START + timedelta(days=d) for d in range(1, args.days + 1)]
    started = time.perf_counter()
    seconds, report = timed_backtest(workspace, daily)
    total = time.perf_counter() - started
    hourly = [START + timedelta(hours=h) for h in range(1, args.hourly + 1)]
    hour_seconds, _ = timed_backtest(workspace, hourly)

    steady, per_hour = statistics.median(seconds[1:]), statistics.median(hour_seconds[1:])
    messages = sum(m.messages for m in report.messages)
    collisions = sum(n for (_, reason), n in report.suppressions.items() if reason == "frequency cap")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"{args.profiles:,} profiles, {args.days} daily ticks (copy and report included): {total:.0f} s")
    print(f"  first tick (deploys the models): {seconds[0]:.1f} s; the others, median {steady:.1f} s")
    entries = sum(n.entries for n in report.nodes)
    print(f"  entries {entries:,}, messages {messages:,}, cap collisions {collisions:,}")
    print(f"  hourly ticks over the first {args.hourly} h: median {per_hour:.1f} s per tick")
    print(f"  a daily tick costs {steady / per_hour:.1f} x an hourly one; the month hourly would take")
    print(f"  {24 * args.days * per_hour / 60:.0f} min of ticks against {sum(seconds) / 60:.1f} min daily")
    print(f"  peak RSS {peak:.2f} GiB")


if __name__ == "__main__":
    main()
