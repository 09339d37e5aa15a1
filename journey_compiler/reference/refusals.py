"""What the compiler does not execute yet, so the reference does not run it either.

README: "The compiler refuses, with a note, any feature it does not execute yet: today `segment` triggers,
`segment_split` with `all_matches`, `left_segment`, `exit_on_goal`." The compiler also refuses
`exit_when` rules other than `did`, and outcome branches on a send to `pick: all` subjects (several
messages, one path); the same journeys are skipped here, with a note of the same kind.
"""

from __future__ import annotations

from collections.abc import Iterator

from journey_compiler.config import journey as j
from journey_compiler.config.project import Project
from journey_compiler.config.rules import Rule


def refusal(journey: j.Journey, project: Project) -> str | None:
    """The first feature of the journey that is not executed, or None when all of it is."""
    return next(_refusals(journey, project), None)


def _refusals(journey: j.Journey, project: Project) -> Iterator[str]:
    entry = journey.entry
    if entry.segment is not None:
        yield "trigger `segment`"
    if entry.audience is not None and (found := _rule_refusal(entry.audience, project)):
        yield f"audience: {found}"
    for rule in journey.exit_when:
        if rule.did is None:
            yield f"exit_when `{rule.kind}`"
    if journey.exit_on_goal:
        yield "exit_on_goal"
    for node_id, node in journey.nodes.items():
        for found in _node_refusals(node, project):
            yield f"node {node_id!r}: {found}"


def _node_refusals(node: object, project: Project) -> Iterator[str]:
    match node:
        case j.SegmentSplitNode(segment_split=spec):
            if spec.mode == "all_matches":
                yield "segment_split mode all_matches"
            for branch in spec.branches:
                if found := _rule_refusal(branch, project):
                    yield found
        case j.SegmentCheckNode(segment_check=rule):
            if found := _rule_refusal(rule, project):
                yield found
        case j.SendNode(send=send) as sender:
            outcomes = (sender.on_sent, sender.on_failed, sender.on_suppressed)
            if send.subject is not None and send.subject.pick == "all" and any(outcomes):
                yield "send outcome branches with `subject: {pick: all}` (several messages, one path)"
            for name in (send.blacklist, send.cap_whitelist):
                if name and (found := _rule_refusal(Rule(segment=name), project)):
                    yield found


def _rule_refusal(rule: Rule, project: Project) -> str | None:
    if rule.kind == "left_segment":
        return "segment rule `left_segment`"
    children = [*(rule.all or []), *(rule.any or []), *([rule.not_] if rule.not_ else [])]
    if rule.segment is not None:
        children.append(project.segments[rule.segment].rule)
    return next((found for child in children if (found := _rule_refusal(child, project))), None)
