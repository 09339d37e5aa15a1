"""`ab_split`: a deterministic bucket of the entry (spec §2's hash) picks the branch; the branch is the
path's A/B group from here on."""

from __future__ import annotations

from sqlglot import exp

from journey_compiler.config import journey as cfg
from journey_compiler.ir import Step
from journey_compiler.sqlgen.ast import col, lit
from journey_compiler.sqlgen.ids import BUCKETS, bucket
from journey_compiler.sqlgen.tick.builder import TickSql
from journey_compiler.sqlgen.tick.paths import Answer, instant


def answer(tick: TickSql, step: Step) -> Answer:
    branches = step.node_as(cfg.AbSplitNode).ab_split
    slot = bucket(lit(tick.plan.id), col("entry_id"), lit(step.id))
    ifs, upper = [], 0.0
    for branch in branches[:-1]:
        upper += branch.percent
        ifs.append(
            exp.If(
                this=exp.LT(this=slot.copy(), expression=lit(round(upper * BUCKETS / 100))),
                true=lit(branch.group),
            )
        )
    choice = exp.Case(ifs=ifs, default=lit(branches[-1].group))
    return Answer(instant(f"at_{step.id}", choice), ab_group=col("branch"))
