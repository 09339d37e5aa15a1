"""What the compiler does not execute yet, so the reference does not run it either.

README: "The compiler refuses, with a note, any feature it does not execute yet: today `segment_split` with
`all_matches`." The same journeys are skipped here, with a note of the same kind.
"""

from __future__ import annotations

from collections.abc import Iterator

from journey_compiler.config import journey as j
from journey_compiler.config.project import Project


def refusal(journey: j.Journey, project: Project) -> str | None:
    """The first feature of the journey that is not executed, or None when all of it is."""
    return next(_refusals(journey, project), None)


def _refusals(journey: j.Journey, project: Project) -> Iterator[str]:
    for node_id, node in journey.nodes.items():
        if isinstance(node, j.SegmentSplitNode) and node.segment_split.mode == "all_matches":
            yield f"node {node_id!r}: segment_split mode all_matches"
