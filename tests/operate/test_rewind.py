"""`journeys rewind --to T`: a rewound warehouse equals a copy taken at T, table for table and row for row,
and ticking on again gives what the first run gave; a message a sender already handled stops the rewind,
or (`--keep-dispatched`) is kept so that the re-tick never sends it twice (a real SMTP sink on 127.0.0.1).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from channel_senders.loopback import LocalSmtpServer
from journey_compiler.runtime.metrics import recompute_metrics
from journey_compiler.runtime.rewind import rewind
from journey_compiler.runtime.tick import STALE_AFTER, events_behind

pytestmark = pytest.mark.slow

JOURNEYS = str(Path(sys.executable).parent / "journeys")
EXAMPLE_JOURNEYS = Path(__file__).resolve().parents[2] / "examples" / "shop" / "journeys"
H, D = timedelta(hours=1), timedelta(days=1)
T0 = datetime(2026, 3, 3, 9, 0)  # a Tuesday: dormant_recall's Friday occurrence falls after T
T = T0 + D + 12 * H
AFTER_T = [T0 + 2 * D + 12 * H, T0 + 3 * D + 12 * H, T0 + 4 * D]
SCHEMAS = ("journeys", "journeys_internal", "staging")
REWIND_RECORDS = {"journeys.rewinds", "journeys.rewound_messages"}
"""The rewind's own record: what it adds on purpose."""
WALL_CLOCK = {"journeys.tick_log": {"started_at", "finished_at"}}
"""Columns that say when a tick really ran: a re-run tick differs there and only there."""
LAST_SNAPSHOT = "tick_at = (select max(tick_at) from {db}.journeys.tick_log where finished_at is not null)"


def _journey(name: str) -> str:
    return (EXAMPLE_JOURNEYS / f"{name}.yaml").read_text()


def _tables(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, list[str]]:
    rows = con.execute(
        "select c.table_schema || '.' || c.table_name, c.column_name from information_schema.columns c "
        "join information_schema.tables t using (table_catalog, table_schema, table_name) "
        "where t.table_type = 'BASE TABLE' and c.table_catalog = ? and c.table_schema in (?, ?, ?) "
        "order by c.column_name",
        [catalog, *SCHEMAS],
    ).fetchall()
    tables: dict[str, list[str]] = {}
    for table, column in rows:
        tables.setdefault(table, []).append(column)
    return tables


def differences(left: Path, right: Path, *, ignore: dict[str, set[str]] | None = None) -> dict[str, object]:
    """Every table the ticks write (our schemas, base tables) compared row for row, duplicates counted;
    open-path snapshots as of the last tick (older ones are pruned by the ticks). Empty when equal."""
    ignore = ignore or {}
    with duckdb.connect() as con:
        con.execute(f"attach '{left}' as l (read_only)")
        con.execute(f"attach '{right}' as r (read_only)")
        tables = {name: cols for name, cols in _tables(con, "l").items() if name not in REWIND_RECORDS}
        others = {name: cols for name, cols in _tables(con, "r").items() if name not in REWIND_RECORDS}
        found: dict[str, object] = {}
        if tables.keys() != others.keys():
            found["tables"] = sorted(tables.keys() ^ others.keys())
        for name in sorted(tables.keys() & others.keys()):
            columns = ", ".join(f'"{c}"' for c in tables[name] if c not in ignore.get(name, set()))
            where = LAST_SNAPSHOT if name.endswith("__open") else "true"

            def rows(db: str, columns: str = columns, where: str = where, name: str = name) -> str:
                return f"select {columns} from {db}.{name} where {where.format(db=db)}"

            only_left = con.execute(f"{rows('l')} except all {rows('r')}").fetchall()
            only_right = con.execute(f"{rows('r')} except all {rows('l')}").fetchall()
            if only_left or only_right:
                found[name] = {"only before": only_left[:3], "only after": only_right[:3]}
        return found


def _world(make_scenario):
    sc = make_scenario({n: _journey(n) for n in ("welcome_series", "dormant_recall")})
    for pid in ("p0", "p1", "p2", "p3", "p4"):
        sc.profile(pid, city="Beijing")
    for pid in ("p0", "p1", "p2"):
        sc.event(f"{pid}_signup", pid, "signup", T0 - H, channel="web")
    sc.event("bad_before", "nobody", "signup", T0 + D)  # rejected before T: a profile raw.profiles lacks
    # after T: an activation (tag), a new entry, a late event, a rejected row, a Friday schedule occurrence
    sc.event("p0_activate", "p0", "activate", T + 4 * H)
    sc.event("p3_signup", "p3", "signup", T + 6 * H, channel="app")
    sc.event("p4_signup", "p4", "signup", T - 2 * H, loaded_at=T + 8 * H, channel="web")
    sc.event("bad_after", "nobody", "signup", T + 9 * H)
    return sc


def test_rewind_equals_a_copy_taken_at_t_and_ticking_on_again_gives_the_first_run(make_scenario, tmp_path):
    sc = _world(make_scenario)
    for at in (T0, T0 + D, T):
        sc.tick(at)
    recompute_metrics(sc.workspace, sc.built)
    at_t = tmp_path / "at_t.duckdb"
    shutil.copy(sc.workspace.warehouse, at_t)
    for at in AFTER_T:
        sc.tick(at)
    at_t2 = tmp_path / "at_t2.duckdb"
    shutil.copy(sc.workspace.warehouse, at_t2)
    # the ticks after T wrote to every kind of table, or the comparison below would prove little
    written_after = {
        "journeys.tick_log": "tick_at",
        "journeys.published_tags": "tick_at",
        "journeys.rejected_rows": "tick_at",
        "journeys.journey_node_counters": "tick_at",
        "journeys.schedule_occurrences": "occurrence_at",
        "staging.stg_raw__events": "staged_at",
        "journeys_internal.jrn_welcome_series": "tick_at",
    }
    for table, stamp in written_after.items():
        assert sc.sql(f"select count(*) from {table} where {stamp} > ?", [T])[0][0] > 0, table
    assert sc.sql("select count(*) from journeys.send_queue where tick_at > ?", [T])[0][0] > 0
    assert set(differences(at_t, at_t2)) >= {*written_after, "journeys_internal.jrn_welcome_series__open"}

    done = rewind(sc.workspace, sc.built, T)

    assert (done.ticks_removed, done.last_kept_tick, done.kept_messages) == (3, T, ())
    assert differences(at_t, sc.workspace.warehouse) == {}
    (recorded,) = sc.sql("select to_at, last_kept_tick, ticks_removed, actor from journeys.rewinds")
    assert recorded[:3] == (T, T, 3) and recorded[3]
    published = sc.workspace.warehouse.with_name(sc.workspace.warehouse.name + ".published")
    parts = str(published / "journey_transitions" / "*.parquet")
    with duckdb.connect() as con:
        (newest, count) = con.execute(
            f"select max(tick_at), count(*) from read_parquet('{parts}')"
        ).fetchone()
    assert newest <= T
    assert count == sc.sql("select count(*) from journeys.journey_transitions")[0][0]

    for at in AFTER_T:
        sc.tick(at)

    assert differences(at_t2, sc.workspace.warehouse, ignore=WALL_CLOCK) == {}


def test_rewind_to_the_last_tick_or_later_changes_nothing(make_scenario, tmp_path):
    sc = _world(make_scenario)
    sc.tick(T0)
    before = tmp_path / "before.duckdb"
    shutil.copy(sc.workspace.warehouse, before)

    done = rewind(sc.workspace, sc.built, T0)

    assert done.ticks_removed == 0
    assert done.line() == f"nothing to rewind: no tick after {T0} (the last tick is {T0})"
    assert differences(before, sc.workspace.warehouse) == {}


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([JOURNEYS, *args], capture_output=True, text=True, env={**os.environ, **env})


def test_a_dispatched_message_stops_the_rewind_or_is_kept_and_never_sent_twice(make_scenario):
    sc = make_scenario({"welcome_series": _journey("welcome_series")})
    for pid in ("early", "late"):
        sc.profile(pid)
    sc.event("early_signup", "early", "signup", T0)
    sc.event("late_signup", "late", "signup", T0 + 2 * H)
    rewind_to = T0 + H
    where = ["--dir", str(sc.workspace.journeys_dir), "--warehouse", str(sc.workspace.warehouse)]
    with LocalSmtpServer() as smtp:
        env = {"SMTP_PORT": str(smtp.port)}
        sc.tick(T0)
        sc.tick(T0 + 3 * H)
        sent = _cli("send", *where, "--at", (T0 + 3 * H).isoformat(), env=env)
        assert sent.returncode == 0, sent.stderr
        assert sorted(e.rcpt_tos[0] for e in smtp.received) == ["early@example.test", "late@example.test"]
    (late_message,) = [s["message_id"] for s in sc.sends("late")]

    refused = _cli("rewind", *where, "--to", rewind_to.isoformat(), env=env)

    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        f"error: rewind to {rewind_to} refused: 1 message created after it already went to a provider "
        f"({late_message}); rerun with --keep-dispatched to keep them as sent before the rewind (a re-tick "
        f"never sends them again), or rewind to {T0 + 3 * H} (the last tick that created one) or later"
    ]
    assert sc.sql("select max(tick_at) from journeys.tick_log")[0][0] == T0 + 3 * H

    kept = _cli("rewind", *where, "--to", rewind_to.isoformat(), "--keep-dispatched", env=env)

    assert kept.returncode == 0, kept.stderr
    assert "removed 1 ticks" in kept.stdout and "kept 1 dispatched messages" in kept.stdout
    assert sc.sql("select message_id, status from journeys.rewound_messages") == [(late_message, "sent")]
    assert [s["profile_id"] for s in sc.sends()] == ["early"]

    with LocalSmtpServer() as smtp:
        env = {"SMTP_PORT": str(smtp.port)}
        sc.tick(T0 + 3 * H)
        again = _cli("send", *where, "--at", (T0 + 4 * H).isoformat(), env=env)
        assert again.returncode == 0, again.stderr
        assert smtp.received == []
    assert [(s["message_id"], s["status"]) for s in sc.sends("late")] == [(late_message, "sent")]


def test_tick_without_at_on_events_far_behind_now_asks_for_the_time(make_scenario):
    sc = make_scenario({"welcome_series": _journey("welcome_series")})
    loaded = (datetime.now(UTC) - 3 * D).replace(tzinfo=None, microsecond=0)
    sc.profile("p0")
    sc.event("p0_signup", "p0", "signup", loaded)
    where = ["--dir", str(sc.workspace.journeys_dir), "--warehouse", str(sc.workspace.warehouse)]

    refused = _cli("tick", *where, env={})

    assert refused.returncode == 1
    (line,) = refused.stderr.strip().splitlines()
    assert line.startswith(
        f"error: the newest event in the warehouse was loaded at {loaded}, 3 days before now"
    )
    assert line.endswith(
        f"give the time to tick at (--at {loaded:%Y-%m-%dT%H:%M:%S}), or --now to tick at the wall clock "
        "anyway"
    )
    assert sc.sql("select count(*) from journeys.tick_log") == [(0,)]
    assert events_behind(sc.workspace, sc.built, loaded + STALE_AFTER) is None
    assert events_behind(sc.workspace, sc.built, loaded + STALE_AFTER + H) == (loaded, STALE_AFTER + H)

    forced = _cli("tick", *where, "--now", env={})

    assert forced.returncode == 0, forced.stderr
    (ticked,) = sc.sql("select tick_at from journeys.tick_log where finished_at is not null")
    assert ticked[0] > loaded + 3 * D - H
