"""One AST, each engine's SQL: the targets we run on and the rewrites sqlglot's transpiler does not make.

A dbt target name is also the sqlglot dialect its SQL is written in, so `--target spark` renders every
generated model and every runtime statement with `to_sql(..., "spark")`.
"""

from __future__ import annotations

from sqlglot import exp

DUCKDB, SPARK = "duckdb", "spark"
TARGETS = (DUCKDB, SPARK)

HEX_NUMBER = "JOURNEYS_HEX_NUMBER"
"""A placeholder function: the integer a string of hex digits spells (the A/B buckets, sqlgen/ids.py). No SQL
function does that on every engine, so it is written in each target's form when the query is rendered."""


def for_dialect(dialect: str, expression: exp.Expression, *, copy: bool = True) -> exp.Expression:
    """The expression with our portable nodes in the dialect's form (a copy, the input left alone, unless
    `copy=False`: for an expression nothing else holds, a copy of a whole model costs a tenth of a second).

    Spark has no JSON column type: JSON documents are STRINGs there, read with the same JSON functions."""

    def rewrite(node: exp.Expression) -> exp.Expression:
        if dialect == SPARK and isinstance(node, exp.DataType) and node.is_type(exp.DataType.Type.JSON):
            return exp.DataType.build("STRING", dialect=SPARK)
        return _hex_number_for(dialect, node)

    return expression.transform(rewrite, copy=copy)


def _hex_number_for(dialect: str, node: exp.Expression) -> exp.Expression:
    """`node` with HEX_NUMBER written in the dialect's SQL: DuckDB casts a '0x' literal, Spark has CONV."""
    if not (isinstance(node, exp.Anonymous) and node.name == HEX_NUMBER):
        return node
    (digits,) = node.expressions
    if dialect == SPARK:
        return exp.func("CONV", digits, exp.Literal.number(16), exp.Literal.number(10))
    return exp.DPipe(this=exp.Literal.string("0x"), expression=digits)


def to_sql(expression: exp.Expression, dialect: str, *, pretty: bool = False) -> str:
    return for_dialect(dialect, expression).sql(dialect=dialect, pretty=pretty, copy=False)  # a copy already
