"""One tick in a process of its own, measured: `tick_scale.py` starts one per measured tick.

`python bench/tick_probe.py --dir DIR --warehouse FILE --at T [--profile-dir P]` prints one JSON line:
the seconds spent importing, compiling (`build_dbt_project`) and ticking (`run_tick`, the public runtime
the CLI and the demo use), wall and CPU (every thread of the process, DuckDB's included), dbt's own elapsed
time and the per-node execution times from `target/run_results.json`, the wall time of each dbt invocation
(start-up and parse included), and the process's peak RSS.

`--profile-dir` also writes DuckDB's JSON profile of every statement dbt runs (`0001.json`, ...; the SQL
is inside) and the Python profile of the compile and the tick (`python.prof`, cProfile). It hooks
dbt-duckdb's cursor, not our pipeline, and costs time: a profiled tick is never timed.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import resource
import time
from datetime import datetime
from pathlib import Path

_began = time.perf_counter()
os.environ["DBT_WRITE_JSON"] = "true"  # the per-node times come from run_results.json

from journey_compiler.runtime.tick import run_tick  # noqa: E402
from journey_compiler.runtime.workspace import Workspace, build_dbt_project  # noqa: E402

_imported = time.perf_counter()


def profile_statements(into: Path) -> None:
    """Make every statement dbt-duckdb executes leave its DuckDB JSON profile in `into`, numbered in order."""
    from dbt.adapters.duckdb.environments.local import DuckDBCursorWrapper
    from sqlglot import exp

    into.mkdir(parents=True, exist_ok=True)
    execute = DuckDBCursorWrapper.execute
    numbered = iter(range(1, 1_000_000))

    def profiled(self: DuckDBCursorWrapper, sql: str, bindings: object = None) -> object:
        output = exp.Literal.string(str(into / f"{next(numbered):04d}.json")).sql("duckdb")
        self._cursor.execute("PRAGMA enable_profiling = 'json'")
        self._cursor.execute(f"SET profiling_output = {output}")
        return execute(self, sql, bindings)

    DuckDBCursorWrapper.execute = profiled  # type: ignore[method-assign]


def time_dbt_invocations() -> list[float] | None:
    """Wall seconds of each dbt invocation of the tick, timed around the runtime's `run_dbt` (None when
    the tick module calls dbt some other way: then only dbt's own elapsed time is known)."""
    from journey_compiler.runtime import tick

    run_dbt = getattr(tick, "run_dbt", None)
    if run_dbt is None:
        return None
    calls: list[float] = []

    def timed(*args: object, **kwargs: object) -> object:
        began = time.perf_counter()
        try:
            return run_dbt(*args, **kwargs)
        finally:
            calls.append(time.perf_counter() - began)

    tick.run_dbt = timed
    return calls


def node_seconds(dbt_dir: Path) -> dict[str, float]:
    """Execution time of every node of the last dbt invocation, by unique id (model.*, test.*)."""
    results = json.loads((dbt_dir / "target" / "run_results.json").read_text())
    return {r["unique_id"]: r["execution_time"] for r in results["results"]} | {
        "elapsed": results["elapsed_time"]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--at", type=datetime.fromisoformat, required=True)
    parser.add_argument("--profile-dir", type=Path)
    args = parser.parse_args()
    python = cProfile.Profile()
    if args.profile_dir:
        profile_statements(args.profile_dir)
        python.enable()

    dbt_calls = time_dbt_invocations()
    workspace = Workspace.resolve(args.dir, args.warehouse)
    began, began_cpu = time.perf_counter(), time.process_time()
    built = build_dbt_project(workspace)
    compiled, compiled_cpu = time.perf_counter(), time.process_time()
    plan = run_tick(workspace, built, args.at)
    ticked, ticked_cpu = time.perf_counter(), time.process_time()
    if args.profile_dir:
        python.disable()
        python.dump_stats(args.profile_dir / "python.prof")
    nodes = node_seconds(built.dbt_dir) if plan.runs else {"elapsed": 0.0}
    print(
        json.dumps(
            {
                "imports": _imported - _began,
                "compile": compiled - began,
                "tick": ticked - compiled,
                "compile_cpu": compiled_cpu - began_cpu,
                "tick_cpu": ticked_cpu - compiled_cpu,
                "dbt_elapsed": nodes.pop("elapsed"),
                "dbt_invocations": dbt_calls,
                "nodes": nodes,
                "deploy": plan.deploy,
                "runs": plan.runs,
                "max_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
