"""How the tick scales with profiles and history: steady and catch-up ticks beside the floor, in one run.

Run on demand: `./run python bench/tick_scale.py --profiles 10000 [--history 1,2,4] [--runs 3] [--profile]`.

Per history size (1x = the shop's week alone; Fx adds (F - 1) x its events of older browsing, see
`scale_world.py`) one seeded warehouse is generated, deployed by a first tick at the start of the week
(not measured), and then measured, each tick in a fresh process (`tick_probe.py`, through the public runtime
`build_dbt_project` + `run_tick`, as `journeys tick` runs it):
- the catch-up tick: the whole week at once (`--runs` times, each on a copy of the deployed warehouse);
- the steady tick: the following 15-minute ticks, one after another, each reading the events loaded in its
  15 minutes (~23k at 1M profiles); split into compile, SQL (the sum of dbt's per-node execution times in
  `target/run_results.json`: the models, then the tick's checks), dbt overhead (the dbt invocation's wall
  time minus the SQL; in brackets its start-up and parse, before dbt's own clock starts) and the runtime
  around dbt (watermark, publish: the tick minus the dbt invocation);
- the floor: one DuckDB statement that reads the events loaded in the last steady tick's 15 minutes, joins
  them to a table of the active entries by profile and writes the result as a table;
- peak RSS of the tick processes; the growth of the steady tick with history; and the SQL tick's
  profile-ticks per second as a multiple of the reference interpreter's (`reference_throughput.py`).
Figures are medians over `--runs`, all measured in this run. `--profile` adds one profiled steady tick per
history size and prints the statements and DuckDB operators that cost most.
"""

from __future__ import annotations

import argparse
import json
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
from reference_throughput import measure as measure_interpreter
from scale_world import EXAMPLES, START, describe, generate_world
from sqlglot import exp

import journey_compiler
from journey_compiler.config.project import load_project
from journey_compiler.config.warehouse import WarehouseConfig

PROBE = Path(__file__).with_name("tick_probe.py")
WEEK = timedelta(days=7)
STEP = timedelta(minutes=15)
GIB = 1024**3
RSS_LIMIT = 12 * GIB
"""The machine is shared: a tick process larger than this is stopped, and the run with it."""


@dataclass(frozen=True)
class Tick:
    """One measured tick, as `tick_probe.py` reports it (seconds, bytes)."""

    compile: float
    tick: float
    cpu: float
    """CPU seconds of the compile and the tick, all threads: on a shared machine, the steadier figure."""
    dbt_elapsed: float
    """dbt's own elapsed time (`run_results.json`): the execution of the nodes, not its start-up."""
    dbt_invocation: float
    """Wall time of the dbt invocation: start-up, parse and execution."""
    models: float
    checks: float
    max_rss: int

    @classmethod
    def from_probe(cls, report: dict) -> Tick:
        if report["deploy"] or not report["runs"]:
            raise SystemExit(f"a measured tick must run and must not deploy the models: {report}")
        nodes = report["nodes"]
        return cls(
            compile=report["compile"],
            tick=report["tick"],
            cpu=report["compile_cpu"] + report["tick_cpu"],
            dbt_elapsed=report["dbt_elapsed"],
            dbt_invocation=sum(report["dbt_invocations"] or [report["dbt_elapsed"]]),
            models=sum(t for node, t in nodes.items() if node.startswith("model.")),
            checks=sum(t for node, t in nodes.items() if not node.startswith("model.")),
            max_rss=report["max_rss"],
        )

    @property
    def end_to_end(self) -> float:
        return self.compile + self.tick

    @property
    def sql(self) -> float:
        return self.models + self.checks

    @property
    def dbt_overhead(self) -> float:
        return self.dbt_invocation - self.sql

    @property
    def dbt_start_up(self) -> float:
        return self.dbt_invocation - self.dbt_elapsed

    @property
    def around_dbt(self) -> float:
        return self.tick - self.dbt_invocation


def median_tick(ticks: list[Tick]) -> Tick:
    """Each figure's median over the runs (peak RSS: the largest)."""

    def mid(field: str) -> float:
        return statistics.median(getattr(t, field) for t in ticks)

    return Tick(
        compile=mid("compile"),
        tick=mid("tick"),
        cpu=mid("cpu"),
        dbt_elapsed=mid("dbt_elapsed"),
        dbt_invocation=mid("dbt_invocation"),
        models=mid("models"),
        checks=mid("checks"),
        max_rss=max(t.max_rss for t in ticks),
    )


@dataclass(frozen=True)
class Site:
    """The files of one world: the generated raw tables, the deployed snapshot, and the copy ticked."""

    root: Path

    @property
    def generated(self) -> Path:
        return self.root / "generated.duckdb"

    @property
    def live(self) -> Path:
        return self.root / "live" / "warehouse.duckdb"

    @property
    def deployed(self) -> Path:
        return self.root / "deployed"

    def restore(self, source: Path) -> None:
        """Make the live folder a copy of `source` (a warehouse file, or a snapshot folder)."""
        shutil.rmtree(self.live.parent, ignore_errors=True)
        if source.is_dir():
            shutil.copytree(source, self.live.parent)
        else:
            self.live.parent.mkdir(parents=True)
            shutil.copy2(source, self.live)

    def snapshot(self) -> None:
        """Keep the live warehouse and its dbt build folder (with dbt's partial parse) as the snapshot."""
        shutil.rmtree(self.deployed, ignore_errors=True)
        shutil.copytree(self.live.parent, self.deployed, ignore=shutil.ignore_patterns("*.published", "logs"))


def probe(journeys: Path, warehouse: Path, at: datetime, profile_dir: Path | None = None) -> dict:
    """Run one tick in a fresh process and return what it measured; stop it if it outgrows `RSS_LIMIT`."""
    command = [sys.executable, str(PROBE), "--dir", str(journeys), "--warehouse", str(warehouse)]
    command += ["--at", at.isoformat()] + (["--profile-dir", str(profile_dir)] if profile_dir else [])
    # files, not pipes: the child must never block on a full pipe while it is watched
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        with subprocess.Popen(command, stdout=out, stderr=err, text=True) as child:
            while child.poll() is None:
                if _rss(child.pid) > RSS_LIMIT:
                    child.kill()
                    raise SystemExit(f"tick at {at} went over {RSS_LIMIT / GIB:.0f} GiB of RSS: stopped it")
                time.sleep(0.2)
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            raise SystemExit(f"tick at {at} failed:\n{err.read()[-3000:]}")
        return json.loads(out.read().strip().splitlines()[-1])


def _rss(pid: int) -> int:
    """Resident bytes of a running process (0 once it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    kib = next((line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")), "0")
    return int(kib) * 1024


@dataclass(frozen=True)
class Figures:
    history: float
    world: str
    profiles: int
    """Rows of the profiles table: people and cars."""
    events_seen: int
    in_flight: int
    new_events: float
    catch_up: Tick
    steady: Tick
    floor: float


def _events(warehouse: WarehouseConfig) -> exp.Table:
    return exp.to_table(warehouse.sources.events)


def _loaded_between(since: datetime, until: datetime) -> exp.Expression:
    loaded = exp.column("loaded_at")
    return exp.and_(
        loaded > exp.cast(exp.Literal.string(str(since)), "timestamp"),
        loaded <= exp.cast(exp.Literal.string(str(until)), "timestamp"),
    )


def _count(con: duckdb.DuckDBPyConnection, query: exp.Select) -> int:
    return (con.execute(query.sql("duckdb")).fetchone() or (0,))[0]


_ACTIVE = (
    exp.select("journey_id", "entry_id", "profile_id", "node_id")
    .from_("journeys.journey_state")
    .where(exp.column("status").eq(exp.Literal.string("active")))
)


def floor_statement(warehouse: WarehouseConfig, since: datetime, until: datetime) -> exp.Create:
    """The least any tick must do: this tick's new events joined to the active entries, written as a table."""
    select = (
        exp.select("a.journey_id", "a.entry_id", "a.node_id", "e.*")
        .from_(_events(warehouse).as_("e"))
        .join(exp.to_table("bench.active_entries").as_("a"), on="e.profile_id = a.profile_id")
        .where(_loaded_between(since, until))
    )
    return exp.Create(this=exp.to_table("bench.floor_result"), kind="TABLE", replace=True, expression=select)


def measure_floor(path: Path, warehouse: WarehouseConfig, until: datetime, runs: int) -> tuple[float, int]:
    """Median seconds of the floor statement over `runs`, and the active entries it joined."""
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS bench")
        active = exp.Create(
            this=exp.to_table("bench.active_entries"), kind="TABLE", replace=True, expression=_ACTIVE
        )
        con.execute(active.sql("duckdb"))
        statement = floor_statement(warehouse, until - STEP, until).sql("duckdb")
        seconds = []
        for _ in range(runs):
            began = time.perf_counter()
            con.execute(statement)
            seconds.append(time.perf_counter() - began)
        (entries,) = con.execute("SELECT count(*) FROM bench.active_entries").fetchone() or (0,)
    return statistics.median(seconds), entries


def measure_world(args: argparse.Namespace, history: float) -> Figures:
    warehouse = load_project(args.dir).warehouse
    site = Site(args.workdir / f"p{args.profiles}-h{history:g}-s{args.seed}")
    if not site.generated.exists():
        site.root.mkdir(parents=True, exist_ok=True)
        partial = site.generated.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        world = generate_world(partial, warehouse, profiles=args.profiles, history=history, seed=args.seed)
        partial.rename(site.generated)
        (site.root / "world.txt").write_text(describe(world))
    described = (site.root / "world.txt").read_text()
    print(f"  world {history:g}x: {described}", flush=True)

    site.restore(site.generated)
    probe(args.dir, site.live, START)
    site.snapshot()
    catch_up = []
    for _ in range(args.catch_up_runs or args.runs):
        site.restore(site.deployed)
        catch_up.append(Tick.from_probe(probe(args.dir, site.live, START + WEEK)))
    print(f"    catch-up: {_seconds(catch_up)}", flush=True)
    steady_times = [START + WEEK + STEP * k for k in range(1, args.runs + 1)]
    steady = [Tick.from_probe(probe(args.dir, site.live, at)) for at in steady_times]
    print(f"    steady: {_seconds(steady)}", flush=True)
    floor, in_flight = measure_floor(site.live, warehouse, steady_times[-1], args.runs)
    with duckdb.connect(str(site.live), read_only=True) as con:
        profiles = _count(con, exp.select("count(*)").from_(exp.to_table(warehouse.sources.profiles)))
        seen = _count(
            con,
            exp.select("count(*)")
            .from_(_events(warehouse))
            .where(exp.column("loaded_at") <= exp.cast(exp.Literal.string(str(START + WEEK)), "timestamp")),
        )
        new = [
            _count(
                con, exp.select("count(*)").from_(_events(warehouse)).where(_loaded_between(at - STEP, at))
            )
            for at in steady_times
        ]
    if args.profile:
        report = site.root / "profile"
        shutil.rmtree(report, ignore_errors=True)
        probe(args.dir, site.live, steady_times[-1] + STEP, profile_dir=report)
        print(profile_summary(report), flush=True)
    return Figures(
        history,
        described,
        profiles,
        seen,
        in_flight,
        statistics.median(new),
        median_tick(catch_up),
        median_tick(steady),
        floor,
    )


def _seconds(ticks: list[Tick]) -> str:
    return ", ".join(f"{t.end_to_end:.2f} s ({t.cpu:.2f} CPU)" for t in ticks)


_TARGET = re.compile(
    r"(?:create\s+(?:or\s+replace\s+)?(?:temp(?:orary)?\s+)?(?:table|view)|insert\s+into)\s+([\w.\"]+)", re.I
)


def _operators(profile: dict) -> Iterator[dict]:
    """Every operator of a statement's plan, roots included."""
    stack = list(profile["operator"])
    while stack:
        operator = stack.pop()
        yield operator
        stack.extend(operator.get("children", []))


def _statement_name(sql: str) -> str:
    target = _TARGET.search(sql)
    return target.group(1).replace('"', "") if target else " ".join(sql.split())[:60]


def _operator_line(operator: dict) -> str:
    info = "; ".join(f"{k}: {v}" for k, v in operator["extra_info"].items() if k != "Estimated Cardinality")
    return (
        f"{operator['timing']:.3f} s {operator['type']} rows {operator['intermediate_rows']:,} {info[:110]}"
    )


def profile_summary(report: Path, statements: int = 4, operators: int = 5) -> str:
    """A profiled tick: the costliest statements with their costliest operators (time, type, rows, detail),
    operator time per type and table scans per table over the whole tick, and the runtime's Python."""
    profiles = sorted(
        (json.loads(path.read_text()) for path in report.glob("*.json")),
        key=lambda p: -p["query"]["total_time"],
    )
    lines = [
        f"    profiled steady tick: {len(profiles)} statements, "
        f"{sum(p['query']['total_time'] for p in profiles):.2f} s in DuckDB"
    ]
    by_type: Counter[str] = Counter()
    scanned: Counter[str] = Counter()
    scans: Counter[str] = Counter()
    for profile in profiles:
        for operator in _operators(profile):
            by_type[operator["type"]] += operator["timing"]
            if operator["type"] == "TABLE_SCAN":
                table = operator["extra_info"].get("Table") or operator["extra_info"].get("Function", "?")
                scanned[table] += operator["intermediate_rows"]
                scans[table] += 1
    for profile in profiles[:statements]:
        query = profile["query"]
        lines.append(
            f"      {query['total_time']:.2f} s {_statement_name(query['sql'])}: {_planning(profile):.2f} s "
            f"planning, peak buffer {profile['system']['peak_buffer_memory'] / GIB:.2f} GiB, "
            f"{len(query['sql']):,} characters of SQL"
        )
        costliest = sorted(_operators(profile), key=lambda o: -o["timing"])[:operators]
        lines += [f"        {_operator_line(operator)}" for operator in costliest]
    lines.append(
        f"      planning (bind, optimize, plan): {sum(map(_planning, profiles)):.2f} s over the tick"
    )
    lines.append(
        "      operator time by type: " + ", ".join(f"{t} {s:.2f} s" for t, s in by_type.most_common(6))
    )
    lines.append(
        "      rows scanned by table: "
        + ", ".join(f"{t} {n:,} ({scans[t]} scans)" for t, n in scanned.most_common(6))
    )
    lines.append(
        "      runtime (Python, cumulative, under cProfile): " + _python_summary(report / "python.prof")
    )
    return "\n".join(lines)


def _planning(profile: dict) -> float:
    return sum(profile[phase]["total_time"] for phase in ("planner", "optimizer", "physical_planner"))


def _python_summary(stats_file: Path, functions: int = 10) -> str:
    """The runtime's public functions (and the compiler's entry) by cumulative time."""
    stats = pstats.Stats(str(stats_file)).stats  # type: ignore[attr-defined]
    ours = sorted(
        (
            (name, row[3])
            for (path, _, name), row in stats.items()
            if ("journey_compiler/runtime/" in path or name == "compile_project") and name[0] not in "_<"
        ),
        key=lambda named: -named[1],
    )
    return ", ".join(f"{name} {seconds:.2f} s" for name, seconds in ours[:functions])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=10_000)
    parser.add_argument("--history", default="1,2,4", help="history sizes, multiples of the week's events")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--catch-up-runs", type=int, help="runs of the (long) catch-up tick; default --runs")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dir", type=Path, default=EXAMPLES, help="the journeys directory")
    parser.add_argument(
        "--workdir", type=Path, default=Path("/tmp/tick_scale"), help="generated worlds (reused)"
    )
    parser.add_argument(
        "--reference-profiles", type=int, default=300, help="0: skip the interpreter's throughput"
    )
    parser.add_argument(
        "--profile", action="store_true", help="also profile one steady tick per history size"
    )
    args = parser.parse_args()
    histories = [float(h) for h in args.history.split(",")]

    print(
        f"engine: {Path(journey_compiler.__file__).parent}; {args.profiles:,} profiles, {args.runs} runs each"
    )
    interpreter = None
    if args.reference_profiles:
        world, ticks, _, seconds = measure_interpreter(
            load_project(args.dir), profiles=args.reference_profiles, days=7, every="3h"
        )
        interpreter = len(world.profiles) * len(ticks) / seconds
        print(f"reference interpreter: {interpreter:,.0f} profile-ticks/s ({len(world.profiles)} profiles)")
    figures: list[Figures] = []
    for history in histories:
        figures.append(measure_world(args, history))
        print(report(figures, interpreter), flush=True)  # the table so far: a stopped run keeps its rows


def report(figures: list[Figures], interpreter: float | None) -> str:
    """The table of bench/README.md: medians (peak RSS: the largest), growth relative to the first size."""
    base = figures[0].steady
    lines = [
        "| history | events seen | in flight | new/15 min | catch-up | steady (CPU) | compile "
        "| dbt overhead (start-up) "
        "| SQL (models + checks) | around dbt | not SQL | floor | steady/floor | growth (RSS) | peak RSS "
        "| × interpreter |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for f in figures:
        s = f.steady
        lines.append(
            f"| {f.history:g}× | {f.events_seen:,} | {f.in_flight:,} | {f.new_events:,.0f} "
            f"| {f.catch_up.end_to_end:.2f} s | {s.end_to_end:.2f} s ({s.cpu:.2f}) | {s.compile:.2f} s "
            f"| {s.dbt_overhead:.2f} s ({s.dbt_start_up:.2f}) "
            f"| {s.sql:.2f} s ({s.models:.2f} + {s.checks:.2f}) "
            f"| {s.around_dbt:.2f} s | {s.end_to_end - s.sql:.2f} s | {f.floor:.3f} s "
            f"| {s.end_to_end / f.floor:.0f}× "
            f"| {s.end_to_end / base.end_to_end:.2f}× ({s.max_rss / base.max_rss:.2f}×) "
            f"| {s.max_rss / GIB:.2f} GiB (catch-up {f.catch_up.max_rss / GIB:.2f}) "
            + (f"| {f.profiles / s.end_to_end / interpreter:.1f}× |" if interpreter else "| - |")
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
