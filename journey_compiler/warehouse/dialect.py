"""One AST, each engine's SQL: the targets we run on and the rewrites sqlglot's transpiler does not make.

A dbt target name is also the sqlglot dialect its SQL is written in, so `--target spark` renders every
generated model and every runtime statement with `to_sql(..., "spark")`.
"""

from __future__ import annotations

from sqlglot import exp

from journey_compiler.sqlgen.ids import hex_number_for

DUCKDB, SPARK = "duckdb", "spark"
TARGETS = (DUCKDB, SPARK)


def for_dialect(dialect: str, expression: exp.Expression) -> exp.Expression:
    """The expression with our portable nodes in the dialect's form (a copy; the input is left alone).

    Spark has no JSON column type: JSON documents are STRINGs there, read with the same JSON functions."""

    def rewrite(node: exp.Expression) -> exp.Expression:
        if dialect == SPARK and isinstance(node, exp.DataType) and node.is_type(exp.DataType.Type.JSON):
            return exp.DataType.build("STRING", dialect=SPARK)
        return hex_number_for(dialect, node)

    return expression.transform(rewrite)


def to_sql(expression: exp.Expression, dialect: str, *, pretty: bool = False) -> str:
    return for_dialect(dialect, expression).sql(dialect=dialect, pretty=pretty)
