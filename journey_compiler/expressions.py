"""The filter expression language (`where:`): parsed with sqlglot, checked against an allow-list and the
declared catalog, then compiled by replacing each bare name with a typed column expression.

>>> compile_filter("value >= 50", {"value": exp.column("v")}).sql()
'v >= 50'
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from journey_compiler.config.warehouse import ColumnType
from journey_compiler.warehouse.tables import column_type

_ALLOWED: tuple[type[exp.Expression], ...] = (
    exp.Column,
    exp.Identifier,
    exp.Literal,
    exp.Boolean,
    exp.Null,
    exp.Paren,
    exp.Tuple,
    exp.EQ,
    exp.NEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.And,
    exp.Or,
    exp.Not,
    exp.In,
    exp.Like,
    exp.ILike,
    exp.Is,
    exp.Between,
    exp.Add,
    exp.Sub,
    exp.Mul,
    exp.Div,
    exp.Mod,
    exp.Neg,
    exp.DPipe,
    exp.Lower,
    exp.Upper,
    exp.Coalesce,
    exp.Abs,
    exp.Length,
    exp.Trim,
    exp.Round,
)


def parse_filter(text: str) -> exp.Expression:
    """Parse and allow-list a filter; raises ValueError with the offending construct."""
    try:
        tree = sqlglot.parse_one(text)
    except ParseError as err:
        detail = err.errors[0]["description"] if err.errors else err
        raise ValueError(f"cannot parse filter {text!r}: {detail}") from None
    if tree is None:
        raise ValueError("empty filter")
    for node in tree.walk():
        if not isinstance(node, _ALLOWED):
            raise ValueError(f"{node.sql()!r} is not allowed in a filter ({type(node).__name__})")
        if isinstance(node, exp.Column) and node.table:
            raise ValueError(f"{node.sql()!r}: name columns without a table prefix")
    return tree


def filter_names(text: str) -> set[str]:
    return {col.name for col in parse_filter(text).find_all(exp.Column)}


def check_filter(text: str, declared: Mapping[str, object], what: str) -> None:
    """Raise ValueError unless the filter is allowed and names only declared columns."""
    unknown = sorted(filter_names(text) - set(declared))
    if unknown:
        known = ", ".join(sorted(declared)) or "none"
        raise ValueError(
            f"unknown column {', '.join(map(repr, unknown))} in filter (declared for {what}: {known})"
        )


def compile_filter(text: str, columns: Mapping[str, exp.Expression]) -> exp.Expression:
    """Replace every bare name by its column expression; values stay literals in the AST."""

    def replace(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column):
            return columns[node.name].copy()
        return node

    return exp.paren(parse_filter(text).transform(replace), copy=False)


def json_field(document: exp.Expression, key: str, kind: ColumnType) -> exp.Expression:
    """A typed scalar from a JSON column: the one way attributes and event properties are read."""
    path = exp.JSONPath(expressions=[exp.JSONPathRoot(), exp.JSONPathKey(this=key)])
    value = exp.JSONExtractScalar(this=document.copy(), expression=path)
    return value if kind == "text" else exp.TryCast(this=value, to=column_type(kind))


def json_columns(document: exp.Expression, declared: Mapping[str, ColumnType]) -> dict[str, exp.Expression]:
    return {name: json_field(document, name, kind) for name, kind in declared.items()}
