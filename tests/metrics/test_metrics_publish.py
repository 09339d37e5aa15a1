"""BI access while the pipeline writes: a second process reads the published outputs without pause during
real ticks and a recompute, and never fails a read (nor makes a tick fail)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta

import pytest

from journey_compiler.runtime.metrics import recompute_metrics
from journey_compiler.runtime.publish import published_dir

pytestmark = pytest.mark.slow

T0 = datetime(2026, 3, 2, 6, 0)

# Reads every published table in a loop, through plain Parquet (a fresh in-memory DuckDB each time: a
# current table's file, an append-only table's parts by glob) and through one bi.duckdb connection kept
# open all along, until the stop file appears.
READER = r"""
import json, sys, pathlib, duckdb
folder, stop = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
files = {
    "journey_state": "journey_state.parquet",
    "send_queue": "send_queue.parquet",
    "journey_metrics": "journey_metrics.parquet",
    "journey_transitions": "journey_transitions/*.parquet",
    "journey_node_counters": "journey_node_counters/*.parquet",
    "message_events": "message_events/*.parquet",
}
reads, failures, states = 0, [], set()
held = duckdb.connect(str(folder / "bi.duckdb"), read_only=True)
while not stop.exists():
    for table, name in files.items():
        try:
            path = str(folder / name)
            with duckdb.connect() as con:
                query = "select count(*) from read_parquet(?, union_by_name = true)"
                n = con.execute(query, [path]).fetchone()[0]
            held.execute(f"select count(*) from journeys.{table}").fetchone()
            reads += 1
            if table == "journey_transitions":
                states.add(n)
        except Exception as error:
            failures.append(f"{table}: {error}")
print(json.dumps({"reads": reads, "failures": failures, "states": sorted(states)}))
"""


def test_a_reader_never_fails_while_ticks_write(tmp_path, make_scenario, welcome_yaml):
    sc = make_scenario({"welcome_series": welcome_yaml})
    profiles = [f"p{i:02d}" for i in range(30)]
    sc.profiles(profiles)
    for i, pid in enumerate(profiles):
        sc.event(f"s_{pid}", pid, "signup", T0 + timedelta(hours=i), channel="web")
    sc.tick(T0)  # the first publish
    folder = published_dir(sc.workspace.warehouse)
    stop = tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(folder), str(stop)], stdout=subprocess.PIPE, text=True
    )
    try:
        for step in range(1, 6):
            sc.tick(T0 + timedelta(hours=8 * step))
        recompute_metrics(sc.workspace, sc.built)
    finally:
        stop.touch()
        output, _ = reader.communicate(timeout=60)
    seen = json.loads(output)
    assert seen["failures"] == []
    assert seen["reads"] > 50
    # the reader saw the outputs change under it: it read during the writes, not only before or after
    assert len(seen["states"]) >= 2
    final = sc.sql("select count(*) from journeys.journey_transitions")[0][0]
    assert max(seen["states"]) == final


def test_published_files_appear_atomically(make_scenario, welcome_yaml):
    """No temporary name is left behind, and the manifest names the tick the files are as of."""
    sc = make_scenario({"welcome_series": welcome_yaml})
    sc.profile("a")
    sc.event("s_a", "a", "signup", T0, channel="web")
    sc.tick(T0 + timedelta(hours=1))
    folder = published_dir(sc.workspace.warehouse)
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]
    manifest = json.loads((folder / "_published.json").read_text())
    assert manifest["as_of_tick"] == "2026-03-02T07:00:00"
    assert {"journey_state", "send_queue", "journey_transitions", "message_events"} <= set(manifest["tables"])
