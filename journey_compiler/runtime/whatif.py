"""What-if backtests: the same tick engine over a scratch copy of the warehouse, so a journey (or a changed
journeys directory) is tried over historical events for the whole population while the live warehouse is
left byte-identical and nothing is queued for the senders (the copy is thrown away; no sender reads it).

Logical times make a coarse cadence give the same transitions as a fine one, so a backtest may step a day
at a time; a backtest that starts before the warehouse's last tick first rewinds the copy to its start.
The report counts what the backtest's ticks wrote: entries, arrivals and branch shares per node,
messages per channel and day, and suppressions by reason. Frequency caps, `exclusive_with` and blacklists
at dispatch are the outbox's rules: given a `dispatch` (the CLI passes the outbox with a simulated
provider that accepts every message), each tick's due messages are dispatched on the copy at the tick's
time, so cap collisions count as they would live, with sends at the backtest's tick times (a cap's window
is judged at that granularity).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb

from journey_compiler.config.project import Project
from journey_compiler.errors import JourneysError
from journey_compiler.runtime.lock import exclusive
from journey_compiler.runtime.rewind import rewind
from journey_compiler.runtime.tick import run_tick
from journey_compiler.runtime.workspace import Workspace, build_dbt_project
from journey_compiler.warehouse.tables import LAST_APPLIED_TICK

_NODE_COUNTS = """
select journey_id, to_node as node_id, count(*) as arrivals,
       count(*) filter (where reason = 'entered') as entries
from journeys.journey_transitions
where tick_at > ? and to_node is not null
group by all
"""
_BRANCHES = """
select journey_id, from_node as node_id, coalesce(branch, reason) as branch, count(*) as moves
from journeys.journey_transitions
where tick_at > ? and from_node is not null
group by all
"""
_MESSAGES = """
select journey_id, channel, cast(not_before as date) as day, count(*) as messages,
       count(*) filter (where status = 'sent') as sent,
       count(*) filter (where status = 'suppressed') as suppressed
from journeys.send_queue
where tick_at > ?
group by all
"""
# the tick's own reason, else the rule the outbox recorded (its detail reads `rule: why`)
_SUPPRESSIONS = """
select q.journey_id, coalesce(q.suppressed_by, split_part(e.detail, ':', 1), 'unknown') as reason,
       count(*) as messages
from journeys.send_queue as q
left join journeys.message_events as e on e.message_id = q.message_id and e.status = 'suppressed'
where q.tick_at > ? and q.status = 'suppressed'
group by all
"""


@dataclass(frozen=True)
class NodeCount:
    journey_id: str
    node_id: str
    arrivals: int
    entries: int
    branches: dict[str, int]
    """Branch (or the reason a path ended there) -> how many left the node by it."""


@dataclass(frozen=True)
class ChannelDay:
    journey_id: str
    channel: str
    day: date
    messages: int
    sent: int
    """By the simulated dispatch (0 without one)."""
    suppressed: int


@dataclass(frozen=True)
class WhatIfReport:
    label: str
    ticks: int
    nodes: list[NodeCount]
    messages: list[ChannelDay]
    suppressions: dict[tuple[str, str], int]
    """(journey, reason) -> suppressed messages."""


Dispatch = Callable[[Path, Project, datetime], object]
"""Sends what is due on the scratch warehouse at a time (the outbox with a simulated provider)."""


def backtest(
    workspace: Workspace,
    times: list[datetime],
    journeys_dir: Path | None = None,
    on_tick: Callable[[datetime], None] = lambda _: None,
    dispatch: Dispatch | None = None,
) -> WhatIfReport:
    """Tick a scratch copy of the warehouse at `times` with the journeys of `journeys_dir` (default: the
    workspace's), dispatching after each tick if given, and count what those ticks wrote."""
    directory = (journeys_dir or workspace.journeys_dir).resolve()
    with _scratch_copy(workspace) as scratch:
        trial = Workspace.resolve(directory, scratch / workspace.warehouse.name, target=workspace.target)
        built = build_dbt_project(trial)
        since = _last_tick(trial)
        if since is not None and since >= times[0]:
            # the history replays from the state before the first tick of the backtest
            rewind(trial, built, times[0] - timedelta(microseconds=1), keep_dispatched=True)
            since = _last_tick(trial)
        since = since or datetime(1, 1, 1)
        for moment in times:
            run_tick(trial, built, moment)
            if dispatch is not None:
                dispatch(trial.warehouse, built.project, moment)
            on_tick(moment)
        with duckdb.connect(str(trial.warehouse), read_only=True) as con:
            return _report(con, directory.name, len(times), since)


def _last_tick(workspace: Workspace) -> datetime | None:
    with duckdb.connect(str(workspace.warehouse), read_only=True) as con:
        (last,) = con.execute(LAST_APPLIED_TICK).fetchone() or (None,)
    return last


@contextmanager
def _scratch_copy(workspace: Workspace) -> Iterator[Path]:
    """A private copy of the warehouse file (and its write-ahead log), taken while no writer runs."""
    if not workspace.warehouse.is_file():
        raise JourneysError(f"no warehouse at {workspace.warehouse}: a what-if run replays its history")
    with tempfile.TemporaryDirectory(prefix="journeys-what-if-") as scratch:
        root, live = Path(scratch), workspace.warehouse
        with exclusive(live, "journeys tick --what-if (copying the warehouse)"):
            for path in (live, live.with_name(live.name + ".wal")):
                if path.exists():
                    shutil.copy2(path, root / path.name)
        yield root


def _report(con: duckdb.DuckDBPyConnection, label: str, ticks: int, since: datetime) -> WhatIfReport:
    branches: dict[tuple[str, str], dict[str, int]] = {}
    for journey_id, node_id, branch, moves in con.execute(_BRANCHES, [since]).fetchall():
        branches.setdefault((journey_id, node_id), {})[branch] = moves
    arrived = {(j, n): (a, e) for j, n, a, e in con.execute(_NODE_COUNTS, [since]).fetchall()}
    nodes = [
        NodeCount(j, n, *arrived.get((j, n), (0, 0)), branches.get((j, n), {}))
        for j, n in sorted(set(arrived) | set(branches))
    ]
    messages = [ChannelDay(*row) for row in sorted(con.execute(_MESSAGES, [since]).fetchall())]
    suppressions = {(j, r): n for j, r, n in con.execute(_SUPPRESSIONS, [since]).fetchall()}
    return WhatIfReport(label, ticks, nodes, messages, suppressions)
