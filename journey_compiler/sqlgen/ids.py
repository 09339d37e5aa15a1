"""Deterministic ids and A/B buckets: the same inputs give the same values on every engine and re-run."""

from __future__ import annotations

from sqlglot import exp

BUCKETS = 10_000  # A/B percentages resolve to 0.01 %


HEX_NUMBER = "JOURNEYS_HEX_NUMBER"
"""A placeholder function: the integer a string of hex digits spells. No SQL function does that on every
engine, so it is written in each target's form when the query is rendered (`hex_number_for`)."""


def stable_id(*parts: exp.Expression) -> exp.Expression:
    """md5 over the parts joined with ':' (entry ids, message ids)."""
    joined = parts[0]
    for part in parts[1:]:
        joined = exp.DPipe(this=exp.DPipe(this=joined, expression=exp.Literal.string(":")), expression=part)
    return exp.MD5(this=joined)


def bucket(*parts: exp.Expression) -> exp.Expression:
    """An integer in [0, BUCKETS) from the first 8 hex digits of md5(parts), identical on every engine."""
    prefix = exp.Substring(this=stable_id(*parts), start=exp.Literal.number(1), length=exp.Literal.number(8))
    return exp.Mod(
        this=exp.cast(exp.Anonymous(this=HEX_NUMBER, expressions=[prefix]), "BIGINT"),
        expression=exp.Literal.number(BUCKETS),
    )


def hex_number_for(dialect: str, node: exp.Expression) -> exp.Expression:
    """`node` with HEX_NUMBER written in the dialect's SQL: DuckDB casts a '0x' literal, Spark has CONV."""
    if not (isinstance(node, exp.Anonymous) and node.name == HEX_NUMBER):
        return node
    (digits,) = node.expressions
    if dialect == "spark":
        return exp.func("CONV", digits, exp.Literal.number(16), exp.Literal.number(10))
    return exp.DPipe(this=exp.Literal.string("0x"), expression=digits)
