"""How the outbox is doing: messages stuck (deferred, or due for long and still unsent) and expired.

Read at the warehouse's own time (its latest finished tick), not the wall clock, so a backfilled or
demo warehouse is judged by its logical time like everything else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from journey_compiler.runtime.lock import connect, exclusive
from journey_compiler.warehouse.tables import LAST_APPLIED_TICK, SEND_QUEUE_VIEW

_HEALTH_SQL = f"""
with clock as (
    select coalesce(({LAST_APPLIED_TICK}), $fallback) as now
)
select
    channel,
    count(*) filter (
        where status = 'deferred' or (status in ('queued', 'sending') and not_before <= clock.now - $stuck)
    ) as stuck,
    count(*) filter (where status = 'expired') as expired,
    min(not_before) filter (
        where status = 'deferred' or (status in ('queued', 'sending') and not_before <= clock.now - $stuck)
    ) as oldest_stuck_due
from {SEND_QUEUE_VIEW}, clock
group by channel
order by channel
"""


@dataclass(frozen=True)
class OutboxHealth:
    stuck: int = 0
    expired: int = 0
    oldest_stuck_due: datetime | None = None
    by_channel: dict[str, dict[str, int]] = field(default_factory=dict)


def outbox_health(warehouse: Path, fallback_now: datetime, stuck_after: timedelta) -> OutboxHealth:
    if not Path(warehouse).exists():
        return OutboxHealth()
    with exclusive(Path(warehouse), "outbox health check"):
        con = connect(Path(warehouse))
        try:
            rows = con.execute(_HEALTH_SQL, {"fallback": fallback_now, "stuck": stuck_after}).fetchall()
        finally:
            con.close()
    due = [at for _, _, _, at in rows if at is not None]
    return OutboxHealth(
        stuck=sum(r[1] for r in rows),
        expired=sum(r[2] for r in rows),
        oldest_stuck_due=min(due) if due else None,
        by_channel={channel: {"stuck": stuck, "expired": expired} for channel, stuck, expired, _ in rows},
    )
