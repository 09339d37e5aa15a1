"""`add_tag` / `remove_tag`: a tag record as the path leaves the node (segments see it from the next tick),
with its hop on the path: of two writes at one logical time the later hop stands (docs/semantics.md)."""

from __future__ import annotations

from journey_compiler.config import journey as cfg
from journey_compiler.ir import Step
from journey_compiler.sqlgen.ast import aliased, col, lit
from journey_compiler.sqlgen.tick.builder import TickSql
from journey_compiler.sqlgen.tick.paths import Answer, instant, left_node


def add_tag(tick: TickSql, step: Step) -> Answer:
    return _tagging(tick, step, step.node_as(cfg.AddTagNode).add_tag, removed=False)


def remove_tag(tick: TickSql, step: Step) -> Answer:
    return _tagging(tick, step, step.node_as(cfg.RemoveTagNode).remove_tag, removed=True)


def _tagging(tick: TickSql, step: Step, tag: str, removed: bool) -> Answer:
    tick.record(
        aliased(f"out_{step.id}", "o"),
        left_node(),
        {
            "record": lit("tag"),
            "logical_at": col("left_at", "o"),
            "entry_id": col("entry_id", "o"),
            "path_id": col("path_id", "o"),
            "profile_id": col("profile_id", "o"),
            "node_id": lit(step.id),
            "tag": lit(tag),
            "removed": lit(removed),
            "hop": lit(tick.plan.steps.index(step)),
        },
    )
    return Answer(instant(f"at_{step.id}", lit("next")))
