"""Deterministic ids and A/B buckets: the same inputs give the same values on every engine and re-run."""

from __future__ import annotations

from sqlglot import exp

from journey_compiler.warehouse.dialect import HEX_NUMBER

BUCKETS = 10_000  # A/B percentages resolve to 0.01 %


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
