"""`journeys tick --what-if`: a backtest over history on a scratch copy. The live warehouse stays
byte-identical and nothing is queued; replaying the live directory over the ticks the warehouse already ran
reproduces their counts; a second `--dir` (the welcome series waiting two days, without its event_check)
is reported beside the first."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from channel_senders.outbox import DispatchOptions, dispatch_project
from journey_compiler.runtime.whatif import backtest

pytestmark = pytest.mark.slow

JOURNEYS = str(Path(sys.executable).parent / "journeys")
H, D = timedelta(hours=1), timedelta(days=1)
T0 = datetime(2026, 3, 2, 9, 0)
TICKS = [T0 + k * D for k in (1, 3, 5)]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def sc(tmp_path_factory, scenario_builder, welcome_yaml):
    scenario = scenario_builder(tmp_path_factory.mktemp("whatif"), {"welcome_series": welcome_yaml})
    pids = [f"p{i}" for i in range(12)]
    scenario.profiles(pids)
    for i, pid in enumerate(pids):
        scenario.event(f"s{i}", pid, "signup", T0 + i * 5 * H)
        if i % 3 == 0:
            scenario.event(f"a{i}", pid, "activate", T0 + i * 5 * H + 30 * H)
    for at in TICKS:
        scenario.tick(at)
    return scenario


def simulated_dispatch(warehouse, project, moment):
    dispatch_project(warehouse, project, moment, options=DispatchOptions(simulate=True))


@pytest.fixture(scope="module")
def replayed(sc):
    """The live directory backtested over the ticks the warehouse ran, dispatching as the CLI does."""
    before = _digest(sc.workspace.warehouse)
    report = backtest(sc.workspace, TICKS, dispatch=simulated_dispatch)
    assert _digest(sc.workspace.warehouse) == before, "the live warehouse is byte-identical afterwards"
    return report


def test_replaying_the_live_directory_reproduces_what_the_ticks_wrote_and_changes_nothing(sc, replayed):
    report = replayed
    arrivals = {
        (j, n): c
        for j, n, c in sc.sql(
            "select journey_id, to_node, count(*) from journeys.journey_transitions "
            "where to_node is not null group by all"
        )
    }
    assert {(n.journey_id, n.node_id): n.arrivals for n in report.nodes if n.arrivals} == arrivals
    (entries,) = [n.entries for n in report.nodes if n.node_id == "welcome"]
    assert entries == 12
    (activated,) = [n for n in report.nodes if n.node_id == "activated"]
    assert activated.arrivals == 12 and activated.branches["then"] == 4, "one in three activates"
    assert sum(activated.branches.values()) < 12, "the latest arrivals are still inside the window"
    sent = sc.sql("select channel, count(*) from journeys.send_queue group by all")
    assert {c: n for c, n in sent} == {
        c: sum(m.messages for m in report.messages if m.channel == c)
        for c in {m.channel for m in report.messages}
    }


def test_two_directories_side_by_side_through_the_cli(sc, tmp_path, welcome_yaml):
    changed = tmp_path / "changed"
    shutil.copytree(sc.workspace.journeys_dir, changed)
    edited = welcome_yaml.replace(
        "wait: {for: 1d}\n    next: activated", "wait: {for: 2d}\n    next: nudge_split"
    )
    (changed / "journeys" / "welcome_series.yaml").write_text(edited)
    before = _digest(sc.workspace.warehouse)
    command = [
        JOURNEYS, "tick", "--what-if", "--at", TICKS[0].isoformat(), "--until", TICKS[-1].isoformat(),
        "--every", "2d", "--dir", str(sc.workspace.journeys_dir), "--dir", str(changed),
        "--warehouse", str(sc.workspace.warehouse),
    ]  # fmt: skip
    done = subprocess.run(
        command, capture_output=True, text=True, check=False, env={**os.environ, "COLUMNS": "250"}
    )
    assert done.returncode == 0, done.stderr
    assert _digest(sc.workspace.warehouse) == before
    assert "(journeys_dir)" in done.stdout and "(changed)" in done.stdout, "a column set per directory"
    (row,) = [line for line in done.stdout.splitlines() if "│ nudge_split" in line]
    cells = [c.strip() for c in row.split("│")]
    assert cells[4] != cells[7], "the changed directory sends more profiles to the nudge"


def test_a_tighter_cap_shows_as_collisions_of_the_simulated_dispatch(sc, replayed, tmp_path):
    """No SMTP server listens here: a sent email means the simulated provider took it. With one email a
    week, every recipient's second email collides with the cap."""
    capped = tmp_path / "capped"
    shutil.copytree(sc.workspace.journeys_dir, capped)
    channels = capped / "channels.yaml"
    channels.write_text(channels.read_text().replace("email: {max: 5, per: 7d}", "email: {max: 1, per: 7d}"))
    before = _digest(sc.workspace.warehouse)
    live = replayed
    tight = backtest(sc.workspace, TICKS, capped, dispatch=simulated_dispatch)
    assert _digest(sc.workspace.warehouse) == before
    assert ("welcome_series", "frequency cap") not in live.suppressions

    def emails(report):
        rows = [m for m in report.messages if m.channel == "email"]
        return sum(m.messages for m in rows), sum(m.sent for m in rows), sum(m.suppressed for m in rows)

    created, sent, suppressed = emails(live)
    assert created == emails(tight)[0] and sent > 0 and suppressed == 0
    ((recipients,),) = sc.sql(
        "select count(distinct recipient_id) from journeys.send_queue where channel = 'email'"
    )
    assert emails(tight)[1] == recipients, "one email per recipient went out"
    collisions = tight.suppressions[("welcome_series", "frequency cap")]
    assert collisions == emails(tight)[2] == created - recipients > 0


def test_what_if_needs_a_start(sc):
    done = subprocess.run(
        [
            JOURNEYS,
            "tick",
            "--what-if",
            "--dir",
            str(sc.workspace.journeys_dir),
            "--warehouse",
            str(sc.workspace.warehouse),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1 and "give --at T" in done.stderr
