"""One writer at a time, said clearly: `journeys tick` started beside another writer, or beside a reader that
keeps the DuckDB file open, waits a bounded time with one line, then either runs or exits 1 with one line
naming the holder, never a traceback, and the state stays what one tick makes it."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

JOURNEYS = Path(sys.executable).parent / "journeys"
T0 = datetime(2026, 3, 2, 9, 0)
HOLD = """
import sys, time
from pathlib import Path
from journey_compiler.runtime.lock import exclusive
with exclusive(Path(sys.argv[1]), "journeys tick at 2026-03-02 10:00:00"):
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
"""
READ = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print("reading", flush=True)
time.sleep(float(sys.argv[2]))
"""


@pytest.fixture
def sc(make_scenario, welcome_yaml):
    sc = make_scenario({"welcome_series": welcome_yaml})
    sc.profile("ann")
    sc.event("s1", "ann", "signup", T0)
    return sc


def location(sc) -> list[str]:
    return ["--dir", str(sc.workspace.journeys_dir), "--warehouse", str(sc.workspace.warehouse)]


def journeys(sc, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "JOURNEYS_LOCK_TIMEOUT": str(timeout)}
    return subprocess.run(
        [str(JOURNEYS), *args, *location(sc)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def background(script: str, sc, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(sc.workspace.warehouse), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() in ("holding", "reading")
    return proc


def test_a_tick_beside_another_writer_gives_up_with_one_line_naming_it(sc):
    holder = background(HOLD, sc, 600)  # killed below; longer than any CLI start-up
    try:
        result = journeys(sc, "tick", "--at", "2026-03-02T10:00:00", timeout=1)
    finally:
        holder.kill()
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert "is busy: held by journeys tick at 2026-03-02 10:00:00 (pid" in error
    assert "JOURNEYS_LOCK_TIMEOUT" in error
    assert any(line.startswith("waiting up to 1 s") for line in result.stderr.splitlines())
    assert sc.sql("select count(*) from journeys.tick_log") == [(0,)]


def test_a_tick_waits_for_a_reader_holding_the_file_then_runs(sc):
    sc.tick(T0)  # deploys the models, so the reader sees the outputs
    reader = background(READ, sc, 600)
    tick = subprocess.Popen(
        [str(JOURNEYS), "tick", "--at", "2026-03-02T10:00:00", *location(sc)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "JOURNEYS_LOCK_TIMEOUT": "300"},
    )
    assert tick.stderr is not None
    waiting = tick.stderr.readline()
    reader.kill()  # the reader goes away only once the tick says it waits for it
    out, err = tick.communicate(timeout=300)
    assert tick.returncode == 0, err
    assert waiting.startswith("waiting up to 300 s") and "not a journeys command" in waiting
    assert "Traceback" not in waiting + out + err
    assert [t["reason"] for t in sc.transitions("ann")][:1] == ["entered"]


def test_two_ticks_started_together_both_succeed_one_after_the_other(sc):
    args = ("tick", "--at", "2026-03-02T10:00:00")
    env = {**os.environ, "JOURNEYS_LOCK_TIMEOUT": "120"}
    procs = [
        subprocess.Popen(
            [str(JOURNEYS), *args, *location(sc)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=300) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    assert all("Traceback" not in out + err for out, err in outputs)
    states = sorted(out.strip().split(": ")[-1] for out, _ in outputs)
    assert states == ["already applied, nothing changed", "applied"]
    assert len(sc.transitions("ann")) == len({tuple(t.values()) for t in sc.transitions("ann")})
