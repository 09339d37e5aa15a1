"""Rules that decide at dispatch time whether a due message may go out at all, judged on real outcomes.

They are shared by every journey, so they are applied where all journeys' messages meet, in the outbox,
in priority order (`notification` > `urgent` > `normal`, then earliest due):
- the send's blacklist segment, asked again for every message about to go out (the recipient may have
  joined it since the tick created the message): a blacklisted recipient is never sent;
- frequency caps per channel (channels.yaml `frequency_caps`): at most `max` *sent* messages per recipient
  in any `per` window; members of the cap whitelist segment (flagged by the tick as `cap_exempt`) are exempt;
- `exclusive_with`: a recipient reached (a `sent` message) by one journey is never reached by a journey it
  is mutually exclusive with (either side may declare it).
Caps and exclusivity count only what was actually sent: a message that failed, was suppressed or deferred
consumes nothing. The outbox keeps that exact by deciding at most one message per recipient at a time
(`interacts`): a later one waits until the outcome of the one ahead is written. A blocked message is
recorded as `suppressed`, with the rule in its detail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import duckdb
from sqlglot import exp

from journey_compiler.config.channels import FrequencyCap
from journey_compiler.config.project import Project
from journey_compiler.config.rules import Rule
from journey_compiler.sqlgen.segments import SegmentSql
from journey_compiler.warehouse.tables import MESSAGE_EVENTS_TABLE, SEND_QUEUE_VIEW

_BLOCKED_SQL = f"""
with batch as (
    select unnest($message_ids) as message_id, unnest($journeys) as journey_id,
           unnest($recipients) as recipient_id, unnest($channels) as channel, unnest($exempt) as exempt
),
reached as (
    select q.journey_id, q.recipient_id, q.channel, e.status_at
    from {MESSAGE_EVENTS_TABLE} as e
    join {SEND_QUEUE_VIEW} as q on q.message_id = e.message_id
    where e.status = 'sent' and q.recipient_id in (select recipient_id from batch)
),
caps as (
    select unnest($cap_channels) as channel, unnest($cap_max) as max_sent, unnest($cap_seconds) as per_seconds
),
pairs as (
    select unnest($pair_journeys) as journey_id, unnest($pair_others) as other_journey
)
select
    b.message_id,
    case
        when exists (
            select 1 from pairs as p join reached as r on r.journey_id = p.other_journey
            where p.journey_id = b.journey_id and r.recipient_id = b.recipient_id
        ) then 'exclusive_with: the recipient was reached by a mutually exclusive journey'
        when not b.exempt and c.max_sent is not null and (
            select count(*) from reached as r
            where r.recipient_id = b.recipient_id and r.channel = b.channel
              and r.status_at > $now - to_seconds(c.per_seconds)
        ) >= c.max_sent
        then 'frequency cap: at most ' || c.max_sent || ' ' || b.channel || ' per ' || c.per_seconds || ' s'
    end as blocked_by
from batch as b
left join caps as c on c.channel = b.channel
"""


@dataclass(frozen=True)
class Candidate:
    """What the rules need to know about one due message."""

    message_id: str
    journey_id: str
    node_id: str
    recipient_id: str
    channel: str
    cap_exempt: bool


@dataclass(frozen=True)
class DeliveryRules:
    caps: Mapping[str, FrequencyCap] = field(default_factory=dict)
    exclusive: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """journey -> the journeys it is mutually exclusive with (symmetric: either side may declare it)."""
    blacklists: Mapping[tuple[str, str], str] = field(default_factory=dict)
    """(journey, send node) -> the blacklist segment of that send."""
    project: Project | None = None
    """Where the blacklist segments are defined (needed only when there are blacklists)."""

    @classmethod
    def from_project(cls, project: Project) -> DeliveryRules:
        exclusive: dict[str, set[str]] = {}
        blacklists: dict[tuple[str, str], str] = {}
        for journey in project.journeys.values():
            for other in journey.exclusive_with:
                exclusive.setdefault(journey.id, set()).add(other)
                exclusive.setdefault(other, set()).add(journey.id)
            for node_id, node in journey.nodes.items():
                send = getattr(node, "send", None)
                if send is not None and send.blacklist:
                    blacklists[(journey.id, node_id)] = send.blacklist
        return cls(
            dict(project.channels.frequency_caps),
            {j: frozenset(o) for j, o in exclusive.items()},
            blacklists,
            project,
        )

    def interacts(self, message: Candidate) -> bool:
        """Whether this message's fate depends on the outcome of another one to the same recipient."""
        return message.channel in self.caps or message.journey_id in self.exclusive

    def blocked(
        self, con: duckdb.DuckDBPyConnection, batch: list[Candidate], now: datetime
    ) -> dict[str, str]:
        """message_id -> why it may not be sent; `batch` has at most one interacting message per recipient."""
        reasons = self._blacklisted(con, batch, now)
        ruled = [m for m in batch if m.message_id not in reasons and self.interacts(m)]
        if not ruled:
            return reasons
        pairs = [(journey, other) for journey, others in self.exclusive.items() for other in sorted(others)]
        rows = con.execute(
            _BLOCKED_SQL,
            {
                "message_ids": [m.message_id for m in ruled],
                "journeys": [m.journey_id for m in ruled],
                "recipients": [m.recipient_id for m in ruled],
                "channels": [m.channel for m in ruled],
                "exempt": [m.cap_exempt for m in ruled],
                "now": now,
                "cap_channels": list(self.caps),
                "cap_max": [cap.max for cap in self.caps.values()],
                "cap_seconds": [int(cap.per.total_seconds()) for cap in self.caps.values()],
                "pair_journeys": [journey for journey, _ in pairs],
                "pair_others": [other for _, other in pairs],
            },
        ).fetchall()
        reasons.update({message_id: reason for message_id, reason in rows if reason is not None})
        return reasons

    def _blacklisted(
        self, con: duckdb.DuckDBPyConnection, batch: list[Candidate], now: datetime
    ) -> dict[str, str]:
        listed = [
            (m, self.blacklists[(m.journey_id, m.node_id)])
            for m in batch
            if (m.journey_id, m.node_id) in self.blacklists
        ]
        if not listed:
            return {}
        assert self.project is not None
        segment_sql = SegmentSql(
            self.project,
            _relation(con, "stg_raw__events"),
            _relation(con, "stg_raw__profiles"),
            _relation(con, "int_profile_tags"),
        )
        at = exp.cast(exp.Literal.string(now.isoformat(sep=" ")), exp.DataType.Type.TIMESTAMP)
        found: dict[str, str] = {}
        for segment in sorted({name for _, name in listed}):
            ids = [m for m, name in listed if name == segment]
            values = exp.values(
                [(m.message_id, m.recipient_id) for m in ids],
                alias="batch",
                columns=["message_id", "recipient_id"],
            )
            predicate = segment_sql.predicate(Rule(segment=segment), exp.column("recipient_id", "batch"), at)
            query = exp.select(exp.column("message_id", "batch")).from_(values).where(predicate)
            query = query.transform(lambda node: _resolve_ref(con, node))
            for (message_id,) in con.execute(query.sql("duckdb")).fetchall():
                found[message_id] = f"blacklist: the recipient is in segment {segment!r} at dispatch"
        return found


def _relation(con: duckdb.DuckDBPyConnection, model: str) -> exp.Table:
    """The warehouse relation dbt built for `model`, wherever the project's schema config put it."""
    row = con.execute(
        "select schema_name from duckdb_views() where view_name = $m and not internal "
        "union all select schema_name from duckdb_tables() where table_name = $m limit 1",
        {"m": model},
    ).fetchone()
    if row is None:
        from journey_compiler.errors import JourneysError

        raise JourneysError(f"the warehouse has no {model} yet, which blacklists need: run a tick first")
    return exp.table_(model, db=row[0])


def _resolve_ref(con: duckdb.DuckDBPyConnection, node: exp.Expression) -> exp.Expression:
    """`{{ ref('m') }}` tables (as the segment compiler writes them for dbt) -> the built relation."""
    if (
        isinstance(node, exp.Table)
        and isinstance(node.this, exp.Var)
        and node.this.name.startswith("{{ ref('")
    ):
        model = node.this.name.removeprefix("{{ ref('").removesuffix("') }}")
        resolved = _relation(con, model)
        return exp.alias_(resolved, node.alias, table=True) if node.alias else resolved
    return node
