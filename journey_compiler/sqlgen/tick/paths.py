"""The row every node CTE carries for a path (one entry of one profile), and what node handlers answer."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from journey_compiler.sqlgen.ast import col

EXIT_BRANCH = "exit:"
"""A step whose branch starts with this ends the path there (an `exit` node, a missed `until`)."""
PATH_COLUMNS = (
    "entry_id",
    "path_id",
    "profile_id",
    "entry_at",
    "trigger_event_id",
    "ab_group",
    "exit_at",
    "exit_cause",
    "arrived_at",
    "carried",
)
"""`path_id`: the entry's id, or a fork's made at an `all_matches` split (docs/semantics.md). `exit_cause`:
why it leaves at `exit_at` (`exit_when`, `goal`, `stopped`). `carried`: the path was waiting at the node
before this tick (it arrived in an earlier one)."""
LIVE_COLUMNS = (*PATH_COLUMNS[:6], "node_id", "arrived_at", "carried")
"""Every path that may move in this tick: waiting ones from state and the new entries, at their node."""


@dataclass(frozen=True)
class Answer:
    """A node handler's `step_<n>` query: the path columns plus `due_at` (when the node's answer is known,
    NULL while it is not) and `branch`; and the A/B group the path carries on from here."""

    query: exp.Select
    ab_group: exp.Expression = field(default_factory=lambda: col("ab_group"))
    forks: bool = False
    """The query has a column `forked`: the rows of an `all_matches` split's forks, which exist only as they
    leave (a path that stays or exits at the split stays or exits once, and forks when it leaves)."""


def instant(source: str, branch: exp.Expression) -> exp.Select:
    """The answer of a node that decides the moment a path arrives."""
    return exp.select("*", exp.alias_(col("arrived_at"), "due_at"), exp.alias_(branch, "branch")).from_(
        source
    )


def left_node() -> exp.Expression:
    """Rows of an `out_` CTE (aliased `o`) that left the node normally: where its action happens."""
    return exp.EQ(this=col("outcome", "o"), expression=exp.Literal.string("leave"))
