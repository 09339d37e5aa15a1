"""Deterministic ids and A/B buckets: the same inputs give the same values on every engine and re-run."""

from __future__ import annotations

from sqlglot import exp

BUCKETS = 10_000  # A/B percentages resolve to 0.01 %


def stable_id(*parts: exp.Expression) -> exp.Expression:
    """md5 over the parts joined with ':' (entry ids, message ids)."""
    joined = parts[0]
    for part in parts[1:]:
        joined = exp.DPipe(this=exp.DPipe(this=joined, expression=exp.Literal.string(":")), expression=part)
    return exp.MD5(this=joined)


def bucket(*parts: exp.Expression, dialect: str = "duckdb") -> exp.Expression:
    """An integer in [0, BUCKETS) from the first 8 hex digits of md5(parts), identical on every engine."""
    prefix = exp.Substring(this=stable_id(*parts), start=exp.Literal.number(1), length=exp.Literal.number(8))
    if dialect == "spark":
        number = exp.func("CONV", prefix, exp.Literal.number(16), exp.Literal.number(10))
    else:
        number = exp.DPipe(this=exp.Literal.string("0x"), expression=prefix)
    return exp.Mod(this=exp.cast(number, "BIGINT"), expression=exp.Literal.number(BUCKETS))
