"""The one row shape every journey history appends each tick.

A history holds several kinds of record (`position`, `transition`, `send`, `tag`, `goal`) in one append-only
table, so a tick is a single insert per journey and the spec's output tables are plain views over it.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlglot import exp

from journey_compiler.sqlgen.ast import col
from journey_compiler.warehouse.tables import Columns, column_type

RECORD_COLUMNS: Columns = {
    "record": "text",
    "tick_at": "timestamp",
    "logical_at": "timestamp",
    "journey_id": "text",
    "version": "text",
    "entry_id": "text",
    "profile_id": "text",
    "entry_at": "timestamp",
    "trigger_event_id": "text",
    "ab_group": "text",
    "node_id": "text",
    "from_node": "text",
    "branch": "text",
    "reason": "text",
    "status": "text",
    "message_id": "text",
    "recipient_id": "text",
    "channel": "text",
    "template": "text",
    "payload": "text",
    "priority": "integer",
    "not_before": "timestamp",
    "cap_exempt": "boolean",
    "tag": "text",
    "removed": "boolean",
    "goal_id": "text",
    "hop": "integer",
    "path_id": "text",
}
"""`hop` (tag records): the node's place in the journey's topological order, which is the order a path
visits its nodes (the graph is acyclic): of two writes on one path at one logical time, the later hop stands.
`path_id`: the path of the entry the record is about (the entry's id, or a fork's at an `all_matches`
split; docs/semantics.md). Both last, so that a history from before them gains them at the end
(`on_schema_change='append_new_columns'`); there a NULL path is the entry's (`path_of`)."""


def record_select(values: Mapping[str, exp.Expression], typed_nulls: bool = True) -> list[exp.Expression]:
    """The projection of one record kind: every column in order, typed, NULL where the kind has no value.
    In a union after a first, fully typed branch the NULLs need no type (`typed_nulls=False`)."""
    unknown = set(values) - set(RECORD_COLUMNS)
    assert not unknown, f"not record columns: {unknown}"
    return [
        exp.alias_(exp.cast(values[name], column_type(kind)), name)
        if name in values
        else exp.alias_(exp.cast(exp.null(), column_type(kind)) if typed_nulls else exp.null(), name)
        for name, kind in RECORD_COLUMNS.items()
    ]


def empty_records() -> exp.Select:
    """A typed, empty history: what a journey reads before its first tick."""
    return exp.select(*record_select({})).where(exp.false())


OPEN_PATH_COLUMNS: Columns = {
    **{name: RECORD_COLUMNS[name] for name in ("tick_at", "version", "entry_id", "profile_id", "entry_at")},
    **{name: RECORD_COLUMNS[name] for name in ("trigger_event_id", "ab_group", "node_id")},
    "arrived_at": "timestamp",
    "path_id": "text",
}
"""A journey's open paths as a tick left them: where each waits, since when (its logical arrival)."""


def path_of(table: str | None = None) -> exp.Expression:
    """A record's or an open path's path id: NULL in the rows written before paths had ids (one a path)."""
    return exp.func("COALESCE", col("path_id", table), col("entry_id", table))


def empty_open_paths() -> exp.Select:
    """The typed, empty snapshot a journey reads before its first tick."""
    columns = [
        exp.alias_(exp.cast(exp.null(), column_type(kind)), name) for name, kind in OPEN_PATH_COLUMNS.items()
    ]
    return exp.select(*columns).where(exp.false())
