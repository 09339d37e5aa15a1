"""Deterministic ids and A/B buckets, re-implemented in Python from `journey_compiler/sqlgen/ids.py` and the
id expressions of the node handlers in `sqlgen/tick/` (the one place the reference reads the SQL: spec
section 2 asks for "the same deterministic hash" on every engine, so the formula itself is the contract).

>>> bucket("three_way", "e1", "split") == int(md5_hex("three_way:e1:split")[:8], 16) % BUCKETS
True
"""

from __future__ import annotations

import hashlib
from datetime import datetime

BUCKETS = 10_000
"""A/B percentages resolve to 0.01 %."""


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def stable_id(*parts: str) -> str:
    """md5 over the parts joined with ':'."""
    return md5_hex(":".join(parts))


def trigger_key(value: str | datetime) -> str:
    """What makes an entry unique: the triggering event's id, or a schedule occurrence as the warehouse
    prints a timestamp cast to text ('2026-03-03 02:00:00')."""
    return value if isinstance(value, str) else value.isoformat(sep=" ")


def entry_id(journey_id: str, profile_id: str, key: str) -> str:
    """Spec section 3: "Each time a profile enters, the entry gets an id"."""
    return stable_id(journey_id, profile_id, key)


def fork_id(path_id: str, node_id: str, branch: str) -> str:
    """The path a fork of `path_id` takes at an `all_matches` split, by `branch` (docs/semantics.md)."""
    return stable_id(path_id, node_id, branch)


def message_id(journey_id: str, path: str, node_id: str, recipient_id: str | None) -> str:
    """Spec section 4: "deterministic from journey, entry, node, recipient" (no recipient: ''); by the
    entry's path, which is the entry's id unless an `all_matches` split forked it."""
    return stable_id(journey_id, path, node_id, recipient_id or "")


def race_notice_id(journey_id: str, node_id: str) -> str:
    """The one operator notice of an ab_race."""
    return stable_id(journey_id, "race_over", node_id)


def bucket(journey_id: str, entry: str, node_id: str) -> int:
    """An integer in [0, BUCKETS) from the first 8 hex digits of md5(journey:entry:node)."""
    return int(stable_id(journey_id, entry, node_id)[:8], 16) % BUCKETS
