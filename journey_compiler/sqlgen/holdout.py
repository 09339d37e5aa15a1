"""A journey's holdout: which entries it keeps out of every send, from the A/B hash (spec section 2's one
deterministic bucket), so that the tick and the marts agree on every engine.

The key is `md5(journey:entry:@holdout)`: no node id contains `@`, so the holdout's bucket never equals an
`ab_split`'s (`md5(journey:entry:node)`) and the two assignments stay independent.
"""

from __future__ import annotations

from sqlglot import exp

from journey_compiler.sqlgen.ast import lit
from journey_compiler.sqlgen.ids import BUCKETS, bucket

HOLDOUT_KEY = "@holdout"
HOLDOUT_NODE = "(holdout)"
"""The marts' node id of a journey's holdout (not a valid node id, so it cannot clash with one)."""
HELD_OUT, MESSAGED = "holdout", "messaged"
"""The holdout's two variants; the held-out group comes first, as the control of the comparison."""


def held_out(journey_id: str, percent: float, entry_id: exp.Expression) -> exp.Expression:
    """Whether the entry is in the journey's holdout: its bucket below `percent` % of the buckets."""
    slot = bucket(lit(journey_id), entry_id, lit(HOLDOUT_KEY))
    return exp.LT(this=slot, expression=lit(round(percent * BUCKETS / 100)))
