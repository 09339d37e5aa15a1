"""One handler per node kind, keyed by the config node type: the only list of what the tick executes.

A handler gets the builder and the step (its arrivals are the CTE `at_<node>`) and answers with the
`step_<node>` query (paths.Answer); it may add CTEs and records of its own (messages, tags, notices).
"""

from __future__ import annotations

from collections.abc import Callable

from journey_compiler.config import journey as cfg
from journey_compiler.errors import NotCompilable
from journey_compiler.ir import JourneyPlan, Step
from journey_compiler.sqlgen.tick.builder import TickSql
from journey_compiler.sqlgen.tick.nodes import (
    ab_race,
    ab_split,
    event_race,
    message_status,
    segments,
    send,
    tags,
    wait,
)
from journey_compiler.sqlgen.tick.nodes import exit as exit_node
from journey_compiler.sqlgen.tick.paths import Answer

Handler = Callable[[TickSql, Step], Answer]

HANDLERS: dict[type, Handler] = {
    cfg.SendNode: send.answer,
    cfg.AddTagNode: tags.add_tag,
    cfg.RemoveTagNode: tags.remove_tag,
    cfg.ExitNode: exit_node.answer,
    cfg.WaitNode: wait.answer,
    cfg.WaitForEventNode: event_race.wait_for_event,
    cfg.EventCheckNode: event_race.event_check,
    cfg.EventSplitNode: event_race.event_split,
    cfg.MessageStatusNode: message_status.answer,
    cfg.SegmentCheckNode: segments.segment_check,
    cfg.SegmentSplitNode: segments.segment_split,
    cfg.AbSplitNode: ab_split.answer,
    cfg.AbRaceNode: ab_race.answer,
}


def handler_for(plan: JourneyPlan, step: Step) -> Handler:
    """The node kind's handler; a kind without one is refused, never silently skipped."""
    handler = HANDLERS.get(type(step.node))
    if handler is None:
        raise NotCompilable(plan.id, f"node {step.id!r}: node kind `{step.kind}`")
    return handler
