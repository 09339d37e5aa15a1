"""What is compared, and how a failing example reads: the case as YAML and rows, the outputs' differences."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Any

import yaml

from journey_compiler.reference.world import Message, ReferenceOutput, Transition

if TYPE_CHECKING:
    from diff_strategies import Case

Table = dict[str, list[tuple[Any, ...]]]

CADENCE_BLIND = {Transition: ("tick_at",), Message: ("tick_at",)}
"""Per row type, the fields that may differ between cadences: the tick that wrote the row."""


def _short(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%m-%d %H:%M")
    return "-" if value is None else str(value)


def _view(output: ReferenceOutput, blind: dict[type, tuple[str, ...]]) -> Table:
    tables: Table = {}
    for name in ("transitions", "state", "messages", "tags", "goals"):
        rows = getattr(output, name)
        out = []
        for row in rows:
            skip = blind.get(type(row), ())
            out.append(
                tuple((f.name, getattr(row, f.name)) for f in dataclasses.fields(row) if f.name not in skip)
            )
        tables[name] = sorted(out, key=repr)
    return tables


def cadence_view(output: ReferenceOutput) -> Table:
    """What must not depend on the tick cadence: every row, without tick_at."""
    return _view(output, CADENCE_BLIND)


def full_view(output: ReferenceOutput) -> Table:
    """What SQL and the interpreter must agree on at one cadence: every row, tick_at included."""
    return _view(output, {})


def diff(left_name: str, left: Table, right_name: str, right: Table) -> str:
    """Rows only on one side, per table, one readable line each; empty when the sides agree."""
    lines = []
    for table in left:
        a, b = Counter(left[table]), Counter(right[table])
        only_a, only_b = sorted(a - b, key=repr), sorted(b - a, key=repr)
        if not (only_a or only_b):
            continue
        lines.append(f"{table}:")
        for side, rows in ((left_name, only_a), (right_name, only_b)):
            for row in rows:
                lines.append(f"  only {side}: " + " ".join(f"{k}={_short(v)}" for k, v in row))
    return "\n".join(lines)


def describe_case(case: Case) -> str:
    """The example as a reader would write it by hand: journeys YAML, then the world's rows, then ticks."""
    world = case.world
    parts = ["Case:"]
    for journey in case.project.values():
        parts.append(yaml.safe_dump(journey, sort_keys=False).rstrip())
        parts.append("---")
    parts += [f"profile {p.profile_id} tz={_short(p.timezone)} {p.attributes}" for p in world.profiles]
    for e in world.events:
        late = f" loaded {_short(e.loaded)}" if e.loaded != e.event_time else ""
        parts.append(
            f"event {e.event_id} {e.profile_id} {e.event_name} {_short(e.event_time)}{late} {e.properties}"
        )
    parts += [f"tag {t.profile_id} {t.tag} at {_short(t.tagged_at)}" for t in world.profile_tags]
    parts += [f"relation {r.from_id} -{r.relation}-> {r.to_id}" for r in world.relations]
    closed = [d.isoformat() for d, is_open in sorted(world.trading_calendar.items()) if not is_open]
    parts.append(f"closed trading days: {', '.join(closed) or 'none'}")
    for name, rows in world.details.items():
        parts += [f"{name} {r}" for r in rows]
    parts += [
        f"control {c.journey_id} {c.action} {c.value or ''} at {_short(c.effective_at)}"
        for c in world.controls
    ]
    for k, ticks in enumerate(case.cadences):
        parts.append(f"cadence {k}: {', '.join(_short(t) for t in ticks)}")
    return "\n".join(parts)


def describe_rows(output: ReferenceOutput) -> str:
    """Every transition in time order (for the failure report of one side)."""
    rows = sorted(output.transitions, key=lambda t: (t.entry_id, t.logical_at, t.tick_at, t.from_node or ""))
    return "\n".join(
        f"  {t.profile_id} {t.journey_id} {_short(t.from_node)} -> {_short(t.to_node)} [{_short(t.branch)}] "
        f"{_short(t.reason)} at {_short(t.logical_at)} (tick {_short(t.tick_at)}) entry {t.entry_id[:8]}"
        for t in rows
    )
