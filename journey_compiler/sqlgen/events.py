"""Which events match a resolved event condition: the one filter used by triggers, waits, exits, goals and
metrics alike."""

from __future__ import annotations

from sqlglot import exp

from journey_compiler.expressions import compile_filter, json_columns
from journey_compiler.ir import EventMatch
from journey_compiler.sqlgen.ast import col, lit


def event_filter(match: EventMatch, alias: str = "e") -> exp.Expression:
    """Rows of events aliased `alias` with one of the condition's names and, if it has one, its `where`."""
    names = exp.In(this=col("event_name", alias), expressions=[lit(n) for n in match.names])
    if match.where is None:
        return names
    columns = json_columns(col("properties", alias), match.properties)
    return exp.and_(names, compile_filter(match.where, columns))
