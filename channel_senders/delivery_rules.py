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
consumes nothing. The rules are columns of the due query itself (`judged`), so their inputs (what was
sent, the segments) are read once per dispatch pass, set-based, not once per batch. That stays exact
because a pass decides at most one rule-bound message per recipient that might still go out (its `turn`
1, in priority order): the next one waits for the next pass, which reads the outcome of the one ahead.
A message already blocked by what was sent before is decided at once (sending more cannot unblock it), so
a recipient with many queued messages over a cap of N takes N + 1 passes, not one per message. A blocked
message is recorded as `suppressed`, with the rule in its detail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

from journey_compiler.config.channels import FrequencyCap
from journey_compiler.config.project import Project
from journey_compiler.config.rules import Rule
from journey_compiler.errors import JourneysError
from journey_compiler.sqlgen.segments import SegmentSql
from journey_compiler.warehouse.tables import MESSAGE_EVENTS_TABLE, SEND_QUEUE_VIEW

_JUDGED_SQL = f"""
with due as (select * from __due__),
-- what was actually sent, as far back as a cap or an exclusivity can look: one read per pass
reached as (
    select q.journey_id, q.recipient_id, q.channel, e.status_at
    from {MESSAGE_EVENTS_TABLE} as e
    join {SEND_QUEUE_VIEW} as q on q.message_id = e.message_id
    where e.status = 'sent'
      and (q.journey_id in (select unnest($pair_others))
           or (q.channel in (select unnest($cap_channels)) and e.status_at > $now - to_seconds($longest_cap)))
),
caps as (
    select unnest($cap_channels) as channel, unnest($cap_max) as max_sent, unnest($cap_seconds) as per_seconds
),
pairs as (
    select unnest($pair_journeys) as journey_id, unnest($pair_others) as other_journey
),
cap_use as (
    select r.recipient_id, r.channel, count(*) as sent_in_window
    from reached as r join caps as c on c.channel = r.channel
    where r.status_at > $now - to_seconds(c.per_seconds)
    group by r.recipient_id, r.channel
),
excluded as (
    select distinct p.journey_id, r.recipient_id
    from reached as r join pairs as p on p.other_journey = r.journey_id
),
judged as (
    select
        due.*,
        due.channel in (select channel from caps) or due.journey_id in (select journey_id from pairs)
            as interacts,
        null as blacklisted_by,
        case
            when x.journey_id is not null
            then 'exclusive_with: the recipient was reached by a mutually exclusive journey'
            when not due.cap_exempt and coalesce(u.sent_in_window, 0) >= c.max_sent
            then 'frequency cap: at most ' || c.max_sent || ' ' || due.channel
                 || ' per ' || c.per_seconds || ' s'
        end as ruled_out
    from due
    left join caps as c on c.channel = due.channel
    left join cap_use as u on u.recipient_id = due.recipient_id and u.channel = due.channel
    left join excluded as x on x.journey_id = due.journey_id and x.recipient_id = due.recipient_id
),
contending as (
    -- blocked already by what was sent before (or blacklisted), a message stays blocked whatever this pass
    -- sends, so it is decided now; the others contend for the recipient's one decision of this pass
    select judged.*, (interacts and blacklisted_by is null and ruled_out is null) as contends from judged
)
select
    * exclude (interacts, blacklisted_by, ruled_out, contends),
    case when contends then
        row_number() over (partition by recipient_id, contends order by priority, not_before, message_id)
    end as turn,
    coalesce(blacklisted_by, ruled_out) as blocked_by
from contending
order by priority, not_before, message_id
"""
"""`__due__` is replaced by the outbox's due query; `blacklisted_by` by the blacklist segments' CASE."""


@cache
def _judged_template() -> exp.Expr:
    return sqlglot.parse_one(_JUDGED_SQL, dialect="duckdb")


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

    def judged(
        self, con: duckdb.DuckDBPyConnection, due: exp.Expr, now: datetime
    ) -> tuple[str, dict[str, Any]]:
        """`due` (one row per due message: its `message_id`, `journey_id`, `node_id`, `recipient_id`,
        `channel`, `cap_exempt`, `priority`, `not_before`, ...) with two more columns, in priority order, and
        the parameters the query needs besides `due`'s own:
        - `turn`: for a message a cap or an exclusivity applies to and that nothing blocks yet, its rank
          among such messages of its recipient (1 = decided in this pass, later ones wait for the next);
          NULL for the others, which are decided in this pass;
        - `blocked_by`: why it may not be sent (blacklist at `now`, a cap or `exclusive_with` against what
          was sent before), NULL when it may go out."""
        query = _judged_template().copy()
        for table in query.find_all(exp.Table):
            if table.name == "__due__":
                table.replace(exp.paren(due.copy()))
        blacklisted = self._blacklisted(con, now)
        for alias in query.find_all(exp.Alias):
            if alias.alias == "blacklisted_by":
                alias.set("this", blacklisted)
        pairs = [(journey, other) for journey, others in self.exclusive.items() for other in sorted(others)]
        params = {
            "cap_channels": list(self.caps),
            "cap_max": [cap.max for cap in self.caps.values()],
            "cap_seconds": [int(cap.per.total_seconds()) for cap in self.caps.values()],
            "longest_cap": max((int(cap.per.total_seconds()) for cap in self.caps.values()), default=0),
            "pair_journeys": [journey for journey, _ in pairs],
            "pair_others": [other for _, other in pairs],
        }
        return query.sql("duckdb"), params

    def _blacklisted(self, con: duckdb.DuckDBPyConnection, now: datetime) -> exp.Expr:
        """CASE over the due row: the blacklist segment of its send that holds for its recipient at `now`."""
        if not self.blacklists:
            return exp.null()
        assert self.project is not None
        segment_sql = SegmentSql(
            self.project,
            _relation(con, "stg_raw__events"),
            _relation(con, "stg_raw__profiles"),
            _relation(con, "int_profile_tags"),
        )
        at = exp.cast(exp.Literal.string(now.isoformat(sep=" ")), exp.DataType.Type.TIMESTAMP)
        recipient = exp.column("recipient_id", "due")
        case = exp.Case()
        for segment in sorted(set(self.blacklists.values())):
            sends = [
                exp.and_(
                    exp.column("journey_id", "due").eq(exp.Literal.string(journey)),
                    exp.column("node_id", "due").eq(exp.Literal.string(node)),
                )
                for (journey, node), name in sorted(self.blacklists.items())
                if name == segment
            ]
            predicate = segment_sql.predicate(Rule(segment=segment), recipient, at)
            reason = f"blacklist: the recipient is in segment {segment!r} at dispatch"
            case = case.when(exp.and_(exp.paren(exp.or_(*sends)), predicate), exp.Literal.string(reason))
        return case.transform(lambda node: _resolve_ref(con, node))


def _relation(con: duckdb.DuckDBPyConnection, model: str) -> exp.Table:
    """The warehouse relation dbt built for `model`, wherever the project's schema config put it."""
    row = con.execute(
        "select schema_name from duckdb_views() where view_name = $m and not internal "
        "union all select schema_name from duckdb_tables() where table_name = $m limit 1",
        {"m": model},
    ).fetchone()
    if row is None:
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
