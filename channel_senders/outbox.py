"""The one dispatcher for every channel: `dispatch_project` sends what is due in the outbox and records
every outcome. The CLI, the demo and Dagster all call it; the delivery rules, the writer lock and the
outage handling live inside, so no caller can leave them out.

What is due, and what the delivery rules say of it, is decided by one query per pass, read in batches in
priority order (`notification` > `urgent` > `normal`, then earliest due), so Python's memory stays flat
however long the queue: a message of `journeys.send_queue` whose `not_before` has passed, that has no final
event in `message_events` (rows the tick suppressed itself carry status `suppressed`) and no retry scheduled
after now.

Per batch: too old for its channel (`expire_after`) -> `expired`; blocked by a rule -> `suppressed`; the
channel down, not configured or its credentials refused -> `deferred` (with a `message_retries` row saying
when to try again, backoff across dispatches, see `retry_schedule`); otherwise rendered and handed to the
channel's transport, many at once (`concurrency` per channel in channels.yaml), rate limits exact. Only a
permanent answer, no address, a render error or a broken template is `failed`. DuckDB works on a thread of
its own, so while one batch is with the providers the next one is read and rendered (two batches in the
air at most).

Crash safety: before a batch is handed to providers, one `sending` row per message is written; the outcomes
follow in one transaction after the batch. A message whose last event is `sending` (the run died in
between) is due again and sent with the same key: HTTP providers receive the same `Idempotency-Key`, SMTP
receivers the same `Message-ID`. Its outcome detail says it was sent again. A single writer holds the
warehouse lock for the whole dispatch, so no two dispatches ever pick the same message.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import duckdb
import sqlglot

from channel_senders.callback_store import CallbackStore
from channel_senders.channels import OpenChannels, RetryPolicy
from channel_senders.delivery_rules import DeliveryRules
from channel_senders.protocol import DEFERRED, IN_FLIGHT, PENDING, OutgoingMessage, SendResult
from channel_senders.rendering import CompiledTemplate, RenderError
from channel_senders.report import DispatchReport
from channel_senders.retry_schedule import Backoff
from journey_compiler.config.channels import ChannelsConfig
from journey_compiler.config.project import Project
from journey_compiler.config.templates import Template
from journey_compiler.errors import JourneysError
from journey_compiler.runtime.lock import connect, exclusive
from journey_compiler.warehouse.tables import (
    APPLIED_TICKS,
    MESSAGE_EVENTS,
    MESSAGE_EVENTS_TABLE,
    MESSAGE_RETRIES,
    MESSAGE_RETRIES_TABLE,
    SEND_QUEUE_VIEW,
    create_tables,
)

_DUE_SQL = f"""
select q.message_id, q.journey_id, q.node_id, q.recipient_id, q.channel, q.template, q.payload,
       q.priority, q.not_before, coalesce(q.cap_exempt, false) as cap_exempt,
       exists (
         select 1 from {MESSAGE_EVENTS_TABLE} e where e.message_id = q.message_id and e.status = $in_flight
       ) as interrupted,
       (select count(*) from {MESSAGE_RETRIES_TABLE} r where r.message_id = q.message_id) as deferrals
from {SEND_QUEUE_VIEW} q
where q.not_before <= $now
  and q.status <> 'suppressed'
  -- a tick whose checks failed is not applied: nothing it wrote goes out
  and exists (select 1 from {APPLIED_TICKS} t where t.tick_at = q.tick_at)
  and not exists (
    select 1 from {MESSAGE_EVENTS_TABLE} e
    where e.message_id = q.message_id and e.status not in (select unnest($pending))
  )
  and not exists (
    select 1 from {MESSAGE_RETRIES_TABLE} r where r.message_id = q.message_id and r.retry_at > $now
  )
"""
"""Judged by the delivery rules (which add `turn`, `blocked_by` and the priority order), run once per pass
and read a batch at a time: the outbox view and the rules' inputs are read once, not once per batch (a
query per batch cost a third of a second at 100k queued messages, each time)."""
# One statement per batch: one round trip however many rows (the lists are zipped by unnest).
_INSERT_EVENTS = f"""
insert into {MESSAGE_EVENTS_TABLE} (message_id, status, status_at, detail)
select unnest($message_ids), unnest($statuses), $now, unnest($details)
"""
_INSERT_RETRIES = f"""
insert into {MESSAGE_RETRIES_TABLE} (message_id, deferral, retry_at, deferred_at)
select unnest($message_ids), unnest($deferrals), unnest($retry_at), $now
"""

_T = TypeVar("_T")

_ADDRESS_FIELD = {
    "email": "email",
    "sms": "phone",
    "whatsapp": "phone",
    "push": "profile_id",
    "webhook": "profile_id",
}
"""Where each channel finds its address in the payload's `recipient` (push and webhooks take the id)."""


@dataclass(frozen=True)
class DispatchOptions:
    batch_size: int = 2000
    """Due messages read, decided and written together; two batches at most are in the air at once, which
    bounds memory and what a crash may send again."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    deferral: Backoff = field(default_factory=Backoff)
    simulate: bool = False
    """Accept every message without calling a provider (what-if backtests on a scratch copy)."""


class _Due(NamedTuple):
    message_id: str
    journey_id: str
    node_id: str
    recipient_id: str
    channel: str
    template: str
    payload: str
    priority: int
    not_before: datetime
    cap_exempt: bool
    interrupted: bool
    deferrals: int
    turn: int | None
    """Its rank among its recipient's messages a cap or an exclusivity applies to (see `delivery_rules`)."""
    blocked_by: str | None


def dispatch_project(
    warehouse: Path,
    project: Project,
    now: datetime,
    *,
    limit: int | None = None,
    options: DispatchOptions | None = None,
) -> DispatchReport:
    """Send every message due at `now` (at most `limit`, most important first) and record the outcomes.

    `now` (UTC) decides what is due and stamps every event row, so backfills and tests are reproducible.
    Running it again sends nothing twice: a message with a final outcome is never picked again.
    """
    if not Path(warehouse).exists():
        raise JourneysError(f"no warehouse at {warehouse}: run `journeys init` and a tick first")
    naive_now = now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now
    with exclusive(Path(warehouse), "journeys send (dispatch)"):
        # callbacks spooled while a tick held the warehouse, should no receiver be running to write them
        CallbackStore(Path(warehouse)).flush()
        con = connect(Path(warehouse))
        try:
            _require_outbox(con, warehouse)
            create_tables(con, {MESSAGE_EVENTS_TABLE: MESSAGE_EVENTS, MESSAGE_RETRIES_TABLE: MESSAGE_RETRIES})
            dispatch = _Dispatch(con, project, naive_now, limit, options or DispatchOptions())
            return asyncio.run(dispatch.run())
        finally:
            con.close()


def _require_outbox(con: duckdb.DuckDBPyConnection, warehouse: Path) -> None:
    schema, _, name = SEND_QUEUE_VIEW.partition(".")
    found = con.execute(
        "select 1 from duckdb_views() where schema_name = $s and view_name = $n "
        "union all select 1 from duckdb_tables() where schema_name = $s and table_name = $n",
        {"s": schema, "n": name},
    ).fetchone()
    if found is None:
        raise JourneysError(f"{warehouse} has no {SEND_QUEUE_VIEW} yet: run a tick first")


class _Dispatch:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        project: Project,
        now: datetime,
        limit: int | None,
        options: DispatchOptions,
    ) -> None:
        self.con = con
        self.channels_config: ChannelsConfig = project.channels
        self.templates: dict[str, Template] = project.templates
        self.rules = DeliveryRules.from_project(project)
        self.now = now
        self.limit = limit
        self.options = options
        self.batch = options.batch_size
        self.decided = 0
        self._due_sql: tuple[str, dict[str, Any]] | None = None
        self._compiled: dict[str, CompiledTemplate] = {}
        self.report = DispatchReport()

    async def run(self) -> DispatchReport:
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(1, thread_name_prefix="outbox-duckdb") as database:
            self._database = database
            self._loop = loop
            async with OpenChannels(
                self.channels_config, self.options.retry, simulate=self.options.simulate
            ) as channels:
                while await self._pass(channels) and not self._limit_reached:
                    pass
        return self.report

    def _in_database(self, call: Callable[..., _T], *args: Any) -> asyncio.Future[_T]:
        """DuckDB runs on one thread of its own (it releases the GIL), so messages keep flowing meanwhile."""
        return self._loop.run_in_executor(self._database, call, *args)

    @property
    def _limit_reached(self) -> bool:
        return self.limit is not None and self.decided >= self.limit

    async def _pass(self, channels: OpenChannels) -> bool:
        """Decide every due message once, a batch at a time; whether some wait for another pass.

        Up to two batches are in the air at once: while one is with the providers, the next is read and
        rendered. A message whose fate depends on another one to the same recipient (caps,
        `exclusive_with`: its `turn` is after the first) waits for the next pass, which sees that one's
        outcome."""
        due = await self._in_database(self._due_cursor)
        held = False
        in_the_air: list[asyncio.Future[None]] = []
        try:
            while not self._limit_reached and (rows := await self._in_database(due.fetchmany, self.batch)):
                take: list[_Due] = []
                for row in map(_Due._make, rows):
                    if self.limit is not None and self.decided + len(take) >= self.limit:
                        break
                    if row.turn is not None and row.turn > 1:
                        held = True  # its turn comes in the next pass
                        continue
                    take.append(row)
                self.decided += len(take)
                in_the_air.append(asyncio.ensure_future(self._decide(take, channels)))
                if len(in_the_air) >= 2:
                    done, _ = await asyncio.wait(in_the_air, return_when=asyncio.FIRST_COMPLETED)
                    for batch in done:
                        in_the_air.remove(batch)
                        batch.result()  # a batch that failed ends the dispatch
            await asyncio.gather(*in_the_air)
        finally:  # on a failure, the other batch still writes its outcomes
            await asyncio.gather(*in_the_air, return_exceptions=True)
            await self._in_database(due.close)
        return held

    def _due_cursor(self) -> duckdb.DuckDBPyConnection:
        """The due messages judged by the rules, in priority order, on a cursor of their own while the
        outcomes are written."""
        if self._due_sql is None:  # the same for every pass: `now` and the rules do not change
            due = sqlglot.parse_one(_DUE_SQL, dialect="duckdb")
            self._due_sql = self.rules.judged(self.con, due, self.now)
        sql, rule_params = self._due_sql
        cursor = self.con.cursor()
        params = {"now": self.now, "in_flight": IN_FLIGHT, "pending": list(PENDING), **rule_params}
        cursor.execute(sql, params)
        return cursor

    async def _decide(self, rows: list[_Due], channels: OpenChannels) -> None:
        outcomes: dict[str, SendResult] = {}
        for row in rows:
            expired = self._expired(row, channels)
            if expired is not None:
                outcomes[row.message_id] = expired
            elif row.blocked_by is not None:
                outcomes[row.message_id] = SendResult("suppressed", row.blocked_by)
        outgoing: list[OutgoingMessage] = []
        for i, row in enumerate(rows):
            if i % 64 == 63:
                await asyncio.sleep(0)  # the batch ahead is with the providers: let its answers in
            if row.message_id in outcomes:
                continue
            down = channels.down(row.channel)
            prepared = SendResult(DEFERRED, down) if down else self._prepare(row)
            if isinstance(prepared, OutgoingMessage):
                outgoing.append(prepared)
            else:
                outcomes[row.message_id] = prepared
        handing_over = [
            (m.message_id, SendResult(IN_FLIGHT, "handing over to the provider")) for m in outgoing
        ]
        await self._in_database(self._write_events, handing_over)
        results = await asyncio.gather(*(channels.deliver(m) for m in outgoing))
        outcomes.update(zip((m.message_id for m in outgoing), results, strict=True))
        await self._in_database(self._record, rows, outcomes)

    def _expired(self, row: _Due, channels: OpenChannels) -> SendResult | None:
        config = channels.config(row.channel)
        limit: timedelta | None = config.expire_after if config is not None else None
        if limit is None or self.now - row.not_before <= limit:
            return None
        return SendResult(
            "expired", f"not sent within {limit} of its due time {row.not_before:%Y-%m-%d %H:%M:%S}"
        )

    def _prepare(self, row: _Due) -> OutgoingMessage | SendResult:
        """The message to hand to a transport, or the outcome that makes sending it pointless."""
        template = self.templates.get(row.template)
        if template is None:
            return SendResult("failed", f"template {row.template!r} not found in templates/")
        if template.channel != row.channel:
            reason = f"template {row.template!r} is for {template.channel}, queued for {row.channel}"
            return SendResult("failed", reason)
        try:
            payload: dict[str, Any] = json.loads(row.payload)
        except (TypeError, json.JSONDecodeError) as error:
            return SendResult("failed", f"payload is not valid JSON: {error}")
        recipient = payload.get("recipient") or {}
        address_field = _ADDRESS_FIELD.get(row.channel, "profile_id")
        address = recipient.get(address_field)
        if not address:  # a permanent answer: no attempt could reach this recipient on this channel
            who = recipient.get("profile_id")
            return SendResult("failed", f"no address: recipient {who!r} has no {address_field}")
        compiled = self._compiled.get(row.template)
        if compiled is None:
            compiled = self._compiled[row.template] = CompiledTemplate(row.template, template)
        try:
            content = compiled.render(payload)
        except RenderError as error:
            return SendResult("failed", str(error))
        return OutgoingMessage(row.message_id, row.channel, str(address), content)

    def _record(self, rows: list[_Due], outcomes: dict[str, SendResult]) -> None:
        """Every outcome of the batch and the retry times of its deferrals, in one transaction."""
        events: list[tuple[str, SendResult]] = []
        retries: list[tuple[str, int, datetime]] = []
        for row in rows:
            outcome = outcomes[row.message_id]
            detail = outcome.detail
            if outcome.status == DEFERRED:
                deferral = row.deferrals + 1
                retry_at = self.options.deferral.retry_at(
                    row.message_id, deferral, self.now, outcome.retry_after
                )
                retries.append((row.message_id, deferral, retry_at))
                detail = f"{detail}; next attempt from {retry_at:%Y-%m-%d %H:%M:%S} UTC (deferral {deferral})"
            elif row.interrupted:
                detail = f"{detail} (after an interrupted dispatch)"
            events.append((row.message_id, SendResult(outcome.status, detail)))
            self.report.add(row.channel, outcome)
        self.con.begin()
        self._write_events(events)
        if retries:
            self.con.execute(
                _INSERT_RETRIES,
                {
                    "message_ids": [m for m, _, _ in retries],
                    "deferrals": [d for _, d, _ in retries],
                    "retry_at": [at for _, _, at in retries],
                    "now": self.now,
                },
            )
        self.con.commit()

    def _write_events(self, events: list[tuple[str, SendResult]]) -> None:
        if events:
            self.con.execute(
                _INSERT_EVENTS,
                {
                    "message_ids": [message_id for message_id, _ in events],
                    "statuses": [result.status for _, result in events],
                    "details": [result.detail for _, result in events],
                    "now": self.now,
                },
            )
