"""Journey plan -> the SQL of one tick, as a sqlglot AST (skeleton.py assembles it; one module per part)."""

from journey_compiler.sqlgen.tick.skeleton import tick_query

__all__ = ["tick_query"]
