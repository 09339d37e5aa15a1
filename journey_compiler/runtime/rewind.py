"""`journeys rewind --to T`: take back everything the ticks after T wrote, exactly.

Every row a tick writes is stamped with it: the tick log and its watermark, the journey histories and their
open-path snapshots, the staged events (`staged_at`), the rejected-rows log, the published tags, the node
counters, and any control table with a `tick_at` column (found by that column, so one added later is
rewound too); the schedule occurrences and starts carry the time they were expanded up to. So a rewind
deletes what is stamped after T, and rebuilds what is derived: the open-path snapshot of the last tick kept
(from its history, as a migration does), the single-row tick context, the metric marts and the published
copy. The raw tables, the operator decisions and the staged profiles (rebuilt from `raw.profiles` by every
tick) are left alone; nothing stamped at or before T is touched.

Messages are the exception: what a sender did cannot be taken back. Outcomes of messages created before T
stay. A message created after T that a sender already handed to a provider (any outcome but a deferral
without a call, a suppression or an expiry) makes the rewind refuse, naming it, unless `keep_dispatched`:
then its outcomes stay in `message_events` and it is listed in `journeys.rewound_messages`, so a re-tick
that creates the same message id finds it already handled and no sender sends it again.
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
from sqlglot import exp

from journey_compiler.errors import JourneysError
from journey_compiler.runtime.controls import actor
from journey_compiler.runtime.lock import connect, exclusive
from journey_compiler.runtime.metrics import recompute_metrics
from journey_compiler.runtime.migrate import migrate_open_paths
from journey_compiler.runtime.publish import APPENDED, publish_outputs, published_dir
from journey_compiler.runtime.tick import as_naive_utc
from journey_compiler.runtime.workspace import BuiltProject, Workspace
from journey_compiler.sqlgen.ast import col, ts, union_all
from journey_compiler.warehouse.tables import (
    APPLIED_TICKS,
    CONTROL_SCHEMA,
    INTERNAL_SCHEMA,
    LAST_APPLIED_TICK,
    MESSAGE_EVENTS_TABLE,
    MESSAGE_RETRIES_TABLE,
    SEND_QUEUE_VIEW,
    TICK_CONTEXT_TABLE,
    TICK_LOG_TABLE,
    control_tables,
    create_tables,
)

TICK_COLUMN = "tick_at"
STAGING_SCHEMA = "staging"
OTHER_STAMPS = {
    f"{STAGING_SCHEMA}.stg_raw__events": "staged_at",
    f"{CONTROL_SCHEMA}.schedule_occurrences": "occurrence_at",
    f"{CONTROL_SCHEMA}.schedule_starts": "started_at",
}
"""Tick-written tables whose stamp is not called `tick_at`."""
HISTORY_PREFIX = "jrn_"
OPEN_SUFFIX = "__open"
NOT_HANDED_OVER = ("deferred", "suppressed", "expired")
"""Outcomes a sender records without calling a provider (a call is always preceded by `sending`)."""
SHOWN_IDS = 5
OWN_SCHEMAS = (CONTROL_SCHEMA, INTERNAL_SCHEMA, STAGING_SCHEMA)
REWOUND_MESSAGES = f"{CONTROL_SCHEMA}.rewound_messages"

_BASE_TABLES = """
select table_schema, table_name from information_schema.tables
where table_type = 'BASE TABLE' and table_schema in (?, ?, ?)
"""
_STAMPED = """
select table_schema || '.' || table_name from information_schema.columns
where column_name = ? and table_schema in (?, ?, ?)
    and (table_schema, table_name) in (
        select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE'
    )
"""
_REMOVED_TICKS = (
    f"select min(tick_at), max(tick_at), count(distinct tick_at) from {TICK_LOG_TABLE} where tick_at > ?"
)
_RESET_CONTEXT = f"""
insert into {TICK_CONTEXT_TABLE}
select distinct tick_at, watermark,
    (select max(p.tick_at) from {APPLIED_TICKS} p where p.tick_at < t.tick_at)
from {TICK_LOG_TABLE} t where t.tick_at = (select max(tick_at) from {TICK_LOG_TABLE})
"""
_RECORD = f"insert into {CONTROL_SCHEMA}.rewinds values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_KEEP = f"insert into {REWOUND_MESSAGES} select ?, unnest(?::varchar[]), unnest(?::varchar[])"
_METRIC_MARTS = "select 1 from information_schema.tables where table_schema = ? and table_name = ?"


@dataclass(frozen=True)
class Rewind:
    """What a rewind did (or, with no tick after `to`, that there was nothing to do)."""

    to: datetime
    last_kept_tick: datetime | None
    first_removed_tick: datetime | None
    last_removed_tick: datetime | None
    ticks_removed: int
    kept_messages: tuple[str, ...]

    def line(self) -> str:
        if not self.ticks_removed:
            return f"nothing to rewind: no tick after {self.to} (the last tick is {self.last_kept_tick})"
        kept = f"; kept {len(self.kept_messages)} dispatched messages" if self.kept_messages else ""
        return (
            f"rewound to {self.to}: removed {self.ticks_removed} ticks ({self.first_removed_tick} to "
            f"{self.last_removed_tick}); the last tick kept is {self.last_kept_tick or 'none'}{kept}"
        )


def rewind(
    workspace: Workspace,
    built: BuiltProject,
    to: datetime,
    *,
    keep_dispatched: bool = False,
    via: str = "cli",
) -> Rewind:
    """Remove every tick after `to` under the writer lock, in one transaction; then refresh the metric marts
    and the published copy, which are derived from what is left."""
    to = as_naive_utc(to)
    if not workspace.warehouse.exists():
        raise JourneysError(f"no warehouse at {workspace.warehouse}: nothing to rewind")
    with exclusive(workspace.warehouse, f"journeys rewind --to {to}"):
        with connect(workspace.warehouse) as con:
            create_tables(con, control_tables())
            first, last, count = con.execute(_REMOVED_TICKS, [to]).fetchone() or (None, None, 0)
            if not count:
                (kept_tick,) = con.execute(LAST_APPLIED_TICK).fetchone() or (None,)
                return Rewind(to, kept_tick, None, None, 0, ())
            histories = _histories(con)
            handled = _handed_over(con, histories, to)
            if handled and not keep_dispatched:
                raise JourneysError(_refusal(handled, to))
            _unpublish(workspace)
            con.execute("begin")
            done = _remove_after(con, histories, to, handled)
            (kept_tick,) = con.execute(LAST_APPLIED_TICK).fetchone() or (None,)
            who = [actor(), socket.gethostname(), via]
            con.execute(_RECORD, [done, to, kept_tick, first, last, count, len(handled), *who])
            con.execute("commit")
        if _has_metric_marts(workspace):
            recompute_metrics(workspace, built)
        else:
            with connect(workspace.warehouse) as con:
                publish_outputs(con, workspace.warehouse)
    return Rewind(to, kept_tick, first, last, count, tuple(m for m, _, _ in handled))


def _remove_after(
    con: duckdb.DuckDBPyConnection,
    histories: Sequence[str],
    to: datetime,
    handled: list[tuple[str, str, datetime]],
) -> datetime:
    """Delete what the ticks after `to` stamped (in the caller's transaction); returns the rewind's
    recording time, which names its kept messages."""
    recorded_at = datetime.now(UTC).replace(tzinfo=None)
    if handled:
        ids, statuses, _ = zip(*handled, strict=True)
        con.execute(_KEEP, [recorded_at, list(ids), list(statuses)])
    kept = (
        exp.select("message_id")
        .from_(exp.to_table(REWOUND_MESSAGES))
        .where(col("rewound_at").eq(ts(recorded_at)))
    )
    taken_back = exp.and_(
        col("message_id").isin(query=_ids(_created_after(histories, to))),
        exp.not_(col("message_id").isin(query=kept)),
    )
    for table in (MESSAGE_EVENTS_TABLE, MESSAGE_RETRIES_TABLE):
        con.execute(exp.delete(table, where=taken_back.copy()).sql("duckdb"))
    for table, stamp in _stamped_tables(con).items():
        con.execute(exp.delete(table, where=col(stamp) > ts(to)).sql("duckdb"))
    _rebuild_open_paths(con, histories)
    con.execute(exp.delete(TICK_CONTEXT_TABLE).sql("duckdb"))
    con.execute(_RESET_CONTEXT)
    return recorded_at


def _histories(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every journey history in the warehouse, also of journeys no longer in the directory."""
    return sorted(
        name
        for schema, name in con.execute(_BASE_TABLES, OWN_SCHEMAS).fetchall()
        if schema == INTERNAL_SCHEMA and name.startswith(HISTORY_PREFIX) and not name.endswith(OPEN_SUFFIX)
    )


def _stamped_tables(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Table -> the column its tick stamp is in. The open-path snapshots are rebuilt instead, and the tick
    context (one row, the latest tick's) is reset."""
    stamped = {name: TICK_COLUMN for (name,) in con.execute(_STAMPED, [TICK_COLUMN, *OWN_SCHEMAS]).fetchall()}
    present = {f"{schema}.{name}" for schema, name in con.execute(_BASE_TABLES, OWN_SCHEMAS).fetchall()}
    stamped |= {name: column for name, column in OTHER_STAMPS.items() if name in present}
    return {
        name: column
        for name, column in sorted(stamped.items())
        if name != TICK_CONTEXT_TABLE and not name.endswith(OPEN_SUFFIX)
    }


def _created_after(histories: Sequence[str], to: datetime) -> exp.Query:
    """The messages the ticks after `to` created: (message_id, tick_at)."""
    sends: list[exp.Query] = [
        exp.select("message_id", TICK_COLUMN)
        .from_(exp.table_(name, db=INTERNAL_SCHEMA))
        .where(exp.and_(col("record").eq(exp.Literal.string("send")), col(TICK_COLUMN) > ts(to)))
        for name in histories
    ]
    if not sends:
        columns = (("message_id", "varchar"), (TICK_COLUMN, "timestamp"))
        return exp.select(*(exp.cast(exp.null(), kind).as_(name) for name, kind in columns)).where(
            exp.false()
        )
    return union_all(sends)


def _ids(messages: exp.Query) -> exp.Select:
    return exp.select("message_id").from_(messages.subquery("messages"))


def _handed_over(
    con: duckdb.DuckDBPyConnection, histories: Sequence[str], to: datetime
) -> list[tuple[str, str, datetime]]:
    """(message id, latest status as the outbox says it, the tick that created it) of the messages created
    after `to` that a sender handed to a provider."""
    handed = exp.not_(col("status").isin(*(exp.Literal.string(s) for s in NOT_HANDED_OVER)))
    created = _created_after(histories, to)
    ids = (
        exp.select("message_id")
        .from_(exp.to_table(MESSAGE_EVENTS_TABLE))
        .where(col("message_id").isin(query=_ids(created)))
        .group_by("message_id")
        .having(exp.func("bool_or", handed))
    )
    query = (
        exp.select(
            col("message_id", "h"),
            exp.func("coalesce", col("status", "q"), exp.Literal.string("handed over")),
            col(TICK_COLUMN, "c"),
        )
        .from_(ids.subquery("h"))
        .join(created.subquery("c"), using=["message_id"])
        .join(exp.to_table(SEND_QUEUE_VIEW).as_("q"), using=["message_id"], join_type="left")
        .order_by(col("message_id", "h"))
    )
    return [(m, s, t) for m, s, t in con.execute(query.sql("duckdb")).fetchall()]


def _refusal(handled: list[tuple[str, str, datetime]], to: datetime) -> str:
    shown = ", ".join(m for m, _, _ in handled[:SHOWN_IDS])
    more = f" and {len(handled) - SHOWN_IDS} more" if len(handled) > SHOWN_IDS else ""
    count = f"{len(handled)} message{'s' * (len(handled) != 1)}"
    latest = max(t for _, _, t in handled)
    return (
        f"rewind to {to} refused: {count} created after it already went to a provider ({shown}{more}); "
        "rerun with --keep-dispatched to keep them as sent before the rewind (a re-tick never sends them "
        f"again), or rewind to {latest} (the last tick that created one) or later"
    )


def _rebuild_open_paths(con: duckdb.DuckDBPyConnection, histories: Sequence[str]) -> None:
    """The snapshots the kept ticks left were pruned by later ones: derive the last kept tick's again from
    the histories, exactly as a warehouse from before the snapshots is migrated."""
    for name in histories:
        snapshot = exp.table_(f"{name}{OPEN_SUFFIX}", db=INTERNAL_SCHEMA)
        con.execute(exp.Drop(tables=[snapshot], kind="TABLE", exists=True).sql("duckdb"))
    migrate_open_paths(con, tuple(name.removeprefix(HISTORY_PREFIX) for name in histories))


def _unpublish(workspace: Workspace) -> None:
    """Drop the published append-only parts: the next publish writes them again from what is left (a
    reader may meanwhile find a table empty, never a rewound row)."""
    folder = published_dir(workspace.warehouse)
    for table in APPENDED:
        shutil.rmtree(folder / table, ignore_errors=True)


def _has_metric_marts(workspace: Workspace) -> bool:
    with connect(workspace.warehouse, read_only=True) as con:
        return con.execute(_METRIC_MARTS, [CONTROL_SCHEMA, "journey_metrics"]).fetchone() is not None
