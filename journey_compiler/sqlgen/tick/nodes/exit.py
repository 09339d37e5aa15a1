"""`exit`: the path ends here, with the node's reason (default `exit_node`)."""

from __future__ import annotations

from journey_compiler.config import journey as cfg
from journey_compiler.ir import Step
from journey_compiler.sqlgen.ast import lit
from journey_compiler.sqlgen.tick.builder import TickSql
from journey_compiler.sqlgen.tick.paths import EXIT_BRANCH, Answer, instant


def answer(tick: TickSql, step: Step) -> Answer:
    spec = step.node_as(cfg.ExitNode).exit
    reason = spec.reason if isinstance(spec, cfg.ExitSpec) else "exit_node"
    return Answer(instant(f"at_{step.id}", lit(f"{EXIT_BRANCH}{reason}")))
