"""Where accepted provider callbacks go: straight into `message_events` when the warehouse is free, else
into a spool folder beside it (`<warehouse>.callbacks/`), written to the warehouse as soon as it is free.

A tick holds the warehouse for seconds to minutes, and providers retry impatiently or give up; so a callback
is never refused because the file is busy. Each spooled request is one JSON file, written to a temporary
name, fsynced and renamed into place before the provider hears `202 Accepted`: a crash loses nothing, and
a file is deleted only after its rows are committed (a repeat is harmless: writes are idempotent, the same
message, status and time is one row). Unknown message ids are refused with 404 when the warehouse can be
asked at once; a spooled callback naming an unknown message is moved to `rejected/` with the reason.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from channel_senders.callbacks import Callback
from journey_compiler.runtime.lock import WarehouseBusy, connect, exclusive
from journey_compiler.warehouse.tables import MESSAGE_EVENTS_TABLE, SEND_QUEUE_VIEW

_INSERT = f"""
insert into {MESSAGE_EVENTS_TABLE} (message_id, status, status_at, detail)
select * from (
    select unnest($message_ids) as message_id, unnest($statuses) as status,
           unnest($times) as status_at, unnest($details) as detail
) as c
where not exists (
    select 1 from {MESSAGE_EVENTS_TABLE} as e
    where e.message_id = c.message_id and e.status = c.status and e.status_at = c.status_at
)
"""
_KNOWN = f"select message_id from {SEND_QUEUE_VIEW} where message_id in (select unnest($ids))"


def spool_dir(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".callbacks")


def _quiet(_: str) -> None:
    """The receiver never waits for the warehouse: a busy file means spool, not a message on stderr."""


class CallbackStore:
    def __init__(self, warehouse: Path) -> None:
        self.warehouse = Path(warehouse)
        self.spool = spool_dir(self.warehouse)
        self._one_writer = threading.Lock()
        """The writer lock is per process; the receiver's threads take turns behind this one."""

    def accept(self, callbacks: list[Callback]) -> tuple[int, str]:
        """(HTTP status, reason): 200 recorded, 202 spooled (warehouse busy), 404 unknown message ids."""
        with self._one_writer:
            try:
                with exclusive(self.warehouse, "journeys receive", timeout=0, notify=_quiet):
                    con = connect(self.warehouse, timeout=0, notify=_quiet)
                    try:
                        unknown = _unknown(con, callbacks)
                        if unknown:
                            return 404, f"unknown message ids: {', '.join(sorted(unknown)[:5])}"
                        written = _insert(con, callbacks)
                    finally:
                        con.close()
            except WarehouseBusy:
                self._spool(callbacks)
                return 202, "accepted: the warehouse is busy, recorded as soon as it is free"
        return 200, f"recorded {written}, {len(callbacks) - written} already known"

    def flush(self) -> int:
        """Write the spooled callbacks if the warehouse is free; how many rows were written."""
        files = sorted(self.spool.glob("*.json")) if self.spool.exists() else []
        if not files:
            return 0
        with self._one_writer:
            try:
                with exclusive(self.warehouse, "journeys receive (spool)", timeout=0, notify=_quiet):
                    con = connect(self.warehouse, timeout=0, notify=_quiet)
                    try:
                        written = sum(self._flush_file(con, path) for path in files)
                    finally:
                        con.close()
            except WarehouseBusy:
                return 0
        return written

    def _flush_file(self, con: duckdb.DuckDBPyConnection, path: Path) -> int:
        callbacks = [
            Callback(c["message_id"], c["status"], datetime.fromisoformat(c["at"]), c["detail"])
            for c in json.loads(path.read_text())
        ]
        unknown = _unknown(con, callbacks)
        known = [c for c in callbacks if c.message_id not in unknown]
        written = _insert(con, known)
        if unknown:
            rejected = self.spool / "rejected"
            rejected.mkdir(exist_ok=True)
            reason = {"reason": "unknown message ids", "ids": sorted(unknown), "callbacks": _dump(callbacks)}
            (rejected / path.name).write_text(json.dumps(reason, indent=1))
        path.unlink()
        return written

    def _spool(self, callbacks: list[Callback]) -> None:
        self.spool.mkdir(parents=True, exist_ok=True)
        name = f"{datetime.now():%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.json"
        temporary = self.spool / f".{name}.tmp"
        with open(temporary, "w") as handle:
            handle.write(json.dumps(_dump(callbacks)))
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(temporary, self.spool / name)
        directory = os.open(self.spool, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


@dataclass(frozen=True)
class SpoolHealth:
    waiting: int = 0
    """Accepted callbacks not written to the warehouse yet."""
    oldest_waiting_s: float | None = None
    rejected: int = 0
    """Spooled callbacks that named no known message, kept in `rejected/` with the reason."""


def spool_health(warehouse: Path, now: float) -> SpoolHealth:
    """What the spool holds (`now`: seconds since the epoch): the receiver writes it whenever the warehouse
    is free, and every dispatch writes it first too, so a callback waits at most one tick-and-send cycle."""
    spool = spool_dir(Path(warehouse))
    if not spool.exists():
        return SpoolHealth()
    ages = [now - path.stat().st_mtime for path in spool.glob("*.json")]
    rejected = sum(1 for _ in (spool / "rejected").glob("*.json"))
    return SpoolHealth(len(ages), max(ages) if ages else None, rejected)


def _dump(callbacks: list[Callback]) -> list[dict[str, str]]:
    return [{**asdict(c), "at": c.at.isoformat()} for c in callbacks]


def _unknown(con: duckdb.DuckDBPyConnection, callbacks: list[Callback]) -> set[str]:
    ids = sorted({c.message_id for c in callbacks})
    try:
        known = {row[0] for row in con.execute(_KNOWN, {"ids": ids}).fetchall()}
    except duckdb.CatalogException:  # no outbox yet: nothing was ever sent
        known = set()
    return set(ids) - known


def _insert(con: duckdb.DuckDBPyConnection, callbacks: list[Callback]) -> int:
    unique = list({(c.message_id, c.status, c.at): c for c in callbacks}.values())
    if not unique:
        return 0
    row = con.execute(
        _INSERT,
        {
            "message_ids": [c.message_id for c in unique],
            "statuses": [c.status for c in unique],
            "times": [c.at for c in unique],
            "details": [c.detail for c in unique],
        },
    ).fetchone()
    return int(row[0]) if row else 0
