"""Compare a journeys directory with what the warehouse last ran: the plan of a change, before it merges.

Journeys are added, removed or changed (another version hash, or the same config compiling to other SQL);
a changed journey's nodes are compared by id, field by field of their config: a field whose value names a
node (of either version) is an edge, `template` is a template, anything else a rule. Every removed or
changed node says how many profiles are on it now: on a removed node they will leave with `node_removed`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from journey_compiler.plan.deployed import TEMPLATE, Deployed, JourneyVersion, config_leaves
from journey_compiler.render import GENERATED_HEADER, model_name

NODES = "nodes"
EDGES, RULES = "edges", "rules"
_HEADER_START = GENERATED_HEADER.split("{source}")[0]


@dataclass(frozen=True)
class FieldChange:
    path: str
    """Dotted path inside the journey (or node) config, e.g. `wait.for`."""
    old: Any
    new: Any


@dataclass(frozen=True)
class NodeChange:
    node_id: str
    kinds: tuple[str, ...]
    """Which of rules, edges, template changed."""
    fields: tuple[FieldChange, ...]
    in_flight: int


@dataclass(frozen=True)
class TemplateChange:
    """A template the journey's nodes name, edited (or now another one): what its sends will say."""

    name: str
    fields: tuple[FieldChange, ...]
    nodes: tuple[str, ...]
    """The nodes that name it."""


@dataclass(frozen=True)
class JourneyChange:
    journey_id: str
    old_version: str
    new_version: str
    settings: tuple[FieldChange, ...]
    """Journey-level fields (entry, exits, goals, active window, ...)."""
    nodes_added: tuple[str, ...]
    nodes_removed: dict[str, int]
    """Removed node -> profiles on it now, who will leave with `node_removed`."""
    nodes_changed: tuple[NodeChange, ...]
    templates_changed: tuple[TemplateChange, ...]
    sql_diff: str
    in_flight: int
    """Profiles in this journey now."""

    @property
    def profiles_touched(self) -> int:
        return sum(self.nodes_removed.values()) + sum(n.in_flight for n in self.nodes_changed)


@dataclass(frozen=True)
class Plan:
    ran_since: datetime | None
    """The tick that first ran the set of versions compared against; None: the warehouse never ran."""
    added: tuple[str, ...]
    removed: dict[str, int]
    """Removed journey -> profiles in flight in it."""
    changed: tuple[JourneyChange, ...]
    unchanged: tuple[str, ...]
    not_compiled: dict[str, str]
    """Journeys of the directory the compiler skips (and why): no tick would run them."""
    note: str | None = None

    @property
    def has_changes(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def as_json(self) -> dict[str, Any]:
        return {
            "ran_since_tick": self.ran_since.isoformat() if self.ran_since else None,
            "has_changes": self.has_changes,
            "added": list(self.added),
            "removed": [{"journey_id": j, "in_flight": n} for j, n in self.removed.items()],
            "changed": [_change_json(c) for c in self.changed],
            "unchanged": list(self.unchanged),
            "not_compiled": self.not_compiled,
            "note": self.note,
        }


def compare(
    directory: dict[str, JourneyVersion],
    deployed: Deployed | None,
    in_flight: dict[tuple[str, str], int],
    not_compiled: dict[str, str],
) -> Plan:
    ran = deployed.journeys if deployed else {}
    changed, unchanged = [], []
    for journey_id in sorted(directory.keys() & ran.keys()):
        old, new = ran[journey_id], directory[journey_id]
        if (old.version, _model_body(old), old.templates) == (new.version, _model_body(new), new.templates):
            unchanged.append(journey_id)
        else:
            changed.append(_journey_change(old, new, in_flight))
    return Plan(
        ran_since=deployed.since_tick if deployed else None,
        added=tuple(sorted(directory.keys() - ran.keys())),
        removed={j: _journey_in_flight(j, in_flight) for j in sorted(ran.keys() - directory.keys())},
        changed=tuple(changed),
        unchanged=tuple(unchanged),
        not_compiled=dict(sorted(not_compiled.items())),
    )


def _journey_in_flight(journey_id: str, in_flight: dict[tuple[str, str], int]) -> int:
    return sum(n for (j, _), n in in_flight.items() if j == journey_id)


def _journey_change(
    old: JourneyVersion, new: JourneyVersion, in_flight: dict[tuple[str, str], int]
) -> JourneyChange:
    old_nodes, new_nodes = old.config.get(NODES, {}), new.config.get(NODES, {})
    node_ids = old_nodes.keys() | new_nodes.keys()
    changed = []
    for node_id in sorted(old_nodes.keys() & new_nodes.keys()):
        fields = _field_changes(old_nodes[node_id], new_nodes[node_id])
        if fields:
            kinds = sorted({_kind(f, node_ids) for f in fields})
            changed.append(
                NodeChange(node_id, tuple(kinds), fields, in_flight.get((new.journey_id, node_id), 0))
            )
    settings = _field_changes(
        {k: v for k, v in old.config.items() if k != NODES},
        {k: v for k, v in new.config.items() if k != NODES},
    )
    return JourneyChange(
        journey_id=new.journey_id,
        old_version=old.version,
        new_version=new.version,
        settings=settings,
        nodes_added=tuple(sorted(new_nodes.keys() - old_nodes.keys())),
        nodes_removed={
            n: in_flight.get((old.journey_id, n), 0) for n in sorted(old_nodes.keys() - new_nodes.keys())
        },
        nodes_changed=tuple(changed),
        templates_changed=_template_changes(old, new),
        sql_diff=_sql_diff(old, new),
        in_flight=_journey_in_flight(new.journey_id, in_flight),
    )


def _template_changes(old: JourneyVersion, new: JourneyVersion) -> tuple[TemplateChange, ...]:
    """Templates named by both versions whose text changed (a node naming another template is a node
    change already)."""
    users: dict[str, list[str]] = {}
    for node_id, node in new.config.get(NODES, {}).items():
        for path, value in config_leaves(node).items():
            if path.rsplit(".", 1)[-1] == TEMPLATE:
                users.setdefault(value, []).append(node_id)
    return tuple(
        TemplateChange(name, fields, tuple(sorted(users.get(name, []))))
        for name in sorted(old.templates.keys() & new.templates.keys())
        if (fields := _field_changes(old.templates[name], new.templates[name]))
    )


def _field_changes(old: dict[str, Any], new: dict[str, Any]) -> tuple[FieldChange, ...]:
    before, after = config_leaves(old), config_leaves(new)
    return tuple(
        FieldChange(path, before.get(path), after.get(path))
        for path in sorted(before.keys() | after.keys())
        if before.get(path) != after.get(path)
    )


def _kind(change: FieldChange, node_ids: set[str]) -> str:
    if change.path.rsplit(".", 1)[-1] == TEMPLATE:
        return TEMPLATE
    if any(isinstance(v, str) and v in node_ids for v in (change.old, change.new)):
        return EDGES
    return RULES


def _sql_diff(old: JourneyVersion, new: JourneyVersion) -> str:
    name = f"{model_name(new.journey_id)}.sql"
    lines = difflib.unified_diff(
        _model_body(old).splitlines(keepends=True),
        _model_body(new).splitlines(keepends=True),
        fromfile=f"{name} (ran, {old.version})",
        tofile=f"{name} (directory, {new.version})",
    )
    return "".join(lines)


def _model_body(journey: JourneyVersion) -> str:
    """The model without its generated header, which names the YAML file's path (another checkout of the
    same directory is not a change)."""
    return "".join(
        line for line in journey.model_sql.splitlines(keepends=True) if not line.startswith(_HEADER_START)
    )


def _change_json(change: JourneyChange) -> dict[str, Any]:
    return {
        "journey_id": change.journey_id,
        "old_version": change.old_version,
        "new_version": change.new_version,
        "in_flight": change.in_flight,
        "profiles_touched": change.profiles_touched,
        "settings": [_field_json(f) for f in change.settings],
        "nodes": {
            "added": list(change.nodes_added),
            "removed": [
                {"node_id": n, "in_flight": count, "will_leave_with": "node_removed"}
                for n, count in change.nodes_removed.items()
            ],
            "changed": [
                {
                    "node_id": n.node_id,
                    "kinds": list(n.kinds),
                    "in_flight": n.in_flight,
                    "fields": [_field_json(f) for f in n.fields],
                }
                for n in change.nodes_changed
            ],
        },
        "templates_changed": [
            {"template": t.name, "nodes": list(t.nodes), "fields": [_field_json(f) for f in t.fields]}
            for t in change.templates_changed
        ],
        "sql_diff": change.sql_diff,
    }


def _field_json(change: FieldChange) -> dict[str, Any]:
    return {"path": change.path, "old": change.old, "new": change.new}
