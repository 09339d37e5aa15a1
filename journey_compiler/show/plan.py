"""`journeys plan` as text: one line per journey and node change, with the profiles each one touches, in the
order a reviewer reads a pull request (added, removed, changed), and the SQL diffs on request."""

from __future__ import annotations

import json
from typing import Any

from journey_compiler.plan.compare import FieldChange, JourneyChange, Plan


def plan_text(plan: Plan, *, sql: bool = False) -> str:
    since = f"the versions run since tick {plan.ran_since}" if plan.ran_since else "nothing recorded as run"
    lines = [
        f"plan against {since}: {len(plan.added)} added, {len(plan.removed)} removed, "
        f"{len(plan.changed)} changed, {len(plan.unchanged)} unchanged journeys"
    ]
    if plan.note:
        lines.append(f"note: {plan.note}")
    lines += [f"+ {journey_id}: added" for journey_id in plan.added]
    lines += [f"- {journey_id}: removed ({_profiles(n)} in flight)" for journey_id, n in plan.removed.items()]
    for change in plan.changed:
        lines += _journey_lines(change, sql=sql)
    lines += [
        f"! {journey_id}: not compiled yet ({why}): no tick runs it"
        for journey_id, why in plan.not_compiled.items()
    ]
    if not plan.has_changes:
        lines.append("no changes")
    return "\n".join(lines)


def _journey_lines(change: JourneyChange, *, sql: bool) -> list[str]:
    if change.old_version != change.new_version:
        version = f"version {change.old_version} -> {change.new_version}"
    else:
        what = "compiled SQL changed" if change.sql_diff else "templates edited"
        version = f"version {change.new_version}, {what}"
    lines = [
        f"~ {change.journey_id}: changed ({version}; {_profiles(change.in_flight)} in flight, "
        f"{_profiles(change.profiles_touched)} on removed or changed nodes)"
    ]
    lines += [f"    setting {_field(f)}" for f in change.settings]
    lines += [f"    + node {node_id}" for node_id in change.nodes_added]
    lines += [
        f"    - node {node_id}: {_profiles(n)} there will leave with node_removed"
        for node_id, n in change.nodes_removed.items()
    ]
    for node in change.nodes_changed:
        lines.append(
            f"    ~ node {node.node_id}: {', '.join(node.kinds)} ({_profiles(node.in_flight)} there)"
        )
        lines += [f"        {_field(f)}" for f in node.fields]
    for template in change.templates_changed:
        lines.append(f"    ~ template {template.name} (sent by {', '.join(template.nodes) or 'no node'})")
        lines += [f"        {_field(f)}" for f in template.fields]
    diff = change.sql_diff.splitlines()
    added = sum(1 for line in diff if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in diff if line.startswith("-") and not line.startswith("---"))
    if not diff:
        lines.append("    SQL: unchanged")
    elif sql:
        lines += [f"    {line}" for line in diff]
    else:
        lines.append(f"    SQL: +{added} -{removed} lines (--sql shows the diff)")
    return lines


def _field(change: FieldChange) -> str:
    return f"{change.path}: {_value(change.old)} -> {_value(change.new)}"


def _value(value: Any) -> str:
    return "(none)" if value is None else json.dumps(value)


def _profiles(count: int) -> str:
    return f"{count} profile{'s' * (count != 1)}"
