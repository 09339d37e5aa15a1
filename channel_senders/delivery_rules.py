"""Rules that decide at dispatch time whether a due message may go out at all.

Both are shared by every journey, so they are applied where all journeys' messages meet, in the outbox,
in priority order (`notification` > `urgent` > `normal`, then oldest first):
- frequency caps per channel (channels.yaml `frequency_caps`): at most `max` sent messages per recipient in
  any `per` window, counting messages sent earlier and the ones ahead in this dispatch; members of the cap
  whitelist segment (flagged by the tick as `cap_exempt`) are not capped;
- `exclusive_with`: a recipient already reached (a `sent` message) by one journey is not reached by a journey
  it is mutually exclusive with, ever; within one dispatch the message ahead in priority wins.
A blocked message is recorded as `suppressed`, with the rule in its detail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from journey_compiler.config.channels import FrequencyCap
from journey_compiler.config.project import Project

_BLOCKED_SQL = """
with due as (
    select
        message_id, journey_id, recipient_id, channel, priority, not_before,
        coalesce(cap_exempt, false) as exempt
    from journeys.send_queue
    where message_id in (select unnest($message_ids))
),
delivered as (
    select q.journey_id, q.recipient_id, q.channel, e.status_at
    from journeys.message_events as e
    join journeys.send_queue as q on q.message_id = e.message_id
    where e.status = 'sent'
),
caps as (
    select unnest($cap_channels) as channel, unnest($cap_max) as max_sent, unnest($cap_seconds) as per_seconds
),
pairs as (
    select unnest($pair_journeys) as journey_id, unnest($pair_others) as other_journey
),
ranked as (
    select
        due.*,
        row_number() over (
            partition by recipient_id, channel order by priority, not_before, message_id
        ) as nth_in_dispatch
    from due
)
select
    r.message_id,
    case
        when exists (
            select 1 from pairs as p join delivered as d on d.journey_id = p.other_journey
            where p.journey_id = r.journey_id and d.recipient_id = r.recipient_id
        ) or exists (
            select 1 from pairs as p join due as ahead on ahead.journey_id = p.other_journey
            where p.journey_id = r.journey_id and ahead.recipient_id = r.recipient_id
              and (ahead.priority, ahead.not_before, ahead.message_id)
                  < (r.priority, r.not_before, r.message_id)
        ) then 'exclusive_with: the recipient is reached by a mutually exclusive journey'
        when not r.exempt and c.max_sent is not null and (
            select count(*) from delivered as d
            where d.recipient_id = r.recipient_id and d.channel = r.channel
              and d.status_at > $now - to_seconds(c.per_seconds)
        ) + r.nth_in_dispatch > c.max_sent
        then 'frequency cap: at most ' || c.max_sent || ' ' || r.channel || ' per ' || c.per_seconds || ' s'
    end as blocked_by
from ranked as r
left join caps as c on c.channel = r.channel
"""


@dataclass(frozen=True)
class DeliveryRules:
    caps: Mapping[str, FrequencyCap] = field(default_factory=dict)
    exclusive: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """journey -> the journeys it is mutually exclusive with (symmetric: either side may declare it)."""

    @classmethod
    def from_project(cls, project: Project) -> DeliveryRules:
        exclusive: dict[str, set[str]] = {}
        for journey in project.journeys.values():
            for other in journey.exclusive_with:
                exclusive.setdefault(journey.id, set()).add(other)
                exclusive.setdefault(other, set()).add(journey.id)
        return cls(dict(project.channels.frequency_caps), {j: frozenset(o) for j, o in exclusive.items()})

    def blocked(
        self, con: duckdb.DuckDBPyConnection, message_ids: list[str], now: datetime
    ) -> dict[str, str]:
        """message_id -> why it may not be sent, for the due messages a rule blocks."""
        if not message_ids or (not self.caps and not self.exclusive):
            return {}
        pairs = [(journey, other) for journey, others in self.exclusive.items() for other in sorted(others)]
        rows = con.execute(
            _BLOCKED_SQL,
            {
                "message_ids": message_ids,
                "now": now,
                "cap_channels": list(self.caps),
                "cap_max": [cap.max for cap in self.caps.values()],
                "cap_seconds": [int(cap.per.total_seconds()) for cap in self.caps.values()],
                "pair_journeys": [journey for journey, _ in pairs],
                "pair_others": [other for _, other in pairs],
            },
        ).fetchall()
        return {message_id: reason for message_id, reason in rows if reason is not None}
