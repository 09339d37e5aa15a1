"""One AST, each engine's SQL: the targets we run on and the rewrites sqlglot's transpiler does not make.

A dbt target name is also the sqlglot dialect its SQL is written in, so `--target spark` renders every
generated model and every runtime statement with `to_sql(..., "spark")`.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

DUCKDB, SPARK = "duckdb", "spark"
TARGETS = (DUCKDB, SPARK)

HEX_NUMBER = "JOURNEYS_HEX_NUMBER"
"""A placeholder function: the integer a string of hex digits spells (the A/B buckets, sqlgen/ids.py). No SQL
function does that on every engine, so it is written in each target's form when the query is rendered."""
JSON_DOCUMENT = "JOURNEYS_JSON_DOCUMENT"
"""A placeholder around a column that holds a JSON document (profile attributes, event properties) where it is
a value of a JSON object: DuckDB's JSON type nests it as it is; Spark keeps documents as STRINGs, so there it
is parsed (PARSE_JSON) to nest rather than be quoted."""
SPARK_JSON_OPTIONS = {"ignoreNullFields": "false", "timestampNTZFormat": "yyyy-MM-dd HH:mm:ss"}
"""How Spark's TO_JSON writes what DuckDB's JSON_OBJECT writes: null members kept, timestamps as DuckDB
prints them (to the second: the times of a journey are)."""


def for_dialect(dialect: str, expression: exp.Expression, *, copy: bool = True) -> exp.Expression:
    """The expression with our portable nodes in the dialect's form (a copy, the input left alone, unless
    `copy=False`: for an expression nothing else holds, a copy of a whole model costs a tenth of a second).

    Spark has no JSON column type: JSON documents are STRINGs there, read with the same JSON functions."""

    def rewrite(node: exp.Expression) -> exp.Expression:
        if _is(node, JSON_DOCUMENT):
            (document,) = node.expressions
            return exp.Anonymous(this="PARSE_JSON", expressions=[document]) if dialect == SPARK else document
        if dialect == SPARK and isinstance(node, exp.DataType) and node.is_type(exp.DataType.Type.JSON):
            return exp.DataType.build("STRING", dialect=SPARK)
        if dialect == SPARK and isinstance(node, exp.JSONObject):
            options = [exp.Literal.string(v) for pair in SPARK_JSON_OPTIONS.items() for v in pair]
            return exp.func("TO_JSON", _struct(node, rewrite), exp.Anonymous(this="MAP", expressions=options))
        if dialect == SPARK and isinstance(node, exp.DayOfWeekIso):
            # sqlglot writes Spark's ISO weekday as DAYOFWEEK % 7 + 1, which is off by one day
            return exp.Extract(this=exp.var("DAYOFWEEK_ISO"), expression=rewrite(node.this))
        return _hex_number_for(dialect, node)

    return expression.transform(rewrite, copy=copy)


def _struct(node: exp.JSONObject, rewrite: Callable[[exp.Expression], exp.Expression]) -> exp.Expression:
    """A JSON object as Spark's NAMED_STRUCT, its values rewritten and the objects inside it structs too (one
    TO_JSON at the top nests them, where a TO_JSON each would quote them as strings)."""

    def value(inner: exp.Expression) -> exp.Expression:
        return _struct(inner, rewrite) if isinstance(inner, exp.JSONObject) else rewrite(inner)

    members = [(pair.this, pair.expression.transform(value, copy=False)) for pair in node.expressions]
    return exp.func("NAMED_STRUCT", *(part for member in members for part in member))


def _is(node: exp.Expression, placeholder: str) -> bool:
    return isinstance(node, exp.Anonymous) and node.name == placeholder


def _hex_number_for(dialect: str, node: exp.Expression) -> exp.Expression:
    """`node` with HEX_NUMBER written in the dialect's SQL: DuckDB casts a '0x' literal, Spark has CONV."""
    if not _is(node, HEX_NUMBER):
        return node
    (digits,) = node.expressions
    if dialect == SPARK:
        return exp.func("CONV", digits, exp.Literal.number(16), exp.Literal.number(10))
    return exp.DPipe(this=exp.Literal.string("0x"), expression=digits)


def to_sql(expression: exp.Expression, dialect: str, *, pretty: bool = False) -> str:
    return for_dialect(dialect, expression).sql(dialect=dialect, pretty=pretty, copy=False)  # a copy already
