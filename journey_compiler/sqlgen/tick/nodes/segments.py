"""`segment_check` / `segment_split`: is the profile in the segment(s) the moment it arrives?"""

from __future__ import annotations

from sqlglot import exp

from journey_compiler.config import journey as cfg
from journey_compiler.config.rules import Rule
from journey_compiler.ir import Step
from journey_compiler.sqlgen.ast import col, lit
from journey_compiler.sqlgen.tick.builder import TickSql
from journey_compiler.sqlgen.tick.paths import Answer, instant


def segment_check(tick: TickSql, step: Step) -> Answer:
    member = _member(tick, step, step.node_as(cfg.SegmentCheckNode).segment_check)
    return Answer(
        instant(f"at_{step.id}", exp.Case(ifs=[exp.If(this=member, true=lit("then"))], default=lit("else")))
    )


def segment_split(tick: TickSql, step: Step) -> Answer:
    """The first matching branch wins; no match takes `else`."""
    spec = step.node_as(cfg.SegmentSplitNode).segment_split
    ifs = [
        exp.If(this=_member(tick, step, rule), true=lit(f"branch_{i + 1}"))
        for i, rule in enumerate(spec.branches)
    ]
    return Answer(instant(f"at_{step.id}", exp.Case(ifs=ifs, default=lit("else"))))


def _member(tick: TickSql, step: Step, rule: Rule) -> exp.Expression:
    """Columns qualified: the predicate is a correlated subquery, where a bare `profile_id` would bind to
    the inner table."""
    at = f"at_{step.id}"
    asked = tick.segments.on_path(col("entry_at", at))
    return asked.predicate(rule, col("profile_id", at), col("arrived_at", at))
