"""One writer at a time per warehouse, said clearly.

DuckDB lets one process write a file and nobody else open it meanwhile, and says so with an `IOException`
that names neither the command holding it nor what to do. Every writer of ours (a tick, a dispatch, a control
command, the status receiver, Dagster runs) therefore takes an OS lock on a file beside the warehouse first
(`<warehouse>.lock`, holding who took it and when), waits for it a bounded time with one line saying so, and
then gives up with one line that names the holder. Processes that are not ours (a BI tool with the file open)
are waited for the same way by `connect`.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import duckdb

from journey_compiler.errors import JourneysError
from journey_compiler.warehouse.connection import Warehouse
from journey_compiler.warehouse.dialect import DUCKDB, SPARK
from journey_compiler.warehouse.duckdb_warehouse import DuckDBWarehouse

TIMEOUT_ENV = "JOURNEYS_LOCK_TIMEOUT"
DEFAULT_TIMEOUT = 60.0
"""Seconds a writer waits for the warehouse before giving up (env JOURNEYS_LOCK_TIMEOUT overrides)."""
_POLL = 0.2
_DUCKDB_LOCK = re.compile(r"Could not set lock on file|Conflicting lock is held", re.IGNORECASE)
_DUCKDB_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>\S+) \(PID (?P<pid>\d+)\)")

Notify = Callable[[str], None]
T = TypeVar("T")

_held: dict[Path, int] = {}
"""Locks this process holds, with their depth: a tick that dispatches takes the lock it already has."""


class WarehouseBusy(JourneysError):
    """Another writer held the warehouse for longer than this one may wait."""


def lock_timeout(timeout: float | None = None) -> float:
    if timeout is not None:
        return timeout
    text = os.environ.get(TIMEOUT_ENV)
    if not text:
        return DEFAULT_TIMEOUT
    try:
        return max(0.0, float(text))
    except ValueError:
        raise JourneysError(f"{TIMEOUT_ENV}={text!r}: give the seconds to wait, e.g. 60") from None


def lock_file(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".lock")


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "another process"
    return f"{info.get('purpose', 'a writer')} (pid {info.get('pid', '?')}, since {info.get('since', '?')})"


def _give_up(warehouse: Path, holder: str, waited: float) -> WarehouseBusy:
    return WarehouseBusy(
        f"{warehouse} is busy: held by {holder}; waited {waited:.1f} s. Retry when it has finished, "
        f"or wait longer with {TIMEOUT_ENV}=<seconds>"
    )


@contextmanager
def exclusive(
    warehouse: Path, purpose: str, *, timeout: float | None = None, notify: Notify = _stderr
) -> Iterator[None]:
    """Hold the warehouse's writer lock for the block; wait up to `timeout` seconds for another writer.

    Re-entrant within one process. The lock dies with its process (kill -9 included), so a crashed writer
    never leaves the warehouse locked."""
    path = lock_file(Path(warehouse).resolve())
    if _held.get(path):
        _held[path] += 1
        try:
            yield
        finally:
            _held[path] -= 1
        return
    wait = lock_timeout(timeout)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(fd, path, warehouse, wait, notify)
        os.ftruncate(fd, 0)
        since = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        os.write(fd, json.dumps({"purpose": purpose, "pid": os.getpid(), "since": since}).encode())
        _held[path] = 1
        try:
            yield
        finally:
            del _held[path]
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _acquire(fd: int, path: Path, warehouse: Path, wait: float, notify: Notify) -> None:
    def attempt() -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _Busy(_holder(path)) from None

    _wait_while_busy(attempt, warehouse, wait, notify)


class _Busy(Exception):
    """One attempt found the warehouse held (by `holder`)."""

    def __init__(self, holder: str) -> None:
        super().__init__(holder)
        self.holder = holder


def _wait_while_busy(attempt: Callable[[], T], warehouse: Path, wait: float, notify: Notify) -> T:
    """The one wait loop of every writer: retry `attempt` while it raises `_Busy`, saying so once, and
    give up with `WarehouseBusy` after `wait` seconds."""
    start = time.monotonic()
    told = False
    while True:
        try:
            return attempt()
        except _Busy as busy:
            waited = time.monotonic() - start
            if waited >= wait:
                raise _give_up(warehouse, busy.holder, waited) from None
            if not told:
                notify(f"waiting up to {wait:g} s for {warehouse}: held by {busy.holder}")
                told = True
            time.sleep(_POLL)


def is_lock_conflict(error: BaseException | str) -> bool:
    """Whether a DuckDB (or dbt-duckdb) error says another process holds the file."""
    return bool(_DUCKDB_LOCK.search(str(error)))


def retry_while_held(
    attempt: Callable[[], T], warehouse: Path, *, timeout: float | None = None, notify: Notify = _stderr
) -> T:
    """Run `attempt` again while it fails because a process outside our lock (a BI reader) holds the file."""

    def once() -> T:
        try:
            return attempt()
        except Exception as error:
            if is_lock_conflict(error):
                raise _Busy(_duckdb_holder(error)) from None
            raise

    return _wait_while_busy(once, warehouse, lock_timeout(timeout), notify)


def _duckdb_holder(error: BaseException) -> str:
    found = _DUCKDB_HOLDER.search(str(error))
    if found is None:
        return "another process"
    return f"{Path(found['program']).name} (pid {found['pid']}), not a journeys command (e.g. a BI reader)"


def connect(
    warehouse: Path, *, read_only: bool = False, timeout: float | None = None, notify: Notify = _stderr
) -> duckdb.DuckDBPyConnection:
    """`duckdb.connect`, waiting while another process has the file open; `WarehouseBusy` after timeout."""
    return retry_while_held(
        lambda: duckdb.connect(str(warehouse), read_only=read_only), warehouse, timeout=timeout, notify=notify
    )


def open_warehouse(
    warehouse: Path, target: str = DUCKDB, *, read_only: bool = False, timeout: float | None = None
) -> Warehouse:
    """The warehouse behind the interface: a DuckDB file (waited for like `connect`), or this process's
    Spark session on a warehouse directory."""
    if target == SPARK:
        from journey_compiler.warehouse.spark_warehouse import SparkWarehouse  # pyspark loads in seconds

        return SparkWarehouse(warehouse)
    return DuckDBWarehouse(connect(warehouse, read_only=read_only, timeout=timeout))


@contextmanager
def writing(
    warehouse: Path, purpose: str, *, timeout: float | None = None, notify: Notify = _stderr
) -> Iterator[duckdb.DuckDBPyConnection]:
    """The writer lock and a connection under it: how every short write of ours (controls, init, outcomes)
    opens the warehouse."""
    with (
        exclusive(warehouse, purpose, timeout=timeout, notify=notify),
        connect(warehouse, timeout=timeout, notify=notify) as con,
    ):
        yield con
