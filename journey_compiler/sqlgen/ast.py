"""Small sqlglot AST builders shared by every part of the generator (the one place they are written)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlglot import exp

from journey_compiler.warehouse.dialect import JSON_DOCUMENT


def lit(value: str | int | float | bool | None) -> exp.Expression:
    if value is None:
        return exp.null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, str):
        return exp.Literal.string(value)
    return exp.Literal.number(value)


def ts(value: datetime) -> exp.Expression:
    return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), "TIMESTAMP")


def plus(time: exp.Expression, delta: timedelta) -> exp.Expression:
    """`time + INTERVAL n unit` in the largest unit that divides the duration (readable SQL)."""
    seconds = int(delta.total_seconds())
    amount, unit = next(
        (seconds // s, u)
        for s, u in ((86400, "DAY"), (3600, "HOUR"), (60, "MINUTE"), (1, "SECOND"))
        if seconds % s == 0
    )
    return exp.Add(this=time, expression=exp.Interval(this=exp.Literal.number(amount), unit=exp.var(unit)))


def col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table)


def aliased(table: str | exp.Expression, alias: str) -> exp.Expression:
    return exp.alias_(exp.to_table(table) if isinstance(table, str) else table, alias, table=True)


def is_null(value: exp.Expression) -> exp.Expression:
    return exp.Is(this=value, expression=exp.null())


def not_null(value: exp.Expression) -> exp.Expression:
    return exp.not_(is_null(value))


def eq(left: exp.Expression, right: exp.Expression | str | int | bool) -> exp.Expression:
    return exp.EQ(this=left, expression=right if isinstance(right, exp.Expression) else lit(right))


def union_all(queries: Sequence[exp.Query]) -> exp.Query:
    """The rows of every query, in order (UNION ALL)."""
    result = queries[0]
    for other in queries[1:]:
        # no copy: the union owns its parts, and copying the growing union each time is quadratic
        result = exp.union(result, other, distinct=False, copy=False)
    return result


def earliest(values: Sequence[exp.Expression]) -> exp.Expression:
    """The least of several times (NULLs ignored), without a one-argument LEAST."""
    return exp.func("LEAST", *values) if len(values) > 1 else values[0]


def json_object(pairs: dict[str, exp.Expression]) -> exp.Expression:
    """A JSON object with these keys, in order (message payloads)."""
    return exp.JSONObject(expressions=[exp.JSONKeyValue(this=lit(k), expression=v) for k, v in pairs.items()])


def json_document(value: exp.Expression) -> exp.Expression:
    """A JSON document column as a value of `json_object`: nested, on every engine (warehouse/dialect.py)."""
    return exp.Anonymous(this=JSON_DOCUMENT, expressions=[value])
