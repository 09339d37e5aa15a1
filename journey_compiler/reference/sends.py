"""The messages a `send` node creates when a profile arrives, with the rules the tick decides.

Spec section 2 (send): "subject conversion through `raw.relations` (`one`/`all` of the related profiles);
quiet hours with policy `drop | defer`; channel blacklist segment (never sent) and frequency-cap whitelist
segment (caps do not apply); non-trading-day policy `postpone | skip | send`". README: "Sends create their
message when the profile arrives. The tick itself suppresses a message to a blacklisted recipient, one in
quiet hours with `drop`, on a non-trading day with `skip`, or with no recipient (`send_queue.status =
suppressed`, `suppressed_by` says why); `defer` and `postpone` move `not_before`." Frequency caps and
`exclusive_with` are the dispatcher's (README, delivery rules at dispatch), not the tick's. A journey's
`holdout` suppresses every message of the entries it holds out, before any other rule (README "Holdouts").
"""

from __future__ import annotations

from datetime import datetime

from journey_compiler.config import journey as j
from journey_compiler.config.project import Project
from journey_compiler.config.rules import Rule
from journey_compiler.reference.clock import (
    end_of_quiet_hours,
    in_quiet_hours,
    is_trading_day,
    next_trading_day_same_time,
    to_local,
)
from journey_compiler.reference.facts import TickFacts
from journey_compiler.reference.ids import BUCKETS, bucket, message_id
from journey_compiler.reference.segments import holds
from journey_compiler.reference.world import Message

HOLDOUT_KEY = "@holdout"
"""What the holdout's bucket hashes in place of a node id (README "Holdouts": md5(journey:entry:@holdout))."""


def held_out(journey_id: str, entry_id: str, percent: float) -> bool:
    """README "Holdouts": an entry whose bucket is below `percent` % of the buckets walks the journey with
    every message suppressed by `holdout`, whatever the other rules say."""
    return bucket(journey_id, entry_id, HOLDOUT_KEY) < round(percent * BUCKETS / 100)


def recipients(spec: j.SendSpec, profile_id: str, facts: TickFacts) -> list[str | None]:
    """Who the message goes to: the profile itself, or with `subject:` the related profiles (`one`: the
    smallest id, README); no related profile -> one message without a recipient."""
    if spec.subject is None:
        return [profile_id]
    related: list[str | None] = list(facts.index.related(profile_id, spec.subject.relation))
    if not related:
        return [None]
    return related[:1] if spec.subject.pick == "one" else related


def create_messages(
    project: Project,
    journey: j.Journey,
    node_id: str,
    entry_id: str,
    path_id: str,
    profile_id: str,
    ab_group: str | None,
    at: datetime,
    facts: TickFacts,
) -> list[Message]:
    """The messages of one arrival at a send node at logical time `at`; each rule is judged for the
    recipient at `at`, in the recipient's timezone (else the journey's)."""
    node = journey.nodes[node_id]
    assert isinstance(node, j.SendNode)
    spec = node.send
    whitelist = spec.cap_whitelist or project.channels.cap_whitelist
    messages = []
    for recipient in recipients(spec, profile_id, facts):
        person = facts.index.profiles.get(recipient) if recipient else None
        timezone = (person.timezone if person else None) or journey.timezone
        reasons: list[str] = []
        not_before = at
        if journey.holdout is not None and held_out(journey.id, entry_id, journey.holdout.percent):
            reasons.append("holdout")
        if recipient is None:
            reasons.append("no_recipient")
        elif spec.blacklist and holds(project, Rule(segment=spec.blacklist), recipient, at, facts):
            reasons.append("blacklist")
        if spec.non_trading_day in ("skip", "postpone"):
            calendar = facts.index.world.trading_calendar
            if not is_trading_day(to_local(at, timezone).date(), calendar):
                if spec.non_trading_day == "skip":
                    reasons.append("non_trading_day")
                else:
                    not_before = next_trading_day_same_time(at, timezone, calendar) or not_before
        if spec.quiet_hours is not None and in_quiet_hours(not_before, timezone, spec.quiet_hours):
            if spec.quiet_hours.policy == "drop":
                reasons.append("quiet_hours")
            else:
                not_before = end_of_quiet_hours(not_before, timezone, spec.quiet_hours)
        exempt = bool(
            recipient and whitelist and holds(project, Rule(segment=whitelist), recipient, at, facts)
        )
        messages.append(
            Message(
                message_id=message_id(journey.id, path_id, node_id, recipient),
                journey_id=journey.id,
                node_id=node_id,
                entry_id=entry_id,
                profile_id=profile_id,
                recipient_id=recipient,
                channel=spec.channel,
                template=spec.template,
                priority=journey.priority,
                not_before=not_before,
                created_at=at,
                status="suppressed" if reasons else "queued",
                suppressed_by=reasons[0] if reasons else None,
                ab_group=ab_group,
                cap_exempt=exempt,
                tick_at=facts.tick_at,
            )
        )
    return messages
