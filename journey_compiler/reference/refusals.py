"""What the compiler does not execute yet, so the reference does not run it either.

README: "The compiler refuses, with a note, any feature it does not execute yet": `left_segment` where no
path has entered, and outcome branches on a send to `pick: all` subjects (several messages, one path); the
same journeys are skipped here, with a note of the same kind.
"""

from __future__ import annotations

from collections.abc import Iterator

from journey_compiler.config import journey as j
from journey_compiler.config.project import Project
from journey_compiler.config.rules import Rule, rule_parts


def refusal(journey: j.Journey, project: Project) -> str | None:
    """The first feature of the journey that is not executed, or None when all of it is."""
    return next(_refusals(journey, project), None)


def _refusals(journey: j.Journey, project: Project) -> Iterator[str]:
    entry = journey.entry
    if entry.segment is not None and (found := _rule_refusal(Rule(segment=entry.segment), project)):
        yield f"trigger `segment`: {found}"
    if entry.audience is not None and (found := _rule_refusal(entry.audience, project)):
        yield f"audience: {found}"
    for node_id, node in journey.nodes.items():
        for found in _node_refusals(node, project):
            yield f"node {node_id!r}: {found}"


def _node_refusals(node: object, project: Project) -> Iterator[str]:
    match node:
        case j.SendNode(send=send) as sender:
            outcomes = (sender.on_sent, sender.on_failed, sender.on_suppressed)
            if send.subject is not None and send.subject.pick == "all" and any(outcomes):
                yield "send outcome branches with `subject: {pick: all}` (several messages, one path)"
            for name in (send.blacklist, send.cap_whitelist):
                if name and (found := _rule_refusal(Rule(segment=name), project)):
                    yield found


def _rule_refusal(rule: Rule, project: Project) -> str | None:
    """`left_segment` compares with a path's entry: not where no path has entered (an audience, a send's
    blacklist or whitelist)."""
    segments = {name: segment.rule for name, segment in project.segments.items()}
    if any(part.left_segment is not None for part in rule_parts(rule, segments)):
        return "segment rule `left_segment` where no path has entered (it compares with the entry)"
    return None
